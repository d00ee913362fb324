import CMS
import Foundation
import Mailstore
import Synchronization

/// Settings of one `process` run.
public struct RunOptions: Sendable {
    public var outDirectory: String
    public var workers: Int
    public var resume: Bool
    public var progress: Bool
    /// fsync every delivered file and the manifest after each record (slower);
    /// by default the manifest is synced at the end and the OS flushes the rest.
    public var durable: Bool
    public var mboxFormat: MboxFormat

    public init(outDirectory: String, workers: Int, resume: Bool, progress: Bool, durable: Bool = false, mboxFormat: MboxFormat = .mboxrd) {
        self.outDirectory = outDirectory
        self.workers = max(1, workers)
        self.resume = resume
        self.progress = progress
        self.durable = durable
        self.mboxFormat = mboxFormat
    }
}

/// What a run did: messages per outcome, throughput, and any input that could not be read.
public struct RunSummary: Codable, Sendable {
    public var outcomes: [String: Int]
    public var messages: Int
    public var skipped: Int
    public var bytes: Int
    public var seconds: Double
    public var inputErrors: [String]

    public var failed: Int { outcomes["failed", default: 0] }
    public var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1_048_576 / seconds : 0 }
}

/// The flow of one run (DESIGN.md): a scanner thread streams messages from the
/// inputs into a bounded queue; N worker threads run the job; each worker
/// delivers its outputs (maildir tmp → new) and then appends the manifest
/// record. At most `capacity` messages are in flight, so memory is bounded by
/// workers × message size whatever the corpus size.
public enum Engine {
    /// Checks every input before anything runs: '-', a maildir, or an mbox file.
    public static func validate(inputs: [String]) throws {
        if inputs.isEmpty { throw PipelineError("no inputs") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw PipelineError("'-' (standard input) can be given once") }
        for input in inputs where input != "-" {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory) else {
                throw PipelineError("\(input): no such file or directory")
            }
            if isDirectory.boolValue {
                if !MaildirReader.isMaildir(input) { throw PipelineError("\(input): not a maildir (no cur/ or new/)") }
            } else {
                guard let handle = FileHandle(forReadingAtPath: input) else { throw PipelineError("\(input): cannot read") }
                let head = (try? handle.read(upToCount: 5)) ?? Data()
                try? handle.close()
                if !head.isEmpty && head != Data("From ".utf8) {
                    throw PipelineError("\(input): not an mbox file (it does not start with \"From \")")
                }
            }
        }
    }

    public static func run(inputs: [String], job: any Job, options: RunOptions) throws -> RunSummary {
        try validate(inputs: inputs)
        try FileManager.default.createDirectory(atPath: options.outDirectory, withIntermediateDirectories: true)
        let (manifest, done) = try ManifestWriter.open(directory: options.outDirectory, resume: options.resume)
        var writers: [String: MaildirWriter] = [:]
        for folder in job.folders {
            let writer = try MaildirWriter(options.outDirectory + "/" + folder, durable: options.durable)
            writer.removeTemporaryFiles()  // left by an interrupted run: never delivered, never recorded
            writers[folder] = writer
        }
        let router = Router(writers: writers, manifest: manifest, job: job, options: options)
        // Enough slack that the scanner rarely waits (each wait is a wake-up per message),
        // still a fixed bound: memory stays (queue + workers) × message size.
        let queue = BoundedQueue<InputMessage>(capacity: options.workers * 4 + 4)
        let start = ContinuousClock.now
        let group = DispatchGroup()

        group.enter()
        Thread.detachNewThread {
            defer {
                queue.close()
                group.leave()
            }
            for input in inputs {
                do {
                    var source = try Engine.source(input, format: options.mboxFormat)
                    while let message = try source.next() {
                        if done.contains(message.key) {
                            router.skip()
                            continue
                        }
                        queue.push(message)
                    }
                } catch {
                    router.inputError("\(error)")
                }
            }
        }
        for _ in 0..<options.workers {
            group.enter()
            Thread.detachNewThread {
                defer { group.leave() }
                while let message = queue.pop() {
                    let began = ContinuousClock.now
                    let result = job.process(message)
                    router.deliver(message, result, elapsed: ContinuousClock.now - began)
                }
            }
        }
        group.wait()
        manifest.sync()
        return router.summary(seconds: (ContinuousClock.now - start).seconds)
    }

    static func source(_ input: String, format: MboxFormat) throws -> any MessageSource {
        if input == "-" { return StandardInput() }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
            return try MaildirReader(input)
        }
        return try MboxReader(input, format: format)
    }
}

/// One message on standard input.
struct StandardInput: MessageSource {
    var consumed = false
    mutating func next() throws -> InputMessage? {
        guard !consumed else { return nil }
        consumed = true
        return InputMessage(source: "-", offset: nil, bytes: Array(FileHandle.standardInput.readDataToEndOfFile()))
    }
}

