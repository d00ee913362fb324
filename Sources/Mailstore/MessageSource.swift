import FileIO
import Foundation

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
    /// The key this input had under the path as the user gave it, when that differs
    /// (records written before paths were made canonical are found by it).
    public let alias: String?
    /// Which of the run's inputs it came from (their index on the command line), for per-input counts.
    public var origin = 0
    /// Its place among the messages a run hands to its workers (0, 1, 2, ...): outputs appended to mbox
    /// files go in this order, whatever order the workers finish in.
    public var sequence = 0

    public init(source: String, offset: Int?, bytes: [UInt8], file: MaildirFile? = nil, givenAs given: String? = nil) {
        self.source = source
        self.offset = offset
        self.bytes = bytes
        self.file = file
        let alias = given.map { path in offset.map { "\(path)@\($0)" } ?? path }
        self.alias = alias == InputKey.of(source: source, offset: offset) ? nil : alias
    }

    /// The input's identity for resume and for output names (`InputKey`).
    public var key: String { InputKey.of(source: source, offset: offset) }
}

/// Which input a message is, across runs: the resume key and the seed of output names.
/// Sources are canonical paths (symbolic links and `.`/`..` resolved), so a cron job
/// whose working directory or spelling of the path changes finds its earlier records.
public enum InputKey {
    /// An mbox message: "path@offset" (the offset of its From_ line). A maildir file: its
    /// maildir and its unique name — the name up to the ":" that starts its flags — so a
    /// message that a mail client moves from new/ to cur/ (adding ":2,S") is the same
    /// input. Standard input: "-".
    public static func of(source: String, offset: Int?) -> String {
        if let offset { return "\(source)@\(offset)" }
        let utf8 = source.utf8
        guard let last = utf8.lastIndex(of: UInt8(ascii: "/")),
            let previous = utf8[..<last].lastIndex(of: UInt8(ascii: "/"))
        else { return source }
        let folder = source[source.index(after: previous)..<last]
        guard folder == "new" || folder == "cur" else { return source }
        return source[..<previous] + "/" + source[source.index(after: last)...].prefix { $0 != ":" }
    }

    /// The canonical path of an existing file or directory (the path itself if it cannot be resolved).
    public static func canonical(_ path: String) -> String {
        guard let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }
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
        /// The name is not UTF-8, or has control characters or backslashes: the file is
        /// processed, and the manifest spells the name with `\xNN` (`MaildirFile.spelling(of:)`).
        case escapedName
        /// A message larger than this many bytes: skipped, never read whole.
        case tooLarge(Int)
    }

    public let path: String
    public let kind: Kind
    /// A maildir's new/ or cur/ folder that could not be listed: every message in it is unread (not one entry).
    public let folder: Bool

    public init(path: String, kind: Kind, folder: Bool = false) {
        self.path = path
        self.kind = kind
        self.folder = folder
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
        case .tooLarge(let limit):
            return "\(path): a message larger than \(limit) bytes (--max-message-size); not read"
        case .escapedName:
            return "\(path): the file name is not plain UTF-8 text; processed, recorded with \\x escapes"
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
    /// How far reading has got in the input's own bytes (a compressed file's compressed bytes), for an
    /// estimate of what is left; 0 where the source does not say.
    var consumedBytes: Int { get }
}

extension MessageSource {
    public var consumedBytes: Int { 0 }
}
