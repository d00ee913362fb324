import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `smimegate report`: the manifests of one or more runs merged into what an operator or an auditor
/// asks of them — how many messages went where, why the ones that need attention did, and how fast the
/// run went over time. Manifests are read line by line: only counts are kept, and each record's time
/// (8 bytes a record: a million-record manifest needs 8 MB).
public struct RunReport: Sendable, Encodable {
    /// One output directory read.
    public struct Run: Sendable, Encodable {
        public let directory: String
        public var records: Int = 0
        public var bytes: Int = 0
        /// The first and last record's `time` (ISO 8601), when the manifest has times.
        public var first: String?
        public var last: String?
        /// Lines that are not records (cut short by a kill, or not ours).
        public var unreadable: Int = 0
    }

    /// Records with a reason, grouped by outcome and reason code, with the most frequent wording.
    public struct Reason: Sendable, Encodable {
        public let outcome: String
        public let code: String
        public var count: Int
        public var example: String
    }

    /// Messages recorded per interval of `intervalSeconds` from `start` (Unix time).
    public struct Pace: Sendable, Encodable {
        public let start: Double
        public let intervalSeconds: Double
        public let messages: [Int]

        public var peak: Double { Double(messages.max() ?? 0) / intervalSeconds }
    }

    public var runs: [Run] = []
    /// direction → outcome → messages (`quarantined/NAME` for a quarantine).
    public var outcomes: [String: [String: Int]] = [:]
    public var reasons: [Reason] = []
    public var warnings = 0
    public var pace: Pace?
    /// Per-message processing time (elapsed_ms): median and 95th percentile, from a histogram.
    public var medianMs: Double?
    public var p95Ms: Double?
    /// With `report --inputs`: whether the inputs are recorded exactly once across the directories.
    public var inputCheck: InputCheck?

    public var messages: Int { runs.reduce(0) { $0 + $1.records } }
    public var bytes: Int { runs.reduce(0) { $0 + $1.bytes } }

    enum CodingKeys: String, CodingKey {
        case runs, outcomes, reasons, warnings, pace, medianMs, p95Ms, messages, bytes, inputCheck
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(runs, forKey: .runs)
        try container.encode(outcomes, forKey: .outcomes)
        try container.encode(reasons, forKey: .reasons)
        try container.encode(warnings, forKey: .warnings)
        try container.encodeIfPresent(pace, forKey: .pace)
        try container.encodeIfPresent(medianMs, forKey: .medianMs)
        try container.encodeIfPresent(p95Ms, forKey: .p95Ms)
        try container.encodeIfPresent(inputCheck, forKey: .inputCheck)
        try container.encode(messages, forKey: .messages)
        try container.encode(bytes, forKey: .bytes)
    }

