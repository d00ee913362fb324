import Foundation
import Synchronization

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
    private let settled: Mutex<Settled>

    init(directory: String) throws {
        let log = try AppendOnlyLog(path: directory + "/" + Self.fileName, what: "delivery log")
        self.log = log
        var settled = Settled()
        var line = 0
        try log.forEachLine { bytes in
            line += 1
            guard let record = JSONValue.parse(bytes).flatMap(DeliveryRecord.settling) else {
                throw PipelineError("\(log.path):\(line): not a delivery record; the log is damaged")
            }
            settled.add(record)
        }
        self.settled = Mutex(settled)
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
