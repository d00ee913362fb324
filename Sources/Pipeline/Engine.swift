import CMS
import FileIO
import Foundation
import Locking
import Mailstore
import PKI

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of one `process` run.
public struct RunOptions: Sendable {
    public var outDirectory: String
    public var workers: Int
    public var resume: Bool
    public var progress: Bool
    /// fsync every delivered file, its directory and the manifest after each record
    /// (slower); by default the manifest is synced at the end and the OS flushes the rest.
    public var durable: Bool
    public var mboxFormat: MboxFormat
    /// Remove each maildir input once its outputs and record are durable (implies `durable`).
    public var consume: Bool
    /// With `consume`: move inputs into this maildir instead of removing them.
    public var consumedInto: String?
    /// How long to wait for another run's lock on the output directory.
    public var waitLock: Double
    /// `--deliver`: hand each record's outputs to the mail system right after the record is written.
    public var delivery: (agent: any DeliveryAgent, options: DeliveryOptions)?
    /// Incoming mail: where harvested certificates go (SPEC F21); nil: nowhere.
    public var harvester: Harvester?
    /// One maildir per outcome (default), or one mboxrd file per outcome (`DIR/<outcome>.mbox`).
    public var outFormat: OutputFormat = .maildir
    /// Larger input messages are reported and skipped, never read whole.
    public var maxMessageBytes = MboxReader.defaultMaxMessageBytes
    /// `--shard K/N`: only the inputs of shard K (`Shard`); nil: all of them.
    public var shard: Shard?

    public init(
        outDirectory: String, workers: Int, resume: Bool, progress: Bool, durable: Bool = false,
        mboxFormat: MboxFormat = .mboxrd, consume: Bool = false, consumedInto: String? = nil, waitLock: Double = 0
    ) {
        self.outDirectory = outDirectory
        self.workers = max(1, workers)
        self.resume = resume
        self.progress = progress
        self.durable = durable || consume
        self.mboxFormat = mboxFormat
        self.consume = consume
        self.consumedInto = consumedInto
        self.waitLock = waitLock
    }
}

/// How a run writes its outputs: a maildir per outcome, or one mboxrd file per outcome (archives).
public enum OutputFormat: String, Sendable, CaseIterable {
    case maildir, mbox
}

/// What a run did with one input.
public struct InputCounts: Sendable, Equatable {
    public var input: String
    public var messages = 0
    public var failed = 0
    public var skipped = 0

    public init(input: String) { self.input = input }
}

/// What a run did: messages per outcome, throughput, any input that could not be
/// read, and why it stopped early (a signal, a write error) if it did.
public struct RunSummary: Sendable {
    public var outcomes: [Outcome: Int]
    public var messages: Int
    public var skipped: Int
    public var consumed: Int
    public var warnings: Int
    public var bytes: Int
    public var seconds: Double
    /// With `--shard`: the shard, and the messages and problem entries left to the other shards.
    public var shard: Shard?
    public var otherShards = 0
    public var inputErrors: [String]
    public var stop: PoolStop?
    /// With `--deliver`: what the delivery did.
    public var delivery: DeliverySummary?
    /// Per input, in the order given: messages recorded, failed, and already done.
    public var inputs: [InputCounts] = []

    public var failed: Int { outcomes[.failed, default: 0] }
    public var messagesPerSecond: Double { seconds > 0 ? Double(messages) / seconds : 0 }
    public var megabytesPerSecond: Double { seconds > 0 ? Double(bytes) / 1_048_576 / seconds : 0 }
}