    /// Reads DIR/manifest.jsonl of every directory; `PipelineError` when one cannot be read.
    public static func read(_ directories: [String], maxIntervals: Int = 120) throws -> RunReport {
        var report = RunReport()
        var reasons: [String: (count: Int, wordings: [String: Int])] = [:]
        var times: [Double] = []
        var earliest = Double.infinity
        var latest = -Double.infinity
        // Elapsed times in 0.1 ms steps up to 10 s, then one bucket: percentiles without keeping every value.
        var elapsed = [Int](repeating: 0, count: 100_001)
        var timed = 0
        for directory in directories {
            var run = Run(directory: directory)
            try AppendOnlyLog.forEachLine(path: directory + "/" + ManifestWriter.fileName) { line, _ in
                guard let record = JSONValue.parse(line), let outcome = record["outcome"]?.string,
                    let direction = record["direction"]?.string
                else {
                    run.unreadable += 1
                    return
                }
                run.records += 1
                run.bytes += record["bytes"]?.integer ?? 0
                let folder = record["quarantine"]?.string.map { "quarantined/" + $0 } ?? outcome
                report.outcomes[direction, default: [:]][folder, default: 0] += 1
                if record["warning"]?.string != nil { report.warnings += 1 }
                if let reason = record["reason"]?.string {
                    let key = outcome + "\u{0}" + (record["reason_code"]?.string ?? "-")
                    reasons[key, default: (0, [:])].count += 1
                    // Wordings differ per message (names, addresses): a bounded sample decides the example.
                    if reasons[key]!.wordings.count < 64 || reasons[key]!.wordings[reason] != nil {
                        reasons[key]!.wordings[reason, default: 0] += 1
                    }
                }
                if case .number(let ms) = record["elapsed_ms"] ?? .null, ms >= 0 {
                    // Compared as a Double first: a huge number (a damaged line) does not fit an Int.
                    elapsed[ms * 10 < 100_000 ? Int(ms * 10) : 100_000] += 1
                    timed += 1
                }
                if let time = record["time"]?.string, let seconds = Self.seconds(time) {
                    if run.first == nil || time < run.first! { run.first = time }
                    if run.last == nil || time > run.last! { run.last = time }
                    times.append(seconds)
                    earliest = min(earliest, seconds)
                    latest = max(latest, seconds)
                }
            }
            report.runs.append(run)
        }
        report.reasons = reasons.map { key, value in
            let parts = key.split(separator: "\u{0}", omittingEmptySubsequences: false)
            let example = value.wordings.max { $0.value < $1.value || ($0.value == $1.value && $0.key > $1.key) }?.key
            return Reason(outcome: String(parts[0]), code: String(parts[1]), count: value.count, example: example ?? "")
        }.sorted {
            ($0.outcome == "failed" ? 0 : 1, -$0.count, $0.outcome, $0.code)
                < ($1.outcome == "failed" ? 0 : 1, -$1.count, $1.outcome, $1.code)
        }
        if !times.isEmpty {
            let interval = Self.interval(for: latest - earliest, at: maxIntervals)
            let start = (earliest / interval).rounded(.down) * interval
            var counts = [Int](repeating: 0, count: Int(((latest - start) / interval).rounded(.down)) + 1)
            // Clamped: floor(earliest / interval) * interval can come out a rounding error above earliest.
            for time in times {
                counts[min(counts.count - 1, max(0, Int(((time - start) / interval).rounded(.down))))] += 1
            }
            report.pace = Pace(start: start, intervalSeconds: interval, messages: counts)
        }
        if timed > 0 {
            func percentile(_ fraction: Double) -> Double {
                let rank = Int((Double(timed) * fraction).rounded(.up))
                var seen = 0
                for (bucket, count) in elapsed.enumerated() {
                    seen += count
                    if seen >= max(1, rank) { return Double(bucket) / 10 }
                }
                return 10_000
            }
            (report.medianMs, report.p95Ms) = (percentile(0.5), percentile(0.95))
        }
        return report
    }

    /// The smallest of 10, 20, 50 ms, ..., 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 6, 12 h, 1 day...
    /// that spreads `span` over at most `count` intervals (records' times are to the millisecond).
    static func interval(for span: Double, at count: Int) -> Double {
        let steps: [Double] = [
            0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21_600,
            43_200, 86_400,
        ]
        for step in steps where span / step < Double(count) { return step }
        return (span / Double(count) / 86_400).rounded(.up) * 86_400
    }

    /// `2026-11-30T18:05:01.123Z` (a record's `time`) as Unix time; nil for anything else.
    static func seconds(_ text: String) -> Double? {
        let bytes = Array(text.utf8)
        guard bytes.count >= 20, bytes.last == UInt8(ascii: "Z"), bytes[4] == 45, bytes[7] == 45, bytes[10] == 84,
            bytes[13] == 58, bytes[16] == 58
        else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var value = 0
            for index in range {
                guard (48...57).contains(bytes[index]) else { return nil }
                value = value * 10 + Int(bytes[index] - 48)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var fraction = 0.0
        if bytes.count > 20 {
            // At most nanoseconds: more digits would overflow.
            guard bytes[19] == 46, bytes.count <= 30, let digits = number(20..<(bytes.count - 1)) else { return nil }
            fraction = Double(digits) / pow(10, Double(bytes.count - 21))
        }
        var parts = tm()
        (parts.tm_year, parts.tm_mon, parts.tm_mday) = (Int32(year - 1900), Int32(month - 1), Int32(day))
        (parts.tm_hour, parts.tm_min, parts.tm_sec) = (Int32(hour), Int32(minute), Int32(second))
        return Double(timegm(&parts)) + fraction
    }
}
