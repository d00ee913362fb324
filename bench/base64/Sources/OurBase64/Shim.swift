// The two MIME types Base64.swift names, as Sources/MIME defines them.
public struct MIMEError: Error, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
}

public enum LineEnding: Sendable, Equatable {
    case crlf, lf
    public var bytes: [UInt8] { self == .crlf ? [13, 10] : [10] }
}