/// The flow of one run (DESIGN.md): the scanner streams messages from the inputs
/// into a `WorkerPool`; each worker runs the job, delivers its outputs (maildir
/// tmp → new) and then appends the manifest record. At most `capacity` messages
/// wait, and at most 2 MiB a worker of them beyond one per worker, so memory is
/// bounded by the workers' messages plus a small queue whatever the corpus size.
/// The output directory is locked for the run; a write error or a signal stops it
/// without losing or half-recording a message.
public enum Engine {
    /// Checks every input before anything runs: '-', a maildir, or an mbox file.
    public static func validate(inputs: [String], consume: Bool = false, sharded: Bool = false) throws {
        if inputs.isEmpty { throw PipelineError("no inputs") }
        if inputs.filter({ $0 == "-" }).count > 1 { throw PipelineError("'-' (standard input) can be given once") }
        if sharded && inputs.contains("-") {
            throw PipelineError("--shard takes maildirs and mbox files: standard input cannot be split")
        }
        var seen = Set<String>()
        for input in inputs where input != "-" && !seen.insert(InputKey.canonical(input)).inserted {
            throw PipelineError("\(input) is given twice")
        }
        for input in inputs {
            if input == "-" {
                if consume { throw PipelineError("--consume takes maildirs only: standard input cannot be consumed") }
                continue
            }
            var info = stat()
            guard stat(input, &info) == 0 else { throw PipelineError("\(input): \(errorText(errno).lowercased())") }
            switch info.st_mode & S_IFMT {
            case S_IFDIR:
                if !MaildirReader.isMaildir(input) { throw PipelineError("\(input): not a maildir (no cur/ or new/)") }
            case S_IFREG:
                if consume {
                    throw PipelineError("\(input): --consume takes maildirs only; an mbox file is never modified")
                }
                // Compressed (gzip, bzip2, xz, zstd): what decompresses must be an mbox.
                let head: [UInt8]
                do {
                    head = try MboxReader.head(of: input, count: 5)
                } catch {
                    // A compressed file broken early is one input's error, reported by its reader: not the run's.
                    if Compression.of(file: input) != nil { continue }
                    throw PipelineError("\(error)")
                }
                if !head.isEmpty && head != Array("From ".utf8) {
                    let what = Compression.of(file: input).map { "decompressed (\($0.rawValue)) it" } ?? "it"
                    throw PipelineError("\(input): not an mbox file (\(what) does not start with \"From \")")
                }
            default:
                throw PipelineError("\(input): not a maildir or an mbox file (not a directory or a regular file)")
            }
        }
    }

