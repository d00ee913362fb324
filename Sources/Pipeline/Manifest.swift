import FileIO
import Foundation
import Mailstore
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// One line of DIR/manifest.jsonl: exactly one per input message.
public struct ManifestRecord: Codable, Sendable {
    public struct File: Codable, Sendable {
        public var file: String
        public var recipients: [String]
        /// The mail policy that chose this copy's treatment, the filters that acted on it,
        /// and the sending profile it was transformed with (absent when no policy decided).
        public var policy: String?
        public var filters: [String]?
        public var profile: String?
        public init(
            file: String, recipients: [String], policy: String? = nil, filters: [String] = [], profile: String? = nil
        ) {
            self.file = file
            self.recipients = recipients
            self.policy = policy
            self.filters = filters.isEmpty ? nil : filters
            self.profile = profile
        }
    }

    public var input: String
    public var offset: Int?
    public var messageId: String?
    public var direction: String
    public var outcome: String
    /// For outcome `quarantined`: the quarantine's name (DIR/quarantined/NAME/).
    public var quarantine: String?
    /// The SHA-256 of the policy file that decided (`policy show` prints it), when one did.
    public var policySha256: String?
    public var profile: String?
    public var outputs: [File]
    public var reason: String?
    /// `Reason.code`: a stable identifier of `reason` for scripts.
    public var reasonCode: String?
    public var signer: String?
    public var warning: String?
    /// Incoming mail only: `JobResult.authenticated`.
    public var authenticated: Bool?
    public var bytes: Int
    public var elapsedMs: Double

    public init(
        input: String, offset: Int?, messageId: String?, direction: String, outcome: String, quarantine: String? = nil,
        policySha256: String? = nil,
        profile: String?, outputs: [File],
        reason: String?, reasonCode: String? = nil, signer: String?, warning: String? = nil, authenticated: Bool? = nil,
        bytes: Int,
        elapsedMs: Double
    ) {
        (self.input, self.offset, self.messageId, self.direction, self.outcome) = (
            input, offset, messageId, direction, outcome
        )
        (self.profile, self.outputs, self.reason, self.signer, self.warning) = (
            profile, outputs, reason, signer, warning
        )
        (self.authenticated, self.bytes, self.elapsedMs) = (authenticated, bytes, elapsedMs)
        self.quarantine = quarantine
        self.policySha256 = policySha256
        self.reasonCode = reasonCode
    }

    /// The resume key: the same as `InputMessage.key`.
    public var key: String { InputKey.of(source: input, offset: offset) }

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
        if let authenticated { key("authenticated"); out += Array(String(authenticated).utf8) }
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
            if let filters = file.filters {
                out += Array(",\"filters\":".utf8)
                JSON.strings(filters, into: &out)
            }
            if let policy = file.policy {
                out += Array(",\"policy\":".utf8)
                JSON.string(policy, into: &out)
            }
            if let profile = file.profile {
                out += Array(",\"profile\":".utf8)
                JSON.string(profile, into: &out)
            }
            out += Array(",\"recipients\":".utf8)
            JSON.strings(file.recipients, into: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let policySha256 { key("policy_sha256"); JSON.string(policySha256, into: &out) }
        if let profile { key("profile"); JSON.string(profile, into: &out) }
        if let quarantine { key("quarantine"); JSON.string(quarantine, into: &out) }
        if let reason { key("reason"); JSON.string(reason, into: &out) }
        if let reasonCode { key("reason_code"); JSON.string(reasonCode, into: &out) }
        if let signer { key("signer"); JSON.string(signer, into: &out) }
        if let warning { key("warning"); JSON.string(warning, into: &out) }
        out += [UInt8(ascii: "}"), 10]
        return out
    }
}

