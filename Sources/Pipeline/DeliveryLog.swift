import FileIO
import Foundation
import Locking

/// One line of DIR/delivery.jsonl: what one attempt did for some recipients of one output
/// (an attempt whose recipients fared differently writes one line per result and reply).
public struct DeliveryRecord: Codable, Sendable, Equatable {
    /// The output, as the manifest names it ("signed/new/NAME").
    public var file: String
    /// The reverse-path given ("<>" for the null one).
    public var sender: String
    public var recipients: [String]
    public var result: DeliveryResult
    /// The server's reply (or sendmail's exit status and words, or why no server was reached).
    public var reply: String
    /// Where it was submitted: "smtp://host:port", "sendmail PATH".
    public var target: String
    /// When, in UTC (ISO 8601).
    public var time: String
    /// For a rejection of outgoing mail: the DSN to the sender that it became ("bounced/new/dsn-…").
    public var bounce: String?

    /// What a log line says about who is settled (file, sender, recipients, result, bounce); nil
    /// when the line is not a delivery record.
    static func settling(_ json: JSONValue) -> DeliveryRecord? {
        guard let file = json["file"]?.string, let sender = json["sender"]?.string,
            let recipients = json["recipients"]?.strings,
            let result = json["result"]?.string.flatMap(DeliveryResult.init(rawValue:))
        else { return nil }
        return DeliveryRecord(
            file: file, sender: sender, recipients: recipients, result: result, reply: json["reply"]?.string ?? "",
            target: json["target"]?.string ?? "", time: json["time"]?.string ?? "", bounce: json["bounce"]?.string)
    }

    var jsonLine: [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(self)) ?? Data()) + [10]
    }

    static func now() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: Date())
    }
}

/// DIR/delivery.jsonl (an `AppendOnlyLog`) and what it says is settled: for every output, the
/// recipients with a final result (delivered or rejected), and the DSNs that rejections became.
/// An output is submitted again only to recipients without a final result.
final class DeliveryLog: Sendable {
    static let fileName = "delivery.jsonl"

    struct Settled {
        /// Output file → its recipients (lower case) with a final result.
        var recipients: [String: Set<String>] = [:]
        /// DSNs written for rejections, in order, each with the address it goes to.
        var bounces: [(file: String, recipient: String)] = []
        var bounceFiles: Set<String> = []

        mutating func add(_ record: DeliveryRecord) {
            if record.result != .deferred {
                recipients[record.file, default: []].formUnion(record.recipients.map { $0.lowercased() })
            }
            if let bounce = record.bounce, bounceFiles.insert(bounce).inserted {
                // The DSN goes back to the output's sender.
                bounces.append((bounce, record.sender))
            }
        }

        func pending(_ file: String, of recipients: [String]) -> [String] {
            guard let done = self.recipients[file] else { return recipients }
            return recipients.filter { !done.contains($0.lowercased()) }
        }
    }

    let log: AppendOnlyLog
    private let settled: Locked<Settled>
    /// The state this log was read from (DIR/delivery.state), when it held: the manifest is then
    /// read from its position on.
    let resumedFrom: DeliveryState?

    /// `manifest`: the manifest as it is now; the saved state is used only if it was made for this
    /// manifest file and this log file (else a settled output could be taken for a pending one).
    init(directory: String, manifest: FileIdentity? = nil) throws {
        let log = try AppendOnlyLog(path: directory + "/" + Self.fileName, what: "delivery log")
        self.log = log
        var settled = Settled()
        var start = 0
        var resumed: DeliveryState? = nil
        if let state = DeliveryState.load(directory: directory), let now = log.identity, let manifest,
            state.log.holds(state.logOffset, in: now), state.manifest.holds(state.manifestOffset, in: manifest),
            state.logDigest == FileIdentity.digest(before: state.logOffset, path: log.path),
            state.manifestDigest
                == FileIdentity.digest(before: state.manifestOffset, path: directory + "/" + ManifestWriter.fileName)
        {
            for partial in state.partial { settled.recipients[partial.file] = Set(partial.recipients) }
            for bounce in state.bounces {
                settled.bounces.append((bounce.file, bounce.recipient))
                settled.bounceFiles.insert(bounce.file)
            }
            start = state.logOffset
            resumed = state
        }
        resumedFrom = resumed
        var line = 0
        try log.forEachLine(from: start) { bytes, _ in
            line += 1
            guard let record = JSONValue.parse(bytes).flatMap(DeliveryRecord.settling) else {
                throw PipelineError("\(log.path):\(line): not a delivery record; the log is damaged")
            }
            settled.add(record)
        }
        self.settled = Locked(settled)
    }

