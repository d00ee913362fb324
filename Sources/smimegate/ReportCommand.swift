import ArgumentParser
import FileIO
import Foundation
import Keystore
import Mailstore
import Pipeline

/// `smimegate report DIR...`: what one or more runs did, from their manifests — for the operator (text),
/// scripts (--json) and auditors (--html, one self-contained page).
struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Summarise the manifests of one or more runs: outcomes, reasons, pace; as text, JSON or HTML.",
        discussion: """
            Reads DIR/manifest.jsonl of each DIR (the --out of 'process' runs, maildir or mbox output alike) and \
            merges them: messages per direction and outcome, the most frequent reasons (failed first), the \
            per-message processing time, and messages per second over the runs' time (from each record's time). \
            --html FILE writes one self-contained page (inline SVG charts, no scripts, fonts or images from \
            anywhere) for people without a terminal. --inputs INPUT... checks that every message of the inputs \
            is recorded exactly once across the DIRs (the shards of a --shard run): missing and doubled inputs \
            are named and the exit status is 1. Nothing is written to the DIRs. Exit 0, 1 when --inputs found \
            a message missing or doubled (or an input could not be read to its end), 2 when a DIR has no \
            readable manifest.
            """)
    @Argument(help: ArgumentHelp("Output directories of process runs.", valueName: "DIR")) var directories: [String]
    @Flag(help: "Print JSON instead of text.") var json = false
    @Option(help: ArgumentHelp("Also write the report as one HTML page to FILE.", valueName: "FILE")) var html: String?
    @Option(help: "How many reasons to list (and, with --inputs, missing and doubled messages).") var top = 10
    @Option(
        parsing: .upToNextOption,
        help: ArgumentHelp(
            "Check that every message of these inputs (maildirs, mbox files) is recorded exactly once across "
                + "the DIRs.", valueName: "INPUT"))
    var inputs: [String] = []
    @Option(help: "How the mbox inputs of --inputs quote From lines: mboxrd (default), mboxo or mboxcl2.")
    var mboxFormat: MboxFormat = .mboxrd
    @Option(
        help: ArgumentHelp(
            "With --inputs: the --max-message-size the runs had (larger messages were skipped, not missing; "
                + "default 256MB).", valueName: "SIZE"))
    var maxMessageSize = "256MB"

    func validate() throws {
        if top < 1 { throw ValidationError("--top takes 1 or more") }
    }

    func run() throws {
        var report: RunReport
        do { report = try RunReport.read(directories) } catch let error as PipelineError {
            throw Failure.usage(error.reason)
        }
        report.reasons = Array(report.reasons.prefix(top))
        if !inputs.isEmpty {
            do {
                guard let limit = GlobalSettings.parseSize(maxMessageSize.lowercased()), limit >= 1024 else {
                    throw Failure.usage("--max-message-size takes a size of at least 1KB, such as 64MB")
                }
                report.inputCheck = try InputCheck.run(
                    directories: directories, inputs: inputs, format: mboxFormat, maxMessageBytes: limit, limit: top)
            } catch let error as PipelineError {
                throw Failure.usage(error.reason)
            }
        }
        if let html {
            do {
                try OutputFile.write(Array(ReportPage(report).html.utf8), to: html, content: .publicData)
            } catch let error as WriteError {
                throw Failure.usage("\(error)")
            }
        }
        if json {
            try printJSON(report, keys: .convertToSnakeCase)
        } else {
            for line in Self.text(report) { print(visible(line)) }
            if let html { print("HTML report: \(html)") }
        }
        if let check = report.inputCheck, !check.exactlyOnce {
            throw Failure.problem(
                "the inputs are not recorded exactly once: \(check.missingCount) missing, "
                    + "\(check.doubledCount) doubled, \(check.unread.count) not read to the end")
        }
    }

    static func text(_ report: RunReport) -> [String] {
        var lines = [
            "\(report.messages) message(s), \(megabytes(report.bytes)) in \(report.runs.count) run(s)"
                + (report.warnings > 0 ? ", \(report.warnings) with warnings" : "")
        ]
        for run in report.runs {
            let span = run.first.map { " \($0) to \(run.last ?? $0)" } ?? " (no times recorded)"
            let unreadable = run.unreadable > 0 ? ", \(run.unreadable) unreadable line(s)" : ""
            lines.append("  \(run.directory): \(run.records) record(s)\(unreadable),\(span)")
        }
        let width = max(20, report.outcomes.flatMap { d in d.value.keys.map { d.key.count + 1 + $0.count } }.max() ?? 0)
        lines.append("outcome".padding(toLength: width, withPad: " ", startingAt: 0) + "    messages")
        for (direction, counts) in report.outcomes.sorted(by: { $0.key < $1.key }) {
            for (outcome, count) in counts.sorted(by: { $0.key < $1.key }) {
                lines.append(
                    (direction + "/" + outcome).padding(toLength: width, withPad: " ", startingAt: 0)
                        + String(format: "%12d", count))
            }
        }
        if let median = report.medianMs, let p95 = report.p95Ms {
            lines.append(String(format: "time per message: median %.1f ms, 95th percentile %.1f ms", median, p95))
        }
        if let pace = report.pace {
            let rates = pace.messages.map { Double($0) / pace.intervalSeconds }
            let busy = rates.filter { $0 > 0 }.sorted()
            let median = busy.isEmpty ? 0 : busy[busy.count / 2]
            lines.append(
                String(
                    format: "pace: median %.1f, peak %.1f messages/s over %d interval(s) of %@", median, pace.peak,
                    pace.messages.count, duration(pace.intervalSeconds)))
        }
        if !report.reasons.isEmpty {
            lines.append("reasons (failed first):")
            for reason in report.reasons {
                lines.append(
                    String(format: "%8d  ", reason.count) + "\(reason.outcome) \(reason.code): \(reason.example)")
            }
        }
        if let check = report.inputCheck { lines += Self.text(check) }
        return lines
    }

    static func text(_ check: InputCheck) -> [String] {
        var lines = [
            "inputs: \(check.messages) message(s), \(check.recorded) record(s): "
                + (check.exactlyOnce
                    ? "every message recorded exactly once"
                    : "\(check.missingCount) missing, \(check.doubledCount) doubled"
                        + (check.unread.isEmpty ? "" : ", \(check.unread.count) input(s) not read to the end"))
                + (check.notInInputs > 0 ? "; \(check.notInInputs) record(s) of messages not in these inputs" : "")
        ]
        lines += check.missing.map { "  missing: \($0)" }
        if check.missingCount > check.missing.count {
            lines.append("  … \(check.missingCount - check.missing.count) more missing")
        }
        lines += check.doubled.map { "  doubled: \($0.input) in \($0.directories.joined(separator: ", "))" }
        if check.doubledCount > check.doubled.count {
            lines.append("  … \(check.doubledCount - check.doubled.count) more doubled")
        }
        lines += check.unread.map { "  not read to the end: \($0)" }
        lines += check.inputErrors.map { "  not a message (an input error of process runs too): \($0)" }
        return lines
    }
}

