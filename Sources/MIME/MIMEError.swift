/// A message that cannot be parsed or transformed, with a one-line reason.
public struct MIMEError: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Bounds that keep hostile input from costing unbounded time or memory.
public struct MIMELimits: Sendable {
    /// Longest physical header line accepted (RFC 5322 §2.1.1 allows 998).
    public var maxHeaderLineLength = 65_536
    /// Largest header section accepted.
    public var maxHeaderSize = 1 << 20
    /// Deepest multipart / message nesting accepted.
    public var maxDepth = 64

    public init() {}
    public static let standard = MIMELimits()
}
