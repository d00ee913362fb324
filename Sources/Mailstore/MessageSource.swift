import FileIO
/// One message read from an input, with where it came from (for the manifest
/// and resume): a maildir file, an mbox file and the byte offset of its From_
/// line, or standard input.
public struct InputMessage: Sendable {
    /// The input as the manifest names it: a path, or "-" for standard input. A
    /// file name that is not UTF-8 shows each byte that is not as `\xNN`.
    public let source: String
    /// The byte offset of the message's From_ line in an mbox; nil otherwise.
    public let offset: Int?
    public let bytes: [UInt8]
    /// A maildir file's path as the file system spells it (bytes, not always
    /// UTF-8): what `--consume` removes or moves. Nil for mbox messages and stdin.
    public let file: MaildirFile?

    public init(source: String, offset: Int?, bytes: [UInt8], file: MaildirFile? = nil) {
        self.source = source
        self.offset = offset
        self.bytes = bytes
        self.file = file
    }

    /// A key unique among a run's inputs: the path, or "path@offset" for mbox messages.
    public var key: String { offset.map { "\(source)@\($0)" } ?? source }
}

/// What a source yields: a message, or an entry that is not one and is reported.
public enum SourceItem: Sendable {
    case message(InputMessage)
    case problem(InputProblem)
}

/// An input entry that was not read, or read with a remark: never skipped silently.
public struct InputProblem: Error, CustomStringConvertible, Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        case symbolicLink, fifo, socket, device, directory, otherType
        /// open(2) or read(2) failed with this errno.
        case unreadable(Int32)
        /// The name is not UTF-8: the file is processed, the manifest spells the name with `\xNN`.
        case nonUTF8Name
    }

    public let path: String
    public let kind: Kind

    public init(path: String, kind: Kind) {
        self.path = path
        self.kind = kind
    }

    public var description: String {
        switch kind {
        case .symbolicLink: return "\(path): a symbolic link, not followed"
        case .fifo: return "\(path): a FIFO, not a message file; not read"
        case .socket: return "\(path): a socket, not a message file; not read"
        case .device: return "\(path): a device, not a message file; not read"
        case .directory: return "\(path): a directory inside a maildir folder; not read"
        case .otherType: return "\(path): not a regular file; not read"
        case .unreadable(let code): return "\(path): cannot read (\(errorText(code)))"
        case .nonUTF8Name: return "\(path): the file name is not UTF-8; processed, recorded with \\x escapes"
        }
    }
}

/// A mailbox or input problem, with a one-line reason.
public struct MailstoreError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// A stream of messages, read one at a time (never a whole listing or mbox in memory).
public protocol MessageSource {
    mutating func next() throws -> SourceItem?
}