    public static func run(inputs: [String], job: any Job, options: RunOptions) throws -> RunSummary {
        // Enough slack that the scanner rarely waits (each wait is a wake-up per message), still a
        // fixed bound; and in bytes: past 2 MiB a worker, a message waits in the scanner until a
        // worker is free, so large messages do not pile up in the queue (bench/README.md, memory).
        let pool = WorkerPool<InputMessage>(
            workers: options.workers, capacity: options.workers * 4 + 4, weight: { $0.bytes.count },
            bytes: options.workers * (2 << 20))
        // With --deliver: the closing sweep over what earlier runs left undelivered.
        let sweep = WorkerPool<Deliverer.Parcel>(
            workers: options.delivery?.options.workers ?? 1, capacity: options.workers * 4 + 4)
        // From the start: a signal during set-up stops the run before its first message.
        let trap = SignalTrap {
            pool.cancel(.signal($0))
            sweep.cancel(.signal($0))
        }
        defer {
            trap.release()
            options.delivery?.agent.finish()
        }
        try validate(inputs: inputs, consume: options.consume, sharded: options.shard != nil)
        let out = options.outDirectory
        try FileSystem.makeDirectories(out)
        try refuseWorldWritable(out)
        let lock = try RunLock.acquire(directory: out, wait: options.waitLock)
        // Two runs consuming one spool would both process and deliver its messages; shards of one split
        // consume disjoint parts of it (`RunLock.consuming`).
        let spoolLocks =
            try options.consume
            ? inputs.flatMap { try RunLock.consuming($0, shard: options.shard, wait: options.waitLock) } : []
        defer { withExtendedLifetime((lock, spoolLocks)) {} }
        let fresh = !FileSystem.exists(out + "/" + ManifestWriter.fileName)
        let (manifest, done) = try ManifestWriter.open(directory: out, resume: options.resume)
        try Shard.claim(options.shard, directory: out, hasRecords: !fresh)
        // After a run that did not end cleanly, outputs it delivered but never recorded are found,
        // to be replaced when their inputs are processed again.
        let stale = done.endedCleanly ? StaleOutputs() : StaleOutputs.scan(out)
        let consumer = try options.consume ? consumer(into: options.consumedInto, inputs: inputs) : nil
        var writers: [Folder: MaildirWriter] = [:]
        var mboxes: [Folder: MboxWriter] = [:]
        if options.outFormat == .mbox {
            mboxes = try mboxWriters(job.folders, out: out, manifest: manifest, fresh: fresh, durable: options.durable)
        } else {
            for folder in job.folders {
                guard let path = folder.path else { continue }
                let writer = try MaildirWriter(out + "/" + path, durable: options.durable)
                writer.removeTemporaryFiles()  // left by an interrupted run: never delivered, never recorded
                writers[folder] = writer
            }
        }
        // Before an input recorded by an earlier run is consumed, that run's outputs and records are made durable.
        if consumer != nil { try FileSystem.syncFileSystem(of: out) }
        if options.delivery != nil { Delivery.ignoreBrokenPipes() }
        let deliverer = try options.delivery.map { try Deliverer(directory: out, agent: $0.agent, options: $0.options) }
        let router = Router(
            writers: writers, manifest: manifest, job: job, options: options, stale: stale, deliverer: deliverer,
            mboxes: mboxes, inputs: inputs)
        let start = ContinuousClock.now

        var stop = pool.run(
            produce: { submit in
                var submitted = 0
                for (origin, input) in inputs.enumerated() {
                    do {
                        var source = try Engine.source(
                            input, format: options.mboxFormat, maxMessageBytes: options.maxMessageBytes,
                            shouldStop: { pool.stop != nil })
                        while pool.stop == nil, let item = try source.next() {
                            if options.progress { router.scanned(origin, consumed: source.consumedBytes) }
                            if let shard = options.shard, !shard.contains(item) {
                                router.leave()
                                continue
                            }
                            switch item {
                            case .problem(let problem):
                                router.inputError(problem.description)
                            case .message(let message)
                            where done.contains(message.key) || message.alias.map(done.contains) == true:
                                router.skip(origin)
                                if let consumer, let file = message.file { router.consume(file, with: consumer) }
                            case .message(var message):
                                message.origin = origin
                                message.sequence = submitted
                                submitted += 1
                                guard submit(message) else { return }
                            }
                        }
                    } catch {
                        router.inputError("\(error)")
                    }
                }
            },
            work: { message in
                let began = ContinuousClock.now
                let result = job.process(message)
                try router.deliver(message, result, elapsed: ContinuousClock.now - began)
                if let consumer, let file = message.file { router.consume(file, with: consumer) }
            })
        do {
            try manifest.sync()
        } catch {
            if stop == nil { stop = .failure("\(error)") }
        }
        router.writeIndex(done)
        if let deliverer, stop == nil {
            stop = deliverer.deliverPending(pool: sweep)  // what earlier runs left deferred or undelivered
        }
        var summary = router.summary(seconds: (ContinuousClock.now - start).seconds)
        summary.stop = stop
        summary.shard = options.shard
        summary.delivery = deliverer?.summary
        return summary
    }

    /// `--out-format mbox`: DIR/<folder>.mbox for each folder, cut back to what the manifest records (a run
    /// killed between an append and its record leaves bytes no record names). Mbox files in a DIR without a
    /// manifest are someone else's: refused, never cut.
    static func mboxWriters(_ folders: [Folder], out: String, manifest: ManifestWriter, fresh: Bool, durable: Bool)
        throws -> [Folder: MboxWriter]
    {
        // A marker says the mbox files are this directory's runs' own: made before the first append, so a run
        // killed before its first record still leaves files that the next one may cut back.
        let marker = out + "/" + mboxMarker
        let ours = !fresh && FileSystem.exists(marker)
        let ends = ours ? try manifest.recordedMboxEnds() : [:]
        var mboxes: [Folder: MboxWriter] = [:]
        for folder in folders {
            guard let file = folder.mboxFile else { continue }
            let path = out + "/" + file
            if !ours, let size = try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int, size > 0 {
                throw PipelineError(
                    "\(path) exists, and no mbox run of smimegate in \(out) wrote it: choose another --out")
            }
            try FileSystem.makeDirectories(FileSystem.split(path).directory)
            mboxes[folder] = try MboxWriter(path, durable: durable, keeping: ends[file] ?? 0)
        }
        if !ours {
            guard
                FileManager.default.createFile(atPath: marker, contents: Data(), attributes: [.posixPermissions: 0o600])
            else { throw WriteError(marker, "create") }
            try FileSystem.syncDirectory(out)
        }
        return mboxes
    }

