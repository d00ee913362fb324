/// A departure from RFC 5322 / RFC 2046 structure that real mailers produce.
/// The gateway does not refuse such a message: it takes the content as one
/// opaque leaf (see `Canonical.Options.asOneLeaf`) and tells the operator why.
/// `Canonical.prepare` throws it where the structure cannot be walked, so a
/// caller can tell it by type from a message that is not mail at all.
public enum Irregularity: Error, Sendable, Equatable, CustomStringConvertible {
    /// A header field section that ends at a line that is no field, without the
    /// blank line of RFC 5322 §2.1 (the line counts from the message's first line).
    case headerRunsIntoBody(line: Int)
    /// A multipart entity without a usable boundary parameter (RFC 2046 §5.1.1).
    case missingBoundary(mediaType: String)
    /// A boundary parameter whose delimiter line never appears in the body.
    case boundaryNotFound(String)
    /// A multipart body without its close-delimiter line.
    case boundaryNotClosed(String)
    /// A body part (or an attached message) whose header runs into its body.
    case partHeaderWithoutBlankLine

    public var description: String {
        switch self {
        case .headerRunsIntoBody(let line): "the header runs into the body at line \(line) (no blank line)"
        case .missingBoundary(let mediaType): "\(mediaType) without a boundary parameter"
        case .boundaryNotFound(let boundary): "multipart boundary \"\(boundary)\" never found"
        case .boundaryNotClosed(let boundary): "multipart has no closing boundary \"\(boundary)\""
        case .partHeaderWithoutBlankLine: "a body part's header runs into its body (no blank line)"
        }
    }
}