/// Delivers results and keeps the run's counters. Files are written by the
/// calling worker in parallel (names are distinct); only the manifest append and
/// the counters take the lock.
final class Router: Sendable {
    private struct State {
        var outcomes: [String: Int] = [:]
        var messages = 0
        var skipped = 0
        var bytes = 0
        var inputErrors: [String] = []
        var lastProgress = ContinuousClock.now
        var printedProgress = false
    }

    private let writers: [String: MaildirWriter]
    private let manifest: ManifestWriter
    private let direction: String
    private let profile: String?
    private let options: RunOptions
    private let started = ContinuousClock.now
    private let state = Mutex(State())

    init(writers: [String: MaildirWriter], manifest: ManifestWriter, job: any Job, options: RunOptions) {
        self.writers = writers
        self.manifest = manifest
        self.direction = job.direction
        self.profile = job.profileName
        self.options = options
    }

    func deliver(_ input: InputMessage, _ result: JobResult, elapsed: Duration) {
        var result = result
        let name = CMS.sha256(Array(input.key.utf8), [0], input.bytes).prefix(12).map { String(format: "%02x", $0) }.joined()
        var files: [ManifestRecord.File] = []
        for (index, output) in result.outputs.enumerated() {
            do {
                guard let writer = writers[output.folder] else { throw PipelineError("no outcome folder \(output.folder)") }
                try writer.deliver(output.bytes, name: "\(name).\(result.outcome).\(index)")
                files.append(
                    ManifestRecord.File(file: "\(output.folder)/new/\(name).\(result.outcome).\(index)", recipients: output.recipients))
            } catch {
                result.reason = "delivery failed: \(error)"
                result.outcome = "failed"
            }
        }
        let record = ManifestRecord(
            input: input.source, offset: input.offset, messageId: result.messageID, direction: direction, outcome: result.outcome,
            profile: profile, outputs: files, reason: result.reason, signer: result.signer, warning: result.warning, bytes: input.bytes.count,
            elapsedMs: (elapsed.seconds * 1000 * 100).rounded() / 100)
        state.withLock { state in
            do {
                try manifest.append(record)
                if options.durable { manifest.sync() }
            } catch {
                state.inputErrors.append("\(error)")
            }
            state.outcomes[record.outcome, default: 0] += 1
            state.messages += 1
            state.bytes += input.bytes.count
            if options.progress {
                let now = ContinuousClock.now
                if now - state.lastProgress > .milliseconds(200) {
                    state.lastProgress = now
                    state.printedProgress = true
                    let rate = Double(state.messages) / max((now - started).seconds, 0.001)
                    let line =
                        "\r\(state.messages) messages, \(String(format: "%.1f", rate)) messages/s, \(state.outcomes["failed", default: 0]) failed  "
                    FileHandle.standardError.write(Data(line.utf8))
                }
            }
        }
    }

    func skip() { state.withLock { $0.skipped += 1 } }
    func inputError(_ message: String) { state.withLock { $0.inputErrors.append(message) } }

    func summary(seconds: Double) -> RunSummary {
        state.withLock { state in
            if state.printedProgress { FileHandle.standardError.write(Data("\n".utf8)) }
            return RunSummary(
                outcomes: state.outcomes, messages: state.messages, skipped: state.skipped, bytes: state.bytes, seconds: seconds,
                inputErrors: state.inputErrors)
        }
    }
}

/// A bounded multi-producer, multi-consumer queue: `push` blocks while it is
/// full (back-pressure on the scanner), `pop` blocks while it is empty and
/// returns nil once it is closed and drained.
final class BoundedQueue<Element: Sendable>: Sendable {
    private let slots: DispatchSemaphore
    private let items = DispatchSemaphore(value: 0)
    private let storage = Mutex<(buffer: [Element], head: Int, closed: Bool)>(([], 0, false))

    init(capacity: Int) { slots = DispatchSemaphore(value: max(1, capacity)) }

    func push(_ element: Element) {
        slots.wait()
        storage.withLock { $0.buffer.append(element) }
        items.signal()
    }

    func pop() -> Element? {
        items.wait()
        let element: Element? = storage.withLock { state in
            guard state.head < state.buffer.count else { return nil }  // closed and drained
            let element = state.buffer[state.head]
            state.head += 1
            if state.head > 64 && state.head * 2 > state.buffer.count {
                state.buffer.removeFirst(state.head)
                state.head = 0
            }
            return element
        }
        guard let element else {
            items.signal()  // wake the next waiting worker so it sees the end too
            return nil
        }
        slots.signal()
        return element
    }

    func close() {
        storage.withLock { $0.closed = true }
        items.signal()
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