    /// DIR/.mbox-output: the mbox files in DIR are written by `--out-format mbox` runs.
    static let mboxMarker = ".mbox-output"

    /// An output directory any user may write to could be filled with links that send
    /// mail (plaintext, often) elsewhere: refused, unless sticky like /tmp.
    static func refuseWorldWritable(_ directory: String) throws {
        var info = stat()
        guard stat(directory, &info) == 0 else { return }
        if info.st_mode & S_IWOTH != 0 && info.st_mode & S_ISVTX == 0 {
            throw PipelineError(
                "\(directory) is writable by every user (mode \(String(info.st_mode & 0o7777, radix: 8))): "
                    + "outputs hold mail; make it 0700")
        }
    }

    /// The consumer for `--consume [--consumed-into MAILDIR]`: the target is made
    /// up front and must be on each input's file system (a move is a rename).
    static func consumer(into destination: String?, inputs: [String]) throws -> MaildirConsumer {
        guard let destination else { return try MaildirConsumer(into: nil) }
        let target = URL(fileURLWithPath: destination).standardizedFileURL.path
        for input in inputs where URL(fileURLWithPath: input).standardizedFileURL.path == target {
            throw PipelineError("--consumed-into \(destination) is an input; name another maildir")
        }
        let consumer = try MaildirConsumer(into: destination)
        for input in inputs where FileSystem.device(of: input) != FileSystem.device(of: destination) {
            throw PipelineError(
                "--consumed-into \(destination) is not on the file system of \(input): a move must be a rename")
        }
        return consumer
    }

    static func source(
        _ input: String, format: MboxFormat, maxMessageBytes: Int = MboxReader.defaultMaxMessageBytes,
        shouldStop: (@Sendable () -> Bool)? = nil
    ) throws -> any MessageSource {
        if input == "-" { return StandardInput() }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: input, isDirectory: &isDirectory), isDirectory.boolValue {
            var reader = try MaildirReader(input)
            reader.maxMessageBytes = maxMessageBytes
            return reader
        }
        var reader = try MboxReader(input, format: format)
        reader.maxMessageBytes = maxMessageBytes
        reader.shouldStop = shouldStop
        return reader
    }
}

/// One message on standard input.
struct StandardInput: MessageSource {
    var consumed = false
    mutating func next() throws -> SourceItem? {
        guard !consumed else { return nil }
        consumed = true
        return .message(
            InputMessage(source: "-", offset: nil, bytes: Array(FileHandle.standardInput.readDataToEndOfFile())))
    }
}

/// Delivers results and keeps the run's counters. Files are written by the
/// calling worker in parallel (names are distinct); only the manifest append and
/// the counters take the lock. A message is recorded only once all its outputs
/// are delivered; when a write fails, what it had delivered is taken back and the
/// error goes up to stop the run, so no record names a file that does not exist.
final class Router: Sendable {
    private struct State {
        var outcomes: [Outcome: Int] = [:]
        var messages = 0
        var skipped = 0
        var otherShards = 0
        var consumed = 0
        var warnings = 0
        var bytes = 0
        var inputErrors: [String] = []
        var recorded: RecordedKeys
        var lastProgress = ContinuousClock.now
        var printedProgress = false
        var inputs: [InputCounts] = []
        /// For the estimate: per mbox input, the messages scanned and the bytes of the file read for them.
        var scanned: [Int: (messages: Int, consumed: Int)] = [:]
    }