/// RFC 8259 string encoding.
enum JSON {
    static func strings(_ values: [String], into out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (index, value) in values.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            string(value, into: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

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
/// the record's outputs are delivered. A write that fails part-way is cut back
/// off, so the file only ever holds whole records; a run killed mid-write leaves
/// at most a partial last line, which `open(resume:)` cuts off.
public final class ManifestWriter: Sendable {
    public static let fileName = "manifest.jsonl"
    let path: String
    let directory: String
    private let fd: Int32
    /// The file's length: where a failed append is cut back to.
    private let length: Mutex<Int>

    /// Opens DIR/manifest.jsonl (0600). Without `resume`, an existing non-empty
    /// manifest is an error (a second run would mix two runs' records). With it,
    /// also returns the index of the inputs already done.
    static func open(directory: String, resume: Bool) throws -> (ManifestWriter, ResumeIndex) {
        let path = directory + "/" + fileName
        // O_NOFOLLOW and O_NONBLOCK: a symbolic link or a FIFO planted here is refused, never followed or waited on.
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw PipelineError("\(path): a symbolic link, not a manifest") }
            throw WriteError(path, "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw PipelineError("\(path): not a regular file")
        }
        guard fchmod(fd, 0o600) == 0 else {
            let failure = WriteError(path, "set the mode")
            close(fd)
            throw failure
        }
        var index = ResumeIndex.empty
        var cutShort = false
        var size = Int(info.st_size)
        if size > 0 {
            guard resume else {
                close(fd)
                throw PipelineError("\(path) already holds a run: add --resume to continue it, or choose another --out")
            }
            let complete = try completeLength(fd, size: size, path: path)
            if complete != size { cutShort = true }
            if complete != size {
                guard ftruncate(fd, off_t(complete)) == 0 else {
                    let failure = WriteError(path, "truncate")
                    close(fd)
                    throw failure
                }
                size = complete
            }
            do {
                index = try ResumeIndex.load(directory: directory, manifest: fd, path: path, length: size)
            } catch {
                close(fd)
                throw error
            }
        }
        if cutShort { index = index.notEndedCleanly }
        return (ManifestWriter(path: path, directory: directory, fd: fd, length: size), index)
    }

    /// The length up to and including the last newline (a killed run's partial line excluded).
    private static func completeLength(_ fd: Int32, size: Int, path: String) throws -> Int {
        var end = size
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while end > 0 {
            let start = max(0, end - chunk.count)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, end - start, off_t(start)) }
            guard n == end - start else { throw PipelineError("\(path): cannot read (\(errorText(errno)))") }
            if let newline = chunk[0..<n].lastIndex(of: 10) { return start + newline + 1 }
            end = start
        }
        return 0
    }

    private init(path: String, directory: String, fd: Int32, length: Int) {
        self.path = path
        self.directory = directory
        self.fd = fd
        self.length = Mutex(length)
    }

    deinit { close(fd) }

    /// The manifest's length now (whole records only).
    var size: Int { length.withLock { $0 } }

    public func append(_ record: ManifestRecord) throws {
        let line = record.jsonLine
        try length.withLock { length in
            do {
                try FileSystem.writeAll(fd, line, path: path)
                length += line.count
            } catch {
                _ = ftruncate(fd, off_t(length))  // no partial record stays behind
                throw error
            }
        }
    }

    public func sync() throws { try FileSystem.sync(fd, path: path) }

    /// Rewrites DIR/manifest.index to cover the manifest as it is now: `index` plus `added`.
    func writeIndex(_ index: ResumeIndex, adding added: [KeyHash]) {
        length.withLock { length in index.write(directory: directory, manifest: fd, length: length, added: added) }
    }
}

/// Why a run cannot go on: a usage or configuration error (exit 2), or a
/// condition that passes — the directory is locked by another run, a disk is
/// full — so cron should simply try again (exit 75, EX_TEMPFAIL).
public struct PipelineError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable { case usage, tryAgain }
    public let reason: String
    public let kind: Kind
    public init(_ reason: String, kind: Kind = .usage) {
        self.reason = reason
        self.kind = kind
    }
    public var description: String { reason }
}
