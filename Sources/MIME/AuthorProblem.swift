/// Why a From (or Sender) field does not name exactly one author a reader can trust
/// to be the one a signature speaks for (RFC 5322 §3.4, §3.6.2).
public enum AuthorProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case missing
    case severalFields(Int)
    case severalMailboxes(Int)
    /// "Board: alice@example.com;" — a group hides who the author is.
    case group
    /// "<@relay.example:alice@example.com>" — obsolete route syntax (RFC 5322 §4.4).
    case route
    /// The display name or a comment shows an address other than the mailbox's,
    /// possibly only after RFC 2047 decoding ("=?utf-8?q?ceo=40example.org?= <eve@...>").
    case displayNameAddress(String)
    /// The display name or a comment holds an encoded-word in a charset that is not decoded
    /// as a client shows it ("=?utf-7?q?ceo+AEA-example.org?="): what the reader sees is unknown.
    case undecodableDisplayName(String)
    case notAMailbox

    public var description: String {
        switch self {
        case .missing: "no From field"
        case .severalFields(let count): "\(count) From fields"
        case .severalMailboxes(let count): "From has \(count) mailboxes"
        case .group: "From is a group"
        case .route: "From uses route syntax"
        case .displayNameAddress(let address): "the display name shows another address, \(address)"
        case .undecodableDisplayName(let charset): "display name in an undecodable charset, \(charset)"
        case .notAMailbox: "From is not a mailbox"
        }
    }
}
