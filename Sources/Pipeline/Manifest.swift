import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One line of DIR/manifest.jsonl: exactly one per input message.
public struct ManifestRecord: Codable, Sendable {
    public struct File: Codable, Sendable {
        public var file: String
        public var recipients: [String]
    }

    public var input: String
    public var offset: Int?
    public var messageId: String?
    public var direction: String
    public var outcome: String
    public var profile: String?
    public var outputs: [File]
    public var reason: String?
    public var signer: String?
    public var bytes: Int
    public var elapsedMs: Double

    /// The resume key: the same as `InputMessage.key`.
    public var key: String { offset.map { "\(input)@\($0)" } ?? input }
}

/// The append-only manifest. Each record is one `write(2)` of one line, after
/// the record's outputs are delivered; a run killed mid-write leaves at most a
/// partial last line, which `open(resume:)` cuts off.
public final class ManifestWriter: Sendable {
    let path: String
    private let fd: Int32
    private let encoder: JSONEncoder

    /// Opens DIR/manifest.jsonl. Without `resume`, an existing non-empty manifest
    /// is an error (a second run would mix two runs' records). With it, returns
    /// the keys of the inputs already done.
    public static func open(directory: String, resume: Bool) throws -> (ManifestWriter, Set<String>) {
        let path = directory + "/manifest.jsonl"
        var done = Set<String>()
        if let data = FileManager.default.contents(atPath: path), !data.isEmpty {
            guard resume else {
                throw PipelineError("\(path) already holds a run: add --resume to continue it, or choose another --out")
            }
            let complete = data.lastIndex(of: 10).map { data.prefix(through: $0) } ?? Data()
            if complete.count != data.count { truncate(path, off_t(complete.count)) }
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            for line in complete.split(separator: 10) where !line.isEmpty {
                guard let record = try? decoder.decode(ManifestRecord.self, from: Data(line)) else {
                    throw PipelineError("\(path): a line is not a manifest record; not resuming")
                }
                done.insert(record.key)
            }
        }
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        guard fd >= 0 else { throw PipelineError("\(path): cannot open (\(String(cString: strerror(errno))))") }
        return (ManifestWriter(path: path, fd: fd), done)
    }

    private init(path: String, fd: Int32) {
        self.path = path
        self.fd = fd
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.encoder = encoder
    }

    deinit { close(fd) }

    public func append(_ record: ManifestRecord) throws {
        let line = Array(try encoder.encode(record)) + [10]
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw PipelineError("\(path): write failed (\(String(cString: strerror(errno))))") }
    }

    public func sync() { fsync(fd) }
}

public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}
