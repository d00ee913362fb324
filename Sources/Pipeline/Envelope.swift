import MIME

/// The envelope of a message at rest (DESIGN.md "Envelope"): the sender is
/// Return-Path, else Sender, else From; the recipients are the addresses in
/// To, Cc and Bcc, each once (case-insensitively), in order.
public struct Envelope: Sendable, Equatable {
    public let sender: String?
    public let recipients: [String]
    /// The recipients named only in Bcc: an envelope they share with others would name their
    /// certificates to everyone (a RecipientInfo each), so each gets an encrypted copy alone.
    public let blindRecipients: Set<String>
    /// `Return-Path: <>`: the message is itself a notification, never to be answered by one
    /// (RFC 5321 §4.5.5), so bounces loop nowhere.
    public let nullReversePath: Bool

    /// The reverse-path for MAIL FROM as the manifest records it: the sender, or "<>" for the
    /// null reverse-path and for a message that names no one.
    public var reversePath: String { nullReversePath ? "<>" : sender ?? "<>" }

    public init(_ message: Entity) {
        let path = message.field("Return-Path")?.trimmingCharacters(in: .whitespaces)
        nullReversePath = path.map { Self.withoutComments($0) == "<>" } ?? false
        let returnPath = nullReversePath ? nil : path.flatMap { Address.first($0) }
        sender = returnPath ?? Address.first(message.field("Sender")) ?? Address.first(message.field("From"))
        var seen = Set<String>()
        var recipients: [String] = []
        var blind = Set<String>()
        for name in ["To", "Cc", "Bcc"] {
            for field in message.fields(named: name) {
                for address in Address.parseList(field.value) where seen.insert(address.lowercased()).inserted {
                    recipients.append(address)
                    if name == "Bcc" { blind.insert(address) }
                }
            }
        }
        self.recipients = recipients
        self.blindRecipients = blind
    }

    /// `value` without RFC 5322 comments and white space: `<> (bounce)` and `<()>` are `<>`.
    static func withoutComments(_ value: String) -> String {
        var out = ""
        var depth = 0
        var escaped = false
        for c in value.unicodeScalars {
            if escaped {
                escaped = false
                continue
            }
            if depth > 0 && c == "\\" { escaped = true; continue }
            if c == "(" { depth += 1; continue }
            if c == ")" && depth > 0 { depth -= 1; continue }
            if depth == 0 && c != " " && c != "\t" { out.unicodeScalars.append(c) }
        }
        return out
    }

    /// The address whose certificate must cover a signature: From (RFC 8550 §3), else the sender.
    public static func author(_ message: Entity) -> String? {
        Address.first(message.field("From")) ?? Address.first(message.field("Sender"))
    }

    /// Every address a signature speaks for: each address of every From field and of
    /// Sender (RFC 5322 §3.6.2 allows several authors). Signing covers all of them or none,
    /// so `From: alice@ours, ceo@elsewhere` cannot borrow the organisation's signature.
    public static func authors(_ message: Entity) -> [String] {
        var seen = Set<String>()
        var addresses: [String] = []
        for name in ["From", "Sender"] {
            for field in message.fields(named: name) {
                for address in Address.parseList(field.value) where seen.insert(address.lowercased()).inserted {
                    addresses.append(address)
                }
            }
        }
        return addresses
    }
}