    private let writers: [Folder: MaildirWriter]
    private let manifest: ManifestWriter
    private let operation: String
    private let profile: String?
    private let policyDigest: String?
    private let options: RunOptions
    private let stale: StaleOutputs
    private let deliverer: Deliverer?
    /// `--out-format mbox`: one mbox file per folder, and the turns that order appends with their records.
    private let mboxes: [Folder: MboxWriter]
    private let turns = Turns()
    private let started = ContinuousClock.now
    private let state: Locked<State>
    /// With a progress line: how much each input holds, counted before the run.
    private let plan: [Planned]

    /// An input's size for the estimate of what is left: a maildir's files, an mbox file's bytes.
    enum Planned {
        case messages(Int)
        case bytes(Int)

        init(_ input: String) {
            if input == "-" {
                self = .messages(1)
            } else if MaildirReader.isMaildir(input) {
                self = .messages(["new", "cur"].reduce(0) { $0 + MaildirReader.count(input + "/" + $1) })
            } else {
                self = .bytes((try? FileManager.default.attributesOfItem(atPath: input)[.size] as? Int) ?? 0)
            }
        }
    }

    init(
        writers: [Folder: MaildirWriter], manifest: ManifestWriter, job: any Job, options: RunOptions,
        stale: StaleOutputs = StaleOutputs(), deliverer: Deliverer? = nil, mboxes: [Folder: MboxWriter] = [:],
        inputs: [String] = []
    ) {
        self.state = Locked(
            State(recorded: RecordedKeys(directory: options.outDirectory), inputs: inputs.map(InputCounts.init)))
        self.mboxes = mboxes
        self.plan = options.progress ? inputs.map(Planned.init) : []
        self.stale = stale
        self.deliverer = deliverer
        self.writers = writers
        self.manifest = manifest
        self.operation = job.operation
        self.profile = job.profileName
        self.policyDigest = job.policyDigest
        self.options = options
    }

    func deliver(_ input: InputMessage, _ result: JobResult, elapsed: Duration) throws {
        let record: ManifestRecord
        if mboxes.isEmpty {
            // Files are written by the calling worker in parallel; only the record takes the lock.
            record = try recorded(input, result, elapsed: elapsed, written: try writeMaildirs(input, result))
        } else {
            // Appends and their records in input order, one at a time: a record's offsets are where its
            // outputs are, and the files are the same whatever order the workers finish in (or a resume).
            record = try turns.take(input.sequence) {
                try recorded(input, result, elapsed: elapsed, written: try appendMboxes(result))
            }
        }
        try deliverer?.deliver(record)
    }

    /// What a result's outputs became: the manifest's entries for them, and how to take them back.
    private struct Written {
        var files: [ManifestRecord.File] = []
        var undo: () -> Void = {}
    }

    /// The envelope sender of one output: the null reverse-path for what the gateway wrote itself.
    private func sender(of output: Output, _ result: JobResult) -> String? {
        output.folder.generated && result.sender != "<>" ? "<>" : nil
    }

    private func writeMaildirs(_ input: InputMessage, _ result: JobResult) throws -> Written {
        let name = CMS.hex(CMS.sha256(Array(input.key.utf8), [0], input.bytes).prefix(12))
        var written = Written()
        var delivered: [(MaildirWriter, String)] = []
        do {
            for (index, output) in result.outputs.enumerated() {
                guard let path = output.folder.path, let writer = writers[output.folder] else {
                    throw PipelineError("no folder for \(output.folder)")
                }
                let file = "\(name).\(result.outcome.name).\(index)"
                try writer.deliver(output.bytes, name: file)
                delivered.append((writer, file))
                written.files.append(
                    ManifestRecord.File(
                        file: "\(path)/new/\(file)", recipients: output.recipients, policy: output.policy,
                        filters: output.filters, profile: output.profile, sender: sender(of: output, result)))
            }
        } catch {
            for (writer, file) in delivered { writer.withdraw(name: file) }
            throw error
        }
        written.undo = { for (writer, file) in delivered { writer.withdraw(name: file) } }
        stale.remove(prefix: name, keeping: Set(delivered.map { $0.0.root + "/new/" + $0.1 }))
        return written
    }