func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_048_576) }

func duration(_ seconds: Double) -> String {
    if seconds < 1 { return "\(Int((seconds * 1000).rounded())) ms" }
    if seconds < 60 { return "\(Int(seconds)) s" }
    if seconds < 3600 { return "\(Int(seconds / 60)) min" }
    if seconds < 86_400 { return "\(Int(seconds / 3600)) h" }
    return "\(Int(seconds / 86_400)) d"
}

/// The HTML page of a report: one file, inline CSS and SVG, every text from a manifest escaped (reasons quote
/// addresses and Message-IDs from the mail, which anyone can write), and a Content-Security-Policy that lets
/// the page load nothing at all.
struct ReportPage {
    let report: RunReport

    init(_ report: RunReport) { self.report = report }

    static let colours = [
        "failed": "#c0392b", "unverified": "#e67e22", "bounced": "#d35400", "quarantined": "#8e44ad",
        "dropped": "#7f8c8d", "passed": "#95a5a6", "split": "#2980b9",
    ]

    static func colour(_ outcome: String) -> String {
        colours[outcome.hasPrefix("quarantined/") ? "quarantined" : outcome] ?? "#27ae60"
    }

    var html: String {
        var page = """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
            <title>smimegate report</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; max-width: 70em; }
            table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
            th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
            td.n { text-align: right; font-variant-numeric: tabular-nums; }
            svg text { font-family: sans-serif; font-size: 12px; fill: #222; }
            </style></head><body>
            <h1>smimegate report</h1>

            """
        let warnings = report.warnings > 0 ? ", \(report.warnings) with warnings" : ""
        page +=
            "<p>\(report.messages) message(s), \(megabytes(report.bytes)), "
            + "\(report.runs.count) run(s)\(warnings).</p>\n"
        page += "<h2>Runs</h2>\n<table><tr><th>directory</th><th>records</th><th>first</th><th>last</th></tr>\n"
        for run in report.runs {
            page +=
                "<tr><td>\(escape(run.directory))</td><td class=\"n\">\(run.records)</td>"
                + "<td>\(escape(run.first ?? "-"))</td><td>\(escape(run.last ?? "-"))</td></tr>\n"
        }
        page += "</table>\n<h2>Outcomes</h2>\n" + outcomeChart()
        if let pace = report.pace { page += "<h2>Messages per second</h2>\n" + paceChart(pace) }
        if let median = report.medianMs, let p95 = report.p95Ms {
            page += String(format: "<p>Time per message: median %.1f ms, 95th percentile %.1f ms.</p>\n", median, p95)
        }
        page += "<h2>Reasons</h2>\n"
        if report.reasons.isEmpty {
            page += "<p>No message has a reason recorded.</p>\n"
        } else {
            page += "<table><tr><th>outcome</th><th>code</th><th>messages</th><th>most frequent reason</th></tr>\n"
            for reason in report.reasons {
                page +=
                    "<tr><td>\(escape(reason.outcome))</td><td>\(escape(reason.code))</td>"
                    + "<td class=\"n\">\(reason.count)</td><td>\(escape(reason.example))</td></tr>\n"
            }
            page += "</table>\n"
        }
        if let check = report.inputCheck {
            page += "<h2>Exactly once</h2>\n<ul>\n"
            page += Report.text(check).map { "<li>\(escape($0.trimmingCharacters(in: .whitespaces)))</li>\n" }.joined()
            page += "</ul>\n"
        }
        return page + "</body></html>\n"
    }

