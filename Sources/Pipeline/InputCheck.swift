import FileIO
import Foundation
import Mailstore

/// `report DIR... --inputs INPUT...`: whether every message of the inputs is recorded exactly once across
/// the directories — the check after a sharded run (or any set of runs meant to split a corpus). The
/// inputs are scanned as `process` scans them; entries that are not messages (symbolic links, FIFOs,
/// unreadable or oversized files) are input errors there and are listed, not counted as missing.
/// Memory: a 16-byte hash and a few counters per record, not the records.
public struct InputCheck: Sendable, Encodable {
    /// A message recorded in more than one place: its key and the directories (one per record).
    public struct Doubled: Sendable, Encodable {
        public var input: String
        public var directories: [String]
    }

    public var messages = 0
    public var recorded = 0
    /// The first `limit` missing inputs (paths, "path@offset" in an mbox), and how many in all.
    public var missing: [String] = []
    public var missingCount = 0
    public var doubled: [Doubled] = []
    public var doubledCount = 0
    /// Records whose input is not among the inputs scanned (an earlier run's, another corpus's).
    public var notInInputs = 0
    /// Entries of the inputs that are not messages, as `process` reports them.
    public var inputErrors: [String] = []
    /// Inputs that could not be read to the end: what follows the error was not checked.
    public var unread: [String] = []

    public var exactlyOnce: Bool { missingCount == 0 && doubledCount == 0 && unread.isEmpty }

    enum CodingKeys: String, CodingKey {
        case messages, recorded, missing, doubled
        case missingCount = "missing_count", doubledCount = "doubled_count", notInInputs = "not_in_inputs"
        case inputErrors = "input_errors", exactlyOnce = "exactly_once", unread
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(exactlyOnce, forKey: .exactlyOnce)
        try container.encode(messages, forKey: .messages)
        try container.encode(recorded, forKey: .recorded)
        try container.encode(missingCount, forKey: .missingCount)
        try container.encode(missing, forKey: .missing)
        try container.encode(doubledCount, forKey: .doubledCount)
        try container.encode(doubled, forKey: .doubled)
        try container.encode(notInInputs, forKey: .notInInputs)
        try container.encode(inputErrors, forKey: .inputErrors)
        try container.encode(unread, forKey: .unread)
    }

    /// Where a key was recorded: the first directory, how many records in all, and whether an input had it.
    private struct Entry {
        var first: Int32
        var second: Int32 = 0
        var count: Int32 = 1
        var found = false
    }

    /// Reads the manifests of `directories`, then scans `inputs`; `PipelineError` when a manifest or an
    /// input cannot be read at all. At most `limit` missing and doubled inputs are named.
    public static func run(
        directories: [String], inputs: [String], format: MboxFormat = .mboxrd,
        maxMessageBytes: Int = MboxReader.defaultMaxMessageBytes, limit: Int = 20
    ) throws -> InputCheck {
        if inputs.contains("-") { throw PipelineError("--inputs takes maildirs and mbox files, not standard input") }
        try Engine.validate(inputs: inputs)
        var seen = Set<String>()
        for directory in directories where !seen.insert(InputKey.canonical(directory)).inserted {
            throw PipelineError("\(directory) is given twice: its records would count as doubled")
        }
        var check = InputCheck()
        var entries: [KeyHash: Entry] = [:]
        for (index, directory) in directories.enumerated() {
            try AppendOnlyLog.forEachLine(path: directory + "/" + ManifestWriter.fileName) { line, _ in
                guard let record = JSONValue.parse(line), let input = record["input"]?.string else { return }
                check.recorded += 1
                let key = KeyHash(InputKey.of(source: input, offset: record["offset"]?.integer))
                if var entry = entries[key] {
                    entry.count += 1
                    if entry.count == 2 { entry.second = Int32(index) }
                    entries[key] = entry
                } else {
                    entries[key] = Entry(first: Int32(index))
                }
            }
        }
        for input in inputs {
            do {
                var source = try Engine.source(input, format: format, maxMessageBytes: maxMessageBytes)
                while let item = try source.next() {
                    switch item {
                    case .problem(let problem) where problem.folder:
                        check.unread.append(problem.description)
                    case .problem(let problem):
                        check.inputErrors.append(problem.description)
                    case .message(let message):
                        check.messages += 1
                        let hash = KeyHash(message.key)
                        // Named by its path (a maildir file in new/ or cur/), not its key.
                        let shown = message.offset.map { "\(message.source)@\($0)" } ?? message.source
                        let alias = message.alias.map(KeyHash.init)
                        guard let key = entries[hash] != nil ? hash : alias.flatMap({ entries[$0] != nil ? $0 : nil })
                        else {
                            check.missingCount += 1
                            if check.missing.count < limit { check.missing.append(shown) }
                            continue
                        }
                        let entry = entries[key]!
                        entries[key]!.found = true
                        guard entry.count > 1 else { continue }
                        check.doubledCount += 1
                        if check.doubled.count < limit {
                            check.doubled.append(
                                Doubled(
                                    input: shown,
                                    directories: [directories[Int(entry.first)], directories[Int(entry.second)]]
                                        + (entry.count > 2 ? ["(\(entry.count) records in all)"] : [])))
                        }
                    }
                }
            } catch {
                check.unread.append("\(error)")
            }
        }
        check.notInInputs = entries.values.reduce(0) { $0 + ($1.found ? 0 : Int($1.count)) }
        return check
    }
}