    /// `--out-format mbox`: each output appended to its outcome's mbox file (in its turn).
    private func appendMboxes(_ result: JobResult) throws -> Written {
        var appended: [(MboxWriter, Int)] = []
        func undo() { for (writer, size) in appended.reversed() { writer.truncate(to: size) } }
        var written = Written()
        do {
            for output in result.outputs {
                guard let file = output.folder.mboxFile, let writer = mboxes[output.folder] else {
                    throw PipelineError("no mbox file for \(output.folder)")
                }
                let envelope = sender(of: output, result) ?? result.sender ?? "<>"
                let date = MboxWriter.date(of: output.bytes) ?? Date(timeIntervalSince1970: 0)
                appended.append((writer, writer.size))
                let (offset, length) = try writer.append(output.bytes, sender: envelope, date: date)
                var entry = ManifestRecord.File(
                    file: file, recipients: output.recipients, policy: output.policy, filters: output.filters,
                    profile: output.profile, sender: sender(of: output, result))
                (entry.offset, entry.length) = (offset, length)
                written.files.append(entry)
            }
            if options.durable { for (writer, _) in appended { try writer.sync() } }
        } catch {
            undo()
            throw error
        }
        written.undo = undo
        return written
    }

    /// Stores what was harvested, then appends the record; when that fails, the outputs are taken back.
    private func recorded(_ input: InputMessage, _ result: JobResult, elapsed: Duration, written: Written) throws
        -> ManifestRecord
    {
        var alerts: [String] = []
        var warning = result.warning
        if let harvester = options.harvester, !result.harvest.isEmpty {
            let stored = harvester.store(result.harvest, rules: result.harvestRules)
            alerts = stored.alerts
            if let problem = stored.problem { warning = [warning, problem].compactMap { $0 }.joined(separator: "; ") }
        }
        var record = ManifestRecord(
            input: input.source, offset: input.offset, messageId: result.messageID, direction: operation,
            outcome: result.outcome.name, quarantine: result.outcome.quarantine, policySha256: policyDigest,
            profile: profile, outputs: written.files, reason: result.reason?.description,
            reasonCode: result.reason?.code, signer: result.signer, sender: result.sender, warning: warning,
            authenticated: result.authenticated, bytes: input.bytes.count,
            elapsedMs: (elapsed.seconds * 1000 * 100).rounded() / 100)
        record.revocation = result.revocation
        record.time = RecordTime.now()
        record.alerts = alerts.isEmpty ? nil : alerts
        if let moment = result.moment, moment.source != .now {
            record.validationTime = ISO8601DateFormatter().string(from: moment.time)
            record.validationTimeSource = moment.source.rawValue
        }
        try state.withLock { state in
            do {
                try manifest.append(record)  // cut back off when it fails: then the outputs go too
            } catch {
                written.undo()
                throw error
            }
            state.recorded.append(KeyHash(record.key))
            state.outcomes[result.outcome, default: 0] += 1
            state.messages += 1
            if state.inputs.indices.contains(input.origin) {
                state.inputs[input.origin].messages += 1
                if result.outcome == .failed { state.inputs[input.origin].failed += 1 }
            }
            state.bytes += input.bytes.count
            if record.warning != nil { state.warnings += 1 }
            if options.progress { progress(&state) }
            // A failed sync leaves the record and its outputs in place (they agree) and stops the run:
            // the input is not consumed, since what it was consumed for is not known to be on disk.
            if options.durable { try manifest.sync() }
        }
        return record
    }