    /// One horizontal bar per direction and outcome.
    func outcomeChart() -> String {
        let bars = report.outcomes.sorted { $0.key < $1.key }.flatMap { direction, counts in
            counts.sorted { $0.key < $1.key }.map {
                (label: direction + "/" + $0.key, outcome: $0.key, count: $0.value)
            }
        }
        let most = max(1, bars.map(\.count).max() ?? 1)
        let (left, width, row) = (220.0, 460.0, 26.0)
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 90))\" "
            + "height=\"\(Int(row * Double(bars.count) + 10))\" role=\"img\" aria-label=\"messages per outcome\">\n"
        for (index, bar) in bars.enumerated() {
            let y = Double(index) * row + 5
            let length = max(1, width * Double(bar.count) / Double(most))
            svg +=
                "<text x=\"\(Int(left - 8))\" y=\"\(Int(y + 15))\" text-anchor=\"end\">\(escape(bar.label))</text>"
                + "<rect x=\"\(Int(left))\" y=\"\(Int(y))\" width=\"\(String(format: "%.1f", length))\" height=\"20\" "
                + "fill=\"\(Self.colour(bar.outcome))\"/>"
                + "<text x=\"\(String(format: "%.1f", left + length + 6))\" y=\"\(Int(y + 15))\">\(bar.count)</text>\n"
        }
        return svg + "</svg>\n"
    }

    /// Messages per second in each interval, as columns, with the time axis' ends and the peak labelled.
    func paceChart(_ pace: RunReport.Pace) -> String {
        let (left, top, width, height) = (60.0, 10.0, 720.0, 200.0)
        let peak = max(pace.peak, 1)
        let step = width / Double(max(1, pace.messages.count))
        var svg =
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 20))\" "
            + "height=\"\(Int(top + height + 40))\" role=\"img\" aria-label=\"messages per second over time\">\n"
            + "<line x1=\"\(Int(left))\" y1=\"\(Int(top + height))\" x2=\"\(Int(left + width))\" "
            + "y2=\"\(Int(top + height))\" stroke=\"#888\"/>"
            + "<line x1=\"\(Int(left))\" y1=\"\(Int(top))\" x2=\"\(Int(left))\" "
            + "y2=\"\(Int(top + height))\" stroke=\"#888\"/>\n"
            + "<text x=\"\(Int(left - 6))\" y=\"\(Int(top + 10))\" text-anchor=\"end\">"
            + "\(String(format: "%.0f", peak))</text>"
            + "<text x=\"\(Int(left - 6))\" y=\"\(Int(top + height))\" text-anchor=\"end\">0</text>\n"
        for (index, count) in pace.messages.enumerated() where count > 0 {
            let rate = Double(count) / pace.intervalSeconds
            let barHeight = height * rate / peak
            svg +=
                "<rect x=\"\(String(format: "%.1f", left + Double(index) * step))\" "
                + "y=\"\(String(format: "%.1f", top + height - barHeight))\" "
                + "width=\"\(String(format: "%.1f", max(1, step - 1)))\" "
                + "height=\"\(String(format: "%.1f", barHeight))\" "
                + "fill=\"#2c7fb8\"/>\n"
        }
        let end = pace.start + pace.intervalSeconds * Double(pace.messages.count)
        svg +=
            "<text x=\"\(Int(left))\" y=\"\(Int(top + height + 18))\">\(clock(pace.start))</text>"
            + "<text x=\"\(Int(left + width))\" y=\"\(Int(top + height + 18))\" text-anchor=\"end\">"
            + "\(clock(end))</text>"
            + "<text x=\"\(Int(left + width / 2))\" y=\"\(Int(top + height + 34))\" text-anchor=\"middle\">"
            + "UTC, one column per \(duration(pace.intervalSeconds))</text>\n"
        return svg + "</svg>\n"
    }

    func clock(_ seconds: Double) -> String {
        let formatter = ISO8601DateFormatter()
        return escape(formatter.string(from: Date(timeIntervalSince1970: seconds)))
    }

    func escape(_ text: String) -> String {
        var out = ""
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default:
                // Control characters would make the page invalid XML-ish text; show them as U+FFFD.
                out.unicodeScalars.append(character.value < 0x20 && character != "\t" ? "\u{FFFD}" : character)
            }
        }
        return out
    }
}
