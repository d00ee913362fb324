/// One message read from an input, with where it came from (for the manifest
/// and resume): a maildir file, an mbox file and the byte offset of its From_
/// line, or standard input.
public struct InputMessage: Sendable {
    /// The input as the manifest names it: a path, or "-" for standard input.
    public let source: String
    /// The byte offset of the message's From_ line in an mbox; nil otherwise.
    public let offset: Int?
    public let bytes: [UInt8]

    public init(source: String, offset: Int?, bytes: [UInt8]) {
        self.source = source
        self.offset = offset
        self.bytes = bytes
    }

    /// A key unique among a run's inputs: the path, or "path@offset" for mbox messages.
    public var key: String { offset.map { "\(source)@\($0)" } ?? source }
}

/// A mailbox or input problem, with a one-line reason.
public struct MailstoreError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A stream of messages, read one at a time (never a whole listing or mbox in memory).
public protocol MessageSource {
    mutating func next() throws -> InputMessage?
}