    private func progress(_ state: inout State) {
        let now = ContinuousClock.now
        guard now - state.lastProgress > .milliseconds(200) else { return }
        state.lastProgress = now
        state.printedProgress = true
        let rate = Double(state.messages) / max((now - started).seconds, 0.001)
        var line = "\r\(state.messages) messages"
        let done = state.messages + state.skipped
        let total = max(estimatedTotal(state), Double(done))
        if total > 0 { line += " of ~\(Int(total.rounded()))" }
        line += ", \(String(format: "%.1f", rate)) messages/s, \(state.outcomes[.failed, default: 0]) failed"
        if rate > 0 && total > 0 {
            let left = Int(((total - Double(done)) / rate).rounded())
            line += String(format: ", ETA %d:%02d:%02d", left / 3600, left / 60 % 60, left % 60)
        }
        FileHandle.standardError.write(Data((line + "  ").utf8))
    }

    /// How many messages the inputs hold, by the plan: a maildir's files; for an mbox, its size over the
    /// bytes each message scanned so far took (4 KiB each before the first).
    private func estimatedTotal(_ state: State) -> Double {
        var total = 0.0
        for (origin, planned) in plan.enumerated() {
            switch planned {
            case .messages(let count): total += Double(count)
            case .bytes(let size):
                if let (messages, consumed) = state.scanned[origin], messages > 0, consumed > 0 {
                    total += Double(messages) * Double(size) / Double(consumed)
                } else {
                    total += Double(size) / 4096
                }
            }
        }
        return total
    }

    /// The scanner's note: one more item of input `origin`, the file read up to `consumed` bytes.
    func scanned(_ origin: Int, consumed: Int) {
        state.withLock { state in
            let seen = state.scanned[origin]?.messages ?? 0
            state.scanned[origin] = (seen + 1, consumed)
        }
    }

    /// `--consume`: the input goes once its record is durable; a failure is reported, and
    /// the next run (which skips the recorded input) tries again.
    func consume(_ file: MaildirFile, with consumer: MaildirConsumer) {
        do {
            try consumer.consume(file)
            state.withLock { $0.consumed += 1 }
        } catch {
            inputError("\(error)")
        }
    }

    func skip(_ origin: Int) {
        state.withLock { state in
            state.skipped += 1
            if state.inputs.indices.contains(origin) { state.inputs[origin].skipped += 1 }
        }
    }
    /// An item of another shard's.
    func leave() { state.withLock { $0.otherShards += 1 } }
    func inputError(_ message: String) { state.withLock { $0.inputErrors.append(message) } }
    /// DIR/manifest.index: the earlier runs' index and this run's records (at the end of a run).
    func writeIndex(_ done: ResumeIndex) { state.withLock { manifest.writeIndex(done, adding: $0.recorded) } }

    func summary(seconds: Double) -> RunSummary {
        state.withLock { state in
            if state.printedProgress { FileHandle.standardError.write(Data("\n".utf8)) }
            var summary = RunSummary(
                outcomes: state.outcomes, messages: state.messages, skipped: state.skipped, consumed: state.consumed,
                warnings: state.warnings, bytes: state.bytes, seconds: seconds, inputErrors: state.inputErrors,
                stop: nil)
            summary.inputs = state.inputs
            summary.otherShards = state.otherShards
            return summary
        }
    }
}

/// Turns in sequence order: `take(n)` runs its body once every turn before n has been taken. The
/// workers take messages from a FIFO queue, so every earlier turn is held by a running worker (or was
/// dropped with the rest of the queue by a stop, after every held one): the wait always ends. After
/// a turn that threw, the later ones throw too: nothing is appended past a failed record.
///
/// Unchecked Sendable, because every access to `next` and `failure` is under `condition`.
final class Turns: @unchecked Sendable {
    private let condition = NSCondition()
    private var next = 0
    /// What the failed turn threw: the later turns throw it too, so the run's one-line error names
    /// the real cause (a full disk and its file) whichever worker reports first.
    private var failure: (any Error)? = nil

    func take<T>(_ turn: Int, _ body: () throws -> T) throws -> T {
        condition.lock()
        defer { condition.unlock() }
        while next != turn && failure == nil { condition.wait() }
        if let failure { throw failure }
        do {
            let value = try body()
            next += 1
            condition.broadcast()
            return value
        } catch {
            failure = error
            condition.broadcast()
            throw error
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
