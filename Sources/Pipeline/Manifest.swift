import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// One line of DIR/manifest.jsonl: exactly one per input message.
public struct ManifestRecord: Codable, Sendable {
    public struct File: Codable, Sendable {
        public var file: String
        public var recipients: [String]
        public init(file: String, recipients: [String]) {
            self.file = file
            self.recipients = recipients
        }
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
    public var warning: String?
    public var bytes: Int
    public var elapsedMs: Double

    public init(
        input: String, offset: Int?, messageId: String?, direction: String, outcome: String, profile: String?, outputs: [File],
        reason: String?, signer: String?, warning: String? = nil, bytes: Int, elapsedMs: Double
    ) {
        (self.input, self.offset, self.messageId, self.direction, self.outcome) = (input, offset, messageId, direction, outcome)
        (self.profile, self.outputs, self.reason, self.signer, self.warning) = (profile, outputs, reason, signer, warning)
        (self.bytes, self.elapsedMs) = (bytes, elapsedMs)
    }

    /// The resume key: the same as `InputMessage.key`.
    public var key: String { offset.map { "\(input)@\($0)" } ?? input }

    /// One JSON line, keys sorted, absent values left out — what JSONEncoder with
    /// snake-case keys would write, without its per-record reflection cost.
    public var jsonLine: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256 + input.utf8.count)
        var first = true
        func key(_ name: String) {
            out += first ? [UInt8(ascii: "{")] : [UInt8(ascii: ",")]
            first = false
            JSON.string(name, into: &out)
            out.append(UInt8(ascii: ":"))
        }
        key("bytes"); out += Array(String(bytes).utf8)
        key("direction"); JSON.string(direction, into: &out)
        key("elapsed_ms"); out += Array(String(elapsedMs).utf8)
        key("input"); JSON.string(input, into: &out)
        if let messageId { key("message_id"); JSON.string(messageId, into: &out) }
        if let offset { key("offset"); out += Array(String(offset).utf8) }
        key("outcome"); JSON.string(outcome, into: &out)
        key("outputs")
        out.append(UInt8(ascii: "["))
        for (index, file) in outputs.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            out += Array("{\"file\":".utf8)
            JSON.string(file.file, into: &out)
            out += Array(",\"recipients\":[".utf8)
            for (i, recipient) in file.recipients.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                JSON.string(recipient, into: &out)
            }
            out += Array("]}".utf8)
        }
        out.append(UInt8(ascii: "]"))
        if let profile { key("profile"); JSON.string(profile, into: &out) }
        if let reason { key("reason"); JSON.string(reason, into: &out) }
        if let signer { key("signer"); JSON.string(signer, into: &out) }
        if let warning { key("warning"); JSON.string(warning, into: &out) }
        out += [UInt8(ascii: "}"), 10]
        return out
    }
}

/// RFC 8259 string encoding.
enum JSON {
    static func string(_ value: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [92, 34]
            case 92: out += [92, 92]
            case 10: out += [92, UInt8(ascii: "n")]
            case 13: out += [92, UInt8(ascii: "r")]
            case 9: out += [92, UInt8(ascii: "t")]
            case 0..<32:
                let hex = Array("0123456789abcdef".utf8)
                out += [92, UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// The append-only manifest. Each record is one `write(2)` of one line, after
/// the record's outputs are delivered; a run killed mid-write leaves at most a
/// partial last line, which `open(resume:)` cuts off.
public final class ManifestWriter: Sendable {
    let path: String
    private let fd: Int32

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
    }

    deinit { close(fd) }

    public func append(_ record: ManifestRecord) throws {
        let line = record.jsonLine
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