    /// Writes DIR/delivery.state: the manifest is settled up to `manifest` (a position in the file
    /// `manifestIdentity`), and of the rest only `keep` outputs and the unsettled DSNs need remembering.
    func checkpoint(directory: String, manifest: FileIdentity, offset: Int, keep: (String) -> Bool) {
        guard let logIdentity = log.identity else { return }
        let now = current
        let bounces = now.bounces.filter { !now.pending($0.file, of: [$0.recipient]).isEmpty }
        let delivered = Set(now.bounces.map(\.file)).subtracting(bounces.map(\.file))
        let state = DeliveryState(
            manifest: manifest, manifestOffset: offset,
            manifestDigest: FileIdentity.digest(before: offset, path: directory + "/" + ManifestWriter.fileName),
            log: logIdentity, logOffset: logIdentity.length,
            logDigest: FileIdentity.digest(before: logIdentity.length, path: log.path),
            partial: now.recipients.filter { keep($0.key) && !delivered.contains($0.key) }.map {
                DeliveryState.Partial(file: $0.key, recipients: $0.value.sorted())
            }.sorted { $0.file < $1.file },
            bounces: bounces.map { DeliveryState.Bounce(file: $0.file, recipient: $0.recipient) })
        state.write(directory: directory)
    }

    /// The settled state as the log was opened, plus what was appended since.
    var current: Settled { settled.withLock { $0 } }

    func pending(_ file: String, of recipients: [String]) -> [String] {
        settled.withLock { $0.pending(file, of: recipients) }
    }

    func append(_ record: DeliveryRecord) throws {
        try log.append(record.jsonLine)
        settled.withLock { $0.add(record) }
    }
}

/// DIR/delivery.state: where the last delivery left off, so the next one reads only what is new.
/// Every output of the manifest before `manifestOffset` is settled; `partial` holds the settled
/// recipients of outputs after it, `bounces` the DSNs not yet delivered, both as of `logOffset`
/// in the delivery log. Trusted only for the same manifest and log files, no shorter; otherwise
/// (or when it cannot be read) both are read whole, as without it. Written at the end of a run.
struct DeliveryState: Codable {
    static let fileName = "delivery.state"

    struct Partial: Codable {
        var file: String
        var recipients: [String]
    }

    struct Bounce: Codable {
        var file: String
        var recipient: String
    }

    var manifest: FileIdentity
    var manifestOffset: Int
    /// `FileIdentity.digest(before:)` of each position.
    var manifestDigest: String?
    var log: FileIdentity
    var logOffset: Int
    var logDigest: String?
    var partial: [Partial]
    var bounces: [Bounce]

    static func load(directory: String) -> DeliveryState? {
        guard let bytes = try? AppendOnlyLog.contents(path: directory + "/" + fileName, limit: 64 << 20) else {
            return nil
        }
        return try? JSONDecoder().decode(DeliveryState.self, from: Data(bytes))
    }

    /// Replaced atomically (0600); a failure only costs the next run a whole read.
    func write(directory: String) {
        guard let bytes = try? JSONEncoder().encode(self) else { return }
        try? OutputFile.write(Array(bytes) + [10], to: directory + "/" + Self.fileName, content: .secret)
    }
}
