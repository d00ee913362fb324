import FileIO
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `process --metrics-file`: a run's figures in the Prometheus text exposition format (version 0.0.4),
/// for node_exporter's textfile collector, replaced atomically at the end of the run.
///
/// Counters (`_total`) are the sums over every run that wrote the file: each run adds its figures to
/// what the file held, so they only grow, as Prometheus expects of a counter (a lost file starts them
/// again from zero, which `rate()` and `increase()` take as a reset). Gauges describe the last run of
/// the direction. Several jobs (outgoing, incoming, ...) may share one file: samples of another
/// direction are kept as they were. Writers of one file take turns (a lock on its directory).
public struct RunMetrics: Sendable {
    public var direction: String
    public var summary: RunSummary
    /// Every outcome the job can have: their counters appear from the first run, at zero.
    public var outcomes: [Outcome]
    public var exitCode: Int32
    public var finished: Date
    /// Organisation certificates by name.
    public var certificates: [(name: String, notAfter: Date)]

    public init(
        direction: String, summary: RunSummary, outcomes: [Outcome], exitCode: Int32, finished: Date = Date(),
        certificates: [(name: String, notAfter: Date)]
    ) {
        (self.direction, self.summary, self.outcomes, self.exitCode) = (direction, summary, outcomes, exitCode)
        (self.finished, self.certificates) = (finished, certificates)
    }

    /// One metric: its name, type, help text, and samples (label text such as `direction="x"` → value).
    struct Family {
        let name: String
        let type: String
        let help: String
        var samples: [(labels: String, value: Double)]
    }

    /// This run's families, before merging with the file.
    var families: [Family] {
        let run = "direction=\"\(Self.escape(direction))\""
        var counts: [String: Int] = [:]
        for outcome in outcomes { counts[outcome.name] = 0 }
        for (outcome, count) in summary.outcomes { counts[outcome.name, default: 0] += count }
        let finishedAt = (finished.timeIntervalSince1970 * 1000).rounded() / 1000
        var families = [
            Family(
                name: "smimegate_messages_total", type: "counter",
                help: "Input messages recorded in a manifest, by direction and outcome, over every run.",
                samples: counts.sorted { $0.key < $1.key }.map {
                    ("\(run),outcome=\"\(Self.escape($0.key))\"", Double($0.value))
                }),
            Family(
                name: "smimegate_bytes_total", type: "counter",
                help: "Bytes of the input messages recorded, over every run.",
                samples: [(run, Double(summary.bytes))]),
            Family(
                name: "smimegate_input_errors_total", type: "counter",
                help: "Inputs that could not be read (special files, unreadable, too large), over every run.",
                samples: [(run, Double(summary.inputErrors.count))]),
            Family(
                name: "smimegate_run_duration_seconds", type: "gauge", help: "How long the last run took.",
                samples: [(run, (summary.seconds * 1000).rounded() / 1000)]),
            Family(
                name: "smimegate_last_run_timestamp_seconds", type: "gauge",
                help: "When the last run ended (Unix time), whatever its exit status.", samples: [(run, finishedAt)]),
            Family(
                name: "smimegate_last_run_exit_code", type: "gauge",
                help: "The last run's exit status (0 all done, 1 messages failed, 75 try again, 128+N signal N).",
                samples: [(run, Double(exitCode))]),
            Family(
                name: "smimegate_last_success_timestamp_seconds", type: "gauge",
                help: "When the last run that exited 0 ended (Unix time).",
                samples: exitCode == 0 ? [(run, finishedAt)] : []),
        ]
        families.append(
            Family(
                name: "smimegate_certificate_expiry_timestamp_seconds", type: "gauge",
                help: "When each organisation certificate expires (notAfter, Unix time).",
                samples: certificates.sorted { $0.name < $1.name }.map {
                    ("name=\"\(Self.escape($0.name))\"", $0.notAfter.timeIntervalSince1970.rounded())
                }))
        return families
    }

    /// The file's new text: this run's families merged with `previous` (the file's text, if any).
    public func text(previous: String?) -> String {
        let old = previous.map(Self.samples(of:)) ?? [:]
        var out = ""
        for var family in families {
            let produced = Set(family.samples.map(\.labels))
            let isCounter = family.type == "counter"
            family.samples = family.samples.map {
                ($0.labels, $0.value + (isCounter ? old[family.name]?[$0.labels] ?? 0 : 0))
            }
            // What the file held that this run does not produce: another direction's samples, and (gauges
            // of the last success) ours when this run did not succeed. Certificates are the keystore's now.
            for (labels, value) in (old[family.name] ?? [:]).sorted(by: { $0.key < $1.key })
            where !produced.contains(labels) {
                let ours = labels.hasPrefix("direction=\"\(Self.escape(direction))\"")
                let keep =
                    family.name == "smimegate_last_success_timestamp_seconds"
                    || (!ours && labels.hasPrefix("direction=")) || (isCounter && ours)
                if keep { family.samples.append((labels, value)) }
            }
            if family.samples.isEmpty { continue }
            out += "# HELP \(family.name) \(family.help)\n# TYPE \(family.name) \(family.type)\n"
            for sample in family.samples.sorted(by: { $0.labels < $1.labels }) {
                out += "\(family.name){\(sample.labels)} \(Self.format(sample.value))\n"
            }
        }
        return out
    }

    /// Replaces `path` with the merged text (0644: node_exporter reads it as another user).
    public func write(to path: String) throws {
        let (directory, _) = FileSystem.split(path)
        let folder = directory.isEmpty ? "." : directory
        let lock = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard lock >= 0 else { throw WriteError(folder, "open the metrics file's directory") }
        defer { close(lock) }
        while flock(lock, LOCK_EX) != 0 {
            guard errno == EINTR else { throw WriteError(folder, "lock the metrics file's directory") }
        }
        let previous = FileSystem.contents(of: path).map { String(decoding: $0, as: UTF8.self) }
        try OutputFile.write(Array(text(previous: previous).utf8), to: path, content: .publicData)
    }

    /// The samples of a text file: metric name → label text → value. Lines it cannot read are left out.
    static func samples(of text: String) -> [String: [String: Double]] {
        var samples: [String: [String: Double]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let open = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}"), open < close else {
                continue
            }
            let name = String(line[..<open])
            let labels = String(line[line.index(after: open)..<close])
            let rest = line[line.index(after: close)...].split(separator: " ")
            guard !name.isEmpty, let first = rest.first, let value = Double(first), value.isFinite else { continue }
            samples[name, default: [:]][labels] = value
        }
        return samples
    }

    /// A label value: backslash, double quote and line feed escaped.
    static func escape(_ value: String) -> String {
        var out = ""
        for character in value.unicodeScalars {
            switch character {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// Whole numbers without a fraction (counts, timestamps), others as Swift prints them.
    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}
