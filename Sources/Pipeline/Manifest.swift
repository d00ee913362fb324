import FileIO
import Foundation
import Mailstore

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
        /// The envelope sender of this copy when it is not the record's: "<>" for bounces and notices.
        public var sender: String?
        /// `--out-format mbox`: where this output starts in `file` (its From_ line) and how long it is.
        public var offset: Int?
        public var length: Int?
        public init(
            file: String, recipients: [String], policy: String? = nil, filters: [String] = [], profile: String? = nil,
            sender: String? = nil
        ) {
            self.file = file
            self.recipients = recipients
            self.sender = sender
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
    /// The message's envelope sender (the reverse-path `deliver` gives in MAIL FROM): Return-Path,
    /// else Sender, else From; "<>" for the null reverse-path or when the message names no one.
    public var sender: String?
    public var warning: String?
    /// Incoming mail only: `JobResult.authenticated`.
    public var authenticated: Bool?
    /// Incoming verified mail: what is known of the revocation of the signer's path ("good", or
    /// "unknown: why" under `revocation = soft`).
    public var revocation: String?
    /// F22 alerts the certificates harvested from this message raised.
    public var alerts: [String]?
    /// With `--validation-time` other than now: the time the signature was judged at (ISO 8601) and where
    /// it came from: given, signing-time or timestamp.
    public var validationTime: String?
    public var validationTimeSource: String?
    public var bytes: Int
    public var elapsedMs: Double
    /// When the record was written: UTC, ISO 8601 with milliseconds (`report` charts a run's pace by it).
    public var time: String?

    public init(
        input: String, offset: Int?, messageId: String?, direction: String, outcome: String, quarantine: String? = nil,
        policySha256: String? = nil,
        profile: String?, outputs: [File],
        reason: String?, reasonCode: String? = nil, signer: String?, sender: String? = nil, warning: String? = nil,
        authenticated: Bool? = nil,
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
        self.sender = sender
    }

    /// What `deliver` needs of a manifest line: direction, sender, and each output's file,
    /// recipients and own sender; nil when the line is not a record.
    static func envelope(_ json: JSONValue) -> ManifestRecord? {
        guard let direction = json["direction"]?.string, let outputs = json["outputs"]?.array else { return nil }
        var files: [File] = []
        for output in outputs {
            guard let file = output["file"]?.string, let recipients = output["recipients"]?.strings else { return nil }
            files.append(File(file: file, recipients: recipients, sender: output["sender"]?.string))
        }
        return ManifestRecord(
            input: json["input"]?.string ?? "", offset: nil, messageId: nil, direction: direction,
            outcome: json["outcome"]?.string ?? "", profile: nil, outputs: files, reason: nil, signer: nil,
            sender: json["sender"]?.string, bytes: 0, elapsedMs: 0)
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
        if let alerts { key("alerts"); JSON.strings(alerts, into: &out) }
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
            if let length = file.length { out += Array(",\"length\":\(length)".utf8) }
            if let offset = file.offset { out += Array(",\"offset\":\(offset)".utf8) }
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
            if let sender = file.sender {
                out += Array(",\"sender\":".utf8)
                JSON.string(sender, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
        out.append(UInt8(ascii: "]"))
        if let policySha256 { key("policy_sha256"); JSON.string(policySha256, into: &out) }
        if let profile { key("profile"); JSON.string(profile, into: &out) }
        if let quarantine { key("quarantine"); JSON.string(quarantine, into: &out) }
        if let reason { key("reason"); JSON.string(reason, into: &out) }
        if let reasonCode { key("reason_code"); JSON.string(reasonCode, into: &out) }
        if let revocation { key("revocation"); JSON.string(revocation, into: &out) }
        if let sender { key("sender"); JSON.string(sender, into: &out) }
        if let signer { key("signer"); JSON.string(signer, into: &out) }
        if let time { key("time"); JSON.string(time, into: &out) }
        if let validationTime { key("validation_time"); JSON.string(validationTime, into: &out) }
        if let validationTimeSource { key("validation_time_source"); JSON.string(validationTimeSource, into: &out) }
        if let warning { key("warning"); JSON.string(warning, into: &out) }
        out += [UInt8(ascii: "}"), 10]
        return out
    }
}

/// A manifest record's `time`: now, as `2026-11-30T18:05:01.123Z` (cheaper than a DateFormatter per record).
public enum RecordTime {
    public static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var seconds = spec.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        let milliseconds = Int(spec.tv_nsec / 1_000_000)
        let fraction =
            milliseconds < 10 ? "00\(milliseconds)" : milliseconds < 100 ? "0\(milliseconds)" : "\(milliseconds)"
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):"
            + "\(two(parts.tm_min)):\(two(parts.tm_sec)).\(fraction)Z"
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
        var value = value
        value.withUTF8 { bytes in
            // Runs of bytes that need no escape are copied whole.
            var start = 0
            for (i, byte) in bytes.enumerated() where byte < 32 || byte == 34 || byte == 92 {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                out.append(92)
                switch byte {
                case 34, 92: out.append(byte)
                case 10: out.append(UInt8(ascii: "n"))
                case 13: out.append(UInt8(ascii: "r"))
                case 9: out.append(UInt8(ascii: "t"))
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    out += [UInt8(ascii: "u"), 48, 48, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                }
                start = i + 1
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// The append-only manifest (an `AppendOnlyLog`): each record is one line, written after
/// the record's outputs are delivered; a run killed mid-write leaves at most a partial
/// last line, which opening cuts off.
public final class ManifestWriter: Sendable {
    public static let fileName = "manifest.jsonl"
    let directory: String
    private let log: AppendOnlyLog

    /// Opens DIR/manifest.jsonl (0600). Without `resume`, an existing non-empty
    /// manifest is an error (a second run would mix two runs' records). With it,
    /// also returns the index of the inputs already done.
    static func open(directory: String, resume: Bool) throws -> (ManifestWriter, ResumeIndex) {
        let log = try AppendOnlyLog(path: directory + "/" + fileName, what: "manifest")
        var index = ResumeIndex.empty
        if log.size > 0 || log.cutShort {
            guard resume else {
                throw PipelineError(
                    "\(log.path) already holds a run: add --resume to continue it, or choose another --out")
            }
            index = try ResumeIndex.load(directory: directory, manifest: log.fd, path: log.path, length: log.size)
        }
        if log.cutShort { index = index.notEndedCleanly }
        return (ManifestWriter(directory: directory, log: log), index)
    }

    private init(directory: String, log: AppendOnlyLog) {
        self.directory = directory
        self.log = log
    }

    var path: String { log.path }

    /// The manifest's length now (whole records only).
    var size: Int { log.size }

    public func append(_ record: ManifestRecord) throws { try log.append(record.jsonLine) }

    public func sync() throws { try log.sync() }

    /// `--out-format mbox`: the end of the last output each record names in each mbox file (by its path
    /// under DIR) — where a resumed run cuts the file back to.
    func recordedMboxEnds() throws -> [String: Int] {
        var ends: [String: Int] = [:]
        try log.forEachLine { line, _ in
            for output in JSONValue.parse(line)?["outputs"]?.array ?? [] {
                guard let file = output["file"]?.string, let offset = output["offset"]?.integer,
                    let length = output["length"]?.integer
                else { continue }
                ends[file] = max(ends[file] ?? 0, offset + length)
            }
        }
        return ends
    }

    /// Rewrites DIR/manifest.index to cover the manifest as it is now: `index` plus `added`.
    func writeIndex(_ index: ResumeIndex, adding added: RecordedKeys) {
        log.withLength { length in index.write(directory: directory, manifest: log.fd, length: length, added: added) }
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
