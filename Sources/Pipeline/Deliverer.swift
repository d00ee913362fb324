import CMS
import FileIO
import Foundation
import MIME
import Mailstore
import Submission
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// Settings of a delivery (`smimegate deliver`, `process --deliver`).
public struct DeliveryOptions: Sendable {
    /// The folders delivered by default: every outcome that is mail for someone, both
    /// directions, and the notices filters sent. Never quarantined/ or failed/.
    public static let defaultFolders: [String] = [
        "signed", "encrypted", "split", "bounced", "passed", "verified", "decrypted", "unverified", "notifications",
    ]
    public static let neverDelivered: [String] = ["failed", "quarantined"]

    public var folders: Set<String>
    /// Remove each output once every one of its recipients has a final result.
    public var consume: Bool
    public var workers: Int
    /// The name DSNs give as the reporting MTA.
    public var reportingHost: String
    /// fsync the delivery log after each record (implied by `consume`).
    public var durable: Bool

    public init(
        folders: [String] = defaultFolders, consume: Bool = false, workers: Int = 2, reportingHost: String,
        durable: Bool = false
    ) throws {
        if folders.isEmpty { throw PipelineError("no folder named") }
        for folder in folders where Self.neverDelivered.contains(folder) || folder.hasPrefix("quarantined/") {
            throw PipelineError("\(folder): quarantined and failed mail is never delivered")
        }
        for folder in folders where !Self.defaultFolders.contains(folder) {
            throw PipelineError(
                "\(folder): not an outcome that is delivered (\(Self.defaultFolders.joined(separator: ", ")))")
        }
        self.folders = Set(folders)
        self.consume = consume
        self.workers = max(1, workers)
        self.reportingHost = reportingHost
        self.durable = durable || consume
    }
}

/// What a delivery did, counted per recipient (an output to three people is three).
public struct DeliverySummary: Sendable {
    public var recipients: [DeliveryResult: Int] = [:]
    /// Outputs submitted (once each per attempt).
    public var submitted = 0
    /// Outputs with nothing left to do, skipped.
    public var alreadyDone = 0
    /// Outputs for no recipient (incoming mail for no one of ours): nothing to send.
    public var unaddressed = 0
    /// DSNs made from rejections.
    public var bounces = 0
    /// Output files removed (`consume`).
    public var consumed = 0
    /// Outputs that could not be read or are not ours to deliver, one line each.
    public var problems: [String] = []
    /// Directories skipped because another run held their lock (the others were delivered).
    public var locked: [String] = []
    public var seconds = 0.0
    public var stop: PoolStop?

    public var deferred: Int { recipients[.deferred, default: 0] }
    public var rejected: Int { recipients[.rejected, default: 0] }

    mutating func merge(_ other: DeliverySummary) {
        for (result, count) in other.recipients { recipients[result, default: 0] += count }
        submitted += other.submitted
        alreadyDone += other.alreadyDone
        unaddressed += other.unaddressed
        bounces += other.bounces
        consumed += other.consumed
        problems += other.problems
        locked += other.locked
        seconds += other.seconds
        stop = stop ?? other.stop
    }
}

/// Delivers the outputs of one output directory (the caller holds its lock): each output
/// recorded in DIR/manifest.jsonl whose folder is chosen, with the manifest's envelope —
/// MAIL FROM its `sender` ("<>" for DSNs and notices), RCPT TO exactly its `recipients` —
/// to each recipient that DIR/delivery.jsonl does not already settle. Every attempt is
/// recorded there before the next step. A rejection of outgoing mail becomes a DSN to its
/// sender in DIR/bounced/, delivered in turn.
///
/// Exactly once: a recipient is submitted again only while no final result is recorded for
/// it. The one window is between the server's acceptance and the record's write: a process
/// killed there submits that message once more on the next run (at most one per worker).
public final class Deliverer: Sendable {
    /// One output on its way: where it is, its envelope, and whether a rejection is answered with a DSN.
    struct Parcel: Sendable {
        let file: String
        let sender: String
        let recipients: [String]
        let bounceable: Bool
    }

    let directory: String
    let agent: any DeliveryAgent
    let options: DeliveryOptions
    private let log: DeliveryLog
    /// DIR/bounced/, made at the first DSN (an incoming run's DIR has none otherwise).
    private let bounced = Locked<MaildirWriter?>(nil)
    /// Outputs handed over during this process: the closing sweep does not try them again.
    private let attempted = Locked<Set<String>>([])
    private let counters = Locked(DeliverySummary())

    public init(directory: String, agent: any DeliveryAgent, options: DeliveryOptions) throws {
        self.directory = directory
        self.agent = agent
        self.options = options
        log = try DeliveryLog(
            directory: directory,
            manifest: FileIdentity(path: directory + "/" + ManifestWriter.fileName))
    }

    private let created = ContinuousClock.now

    /// What it did so far; `seconds` since it was made.
    public var summary: DeliverySummary {
        var summary = counters.withLock { $0 }
        summary.seconds = (ContinuousClock.now - created).seconds
        return summary
    }

    /// Delivers the outputs of one manifest record (right after `process` wrote it).
    func deliver(_ record: ManifestRecord) throws {
        for parcel in parcels(record) { try deliver(parcel) }
    }

    /// Delivers everything the manifest and the log leave pending, on `options.workers` workers;
    /// then records in DIR/delivery.state how far the manifest is settled, so the next run starts there.
    func deliverPending(pool: WorkerPool<Parcel>) -> PoolStop? {
        let manifestPath = directory + "/" + ManifestWriter.fileName
        var manifest: FileIdentity? = nil
        var start = 0
        /// Where the manifest is read from: the last run's settled position, when it holds for this file.
        func startingPoint(_ identity: FileIdentity) -> Int {
            manifest = identity
            guard let state = log.resumedFrom, state.manifest.holds(state.manifestOffset, in: identity) else {
                return 0
            }
            start = state.manifestOffset
            return start
        }
        let stop = pool.run(
            produce: { submit in
                do {
                    var line = 0
                    try AppendOnlyLog.forEachLine(path: manifestPath, start: startingPoint) { bytes, _ in
                        line += 1
                        guard pool.stop == nil else { return }
                        guard let record = JSONValue.parse(bytes).flatMap(ManifestRecord.envelope) else {
                            problem("\(manifestPath): line \(line) after byte \(start): not a manifest record")
                            return
                        }
                        for parcel in parcels(record, skippingAttempted: true) {
                            guard submit(parcel) else { return }
                        }
                    }
                    // DSNs made by earlier runs that are not delivered yet.
                    for (file, recipient) in log.current.bounces where pool.stop == nil {
                        let parcel = Parcel(file: file, sender: "", recipients: [recipient], bounceable: false)
                        if attempted.withLock({ $0.contains(file) }) { continue }
                        guard let pending = pendingParcel(parcel) else { continue }
                        guard submit(pending) else { return }
                    }
                } catch {
                    problem("\(error)")
                }
            },
            work: { parcel in try self.deliver(parcel) })
        if stop == nil, let manifest { checkpoint(manifestPath, manifest, from: start) }
        return stop
    }

    /// The settled prefix of the manifest from `start`: records whose every output that any delivery
    /// would send (the default folders, with recipients) has no recipient left. What lies beyond it is
    /// remembered; what lies in it never needs reading again.
    private func checkpoint(_ manifestPath: String, _ identity: FileIdentity, from start: Int) {
        var settledUpTo = start
        var prefix = true
        var settledFiles = Set<String>()
        do {
            try AppendOnlyLog.forEachLine(path: manifestPath, start: { _ in start }) { bytes, end in
                guard prefix, end <= identity.length else { return }
                guard let record = JSONValue.parse(bytes).flatMap(ManifestRecord.envelope) else {
                    prefix = false
                    return
                }
                let outputs = record.outputs.filter {
                    Self.folder(of: $0.file).map(DeliveryOptions.defaultFolders.contains) == true
                }
                guard outputs.allSatisfy({ log.pending($0.file, of: $0.recipients).isEmpty }) else {
                    prefix = false
                    return
                }
                settledFiles.formUnion(outputs.map(\.file))
                settledUpTo = end
            }
        } catch {
            return
        }
        log.checkpoint(directory: directory, manifest: identity, offset: settledUpTo) { !settledFiles.contains($0) }
    }

    /// The chosen outputs of `record`, each with the recipients still pending; `skippingAttempted`:
    /// not those handed over earlier in this process (the sweep after `process --deliver`).
    func parcels(_ record: ManifestRecord, skippingAttempted: Bool = false) -> [Parcel] {
        var parcels: [Parcel] = []
        for output in record.outputs {
            if skippingAttempted && attempted.withLock({ $0.contains(output.file) }) { continue }
            guard let folder = Self.folder(of: output.file) else {
                problem("\(directory)/\(ManifestWriter.fileName): \(output.file) is not an output file of ours")
                continue
            }
            guard options.folders.contains(folder) else { continue }
            if output.recipients.isEmpty {
                // Incoming mail for no one of ours, or a message that named no one: nothing to send.
                counters.withLock { $0.unaddressed += 1 }
                continue
            }
            guard let sender = output.sender ?? record.sender else {
                problem(
                    "\(directory)/\(output.file): the manifest records no envelope sender "
                        + "(written by an older smimegate); process the input again to deliver it")
                continue
            }
            let generated = sender == "<>"
            let parcel = Parcel(
                file: output.file, sender: generated ? "" : sender, recipients: output.recipients,
                bounceable: record.direction == Direction.outgoing.rawValue && !generated
                    && folder != Outcome.bounced.name && folder != "notifications")
            if let pending = pendingParcel(parcel) { parcels.append(pending) }
        }
        return parcels
    }

    /// The parcel cut down to its unsettled recipients; nil (counted, and consumed when asked) when none is left.
    private func pendingParcel(_ parcel: Parcel) -> Parcel? {
        let pending = log.pending(parcel.file, of: parcel.recipients)
        if !pending.isEmpty {
            return Parcel(file: parcel.file, sender: parcel.sender, recipients: pending, bounceable: parcel.bounceable)
        }
        counters.withLock { $0.alreadyDone += 1 }
        if options.consume { consume(parcel.file) }
        return nil
    }

    /// "signed/new/NAME" → "signed"; nil for anything else (no other path is ever opened).
    static func folder(of file: String) -> String? {
        let parts = file.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[parts.count - 2] == "new", let name = parts.last, !name.isEmpty,
            name != ".", name != "..", !parts.contains(where: { $0.isEmpty || $0 == "." || $0 == ".." })
        else { return nil }
        let folder = parts.dropLast(2).joined(separator: "/")
        if folder.hasPrefix("quarantined/") { return folder }
        return parts.count == 3 ? folder : nil
    }

    /// One line for stderr and `--json`: whatever a manifest holds reaches a terminal as printable ASCII only.
    private func problem(_ line: String) { counters.withLock { $0.problems.append(SMTPReply.printable(line)) } }

    func deliver(_ parcel: Parcel) throws {
        // Once per output and run, to the recipients still unsettled now (a manifest naming one output
        // twice, or a sweep after --deliver, must not send it twice).
        guard attempted.withLock({ $0.insert(parcel.file).inserted }) else { return }
        let recipients = log.pending(parcel.file, of: parcel.recipients)
        guard !recipients.isEmpty else { return }
        let path = directory + "/" + parcel.file
        if let bad = ([parcel.sender] + recipients).first(where: { !Self.isDeliverable($0) }) {
            problem("\(path): the manifest names an address that cannot go into SMTP: \(bad)")
            return
        }
        let message: [UInt8]
        do {
            message = try Self.read(parcel.file, in: directory)
        } catch {
            problem("\(path): \(error)")
            return
        }
        let parcel = Parcel(
            file: parcel.file, sender: parcel.sender, recipients: recipients, bounceable: parcel.bounceable)
        let outcomes = agent.submit(sender: parcel.sender, recipients: parcel.recipients, message: message)
        counters.withLock { counters in
            counters.submitted += 1
            for outcome in outcomes { counters.recipients[outcome.result, default: 0] += 1 }
        }
        let time = DeliveryRecord.now()
        var groups: [(DeliveryResult, String, [RecipientOutcome])] = []
        for outcome in outcomes {
            if let index = groups.firstIndex(where: { $0.0 == outcome.result && $0.1 == outcome.reply }) {
                groups[index].2.append(outcome)
            } else {
                groups.append((outcome.result, outcome.reply, [outcome]))
            }
        }
        var dsn: Parcel?
        // Acceptances first: whatever fails later (a DSN that cannot be written), what was delivered is recorded.
        groups.sort { $0.0 != .rejected && $1.0 == .rejected }
        for (result, reply, members) in groups {
            var record = DeliveryRecord(
                file: parcel.file, sender: parcel.sender.isEmpty ? "<>" : parcel.sender,
                recipients: members.map(\.recipient), result: result, reply: Self.oneLine(reply), target: agent.target,
                time: time)
            if result == .rejected && parcel.bounceable {
                let made = try bounce(parcel, message: message, rejected: members)
                record.bounce = made.file
                dsn = made
            }
            try log.append(record)
        }
        if options.durable { try log.log.sync() }
        if let dsn { try deliver(dsn) }
        if options.consume && log.pending(parcel.file, of: parcel.recipients).isEmpty
            && outcomes.allSatisfy({ $0.result != .deferred })
        {
            consume(parcel.file)
        }
    }

    /// A DSN to the parcel's sender for the rejected recipients, written to DIR/bounced/ under a
    /// name derived from the output and those recipients (a rerun writes the same file again).
    private func bounce(_ parcel: Parcel, message: [UInt8], rejected: [RecipientOutcome]) throws -> Parcel {
        let key = parcel.file + "\n" + rejected.map { $0.recipient.lowercased() }.sorted().joined(separator: "\n")
        let id = "dsn-" + CMS.hex(CMS.sha256(Array(key.utf8)).prefix(12))
        let original =
            (try? Entity.parseMessage(message).entity)
            ?? Entity(fields: [HeaderField(name: "Subject", value: "(unreadable)")], body: [], lineEnding: .lf)
        let host = agent.target
        let dsn = DeliveryStatus(reportingHost: options.reportingHost).bounce(
            original: original, sender: parcel.sender,
            reason: "the receiving mail system (\(host)) refused it",
            recipients: rejected.map {
                DeliveryStatus.Recipient(
                    address: $0.recipient, reason: Self.oneLine($0.reply), status: $0.status,
                    serverReply: Self.oneLine($0.reply), remoteMTA: nil)
            }, id: id)
        let writer = try bounced.withLock { writer in
            if let writer { return writer }
            let made = try MaildirWriter(directory + "/" + Outcome.bounced.name, durable: options.durable)
            writer = made
            return made
        }
        try writer.deliver(dsn.serialized(), name: id)
        counters.withLock { $0.bounces += 1 }
        return Parcel(
            file: Outcome.bounced.name + "/new/" + id, sender: "", recipients: [parcel.sender], bounceable: false)
    }

    private func consume(_ file: String) {
        do {
            try Self.inFolder(file, of: directory) { folder, name in
                if unlinkat(folder, name, 0) == 0 {
                    counters.withLock { $0.consumed += 1 }
                } else if errno != ENOENT {
                    problem("\(directory)/\(file): cannot remove (\(errorText(errno)))")
                }
            }
        } catch {
            problem("\(directory)/\(file): \(error)")
        }
    }

    /// A reply as one line of printable ASCII (it goes into logs and DSN fields).
    static func oneLine(_ text: String) -> String { SMTPReply.printable(text) }

    /// Whether an address from the manifest can be given in MAIL FROM or RCPT TO as it is: an
    /// addr-spec (a dot-atom or quoted local part, "@", a domain), nothing that could end the
    /// command or the brackets around it. "" is the null reverse-path.
    static func isDeliverable(_ address: String) -> Bool {
        if address.isEmpty { return true }
        let scalars = Array(address.unicodeScalars)
        if scalars.contains(where: { $0.value < 32 || (127...159).contains($0.value) || $0 == "\u{2028}" }) {
            return false
        }
        guard let at = scalars.lastIndex(of: "@"), at > 0, at + 1 < scalars.count else { return false }
        let local = scalars[..<at]
        let domain = scalars[(at + 1)...]
        let domainOK = domain.allSatisfy {
            $0.value > 127 || $0.properties.isAlphabetic || ("0"..."9").contains($0)
                || "-.[]:".unicodeScalars.contains($0)
        }
        // A quoted local part only as a plain quoted string: nothing a sendmail (which reads each argument
        // as an address list) or a next hop could take for a list, a route or a second address.
        if local.first == "\"" {
            return domainOK && local.count >= 3 && local.last == "\""
                && !local.dropFirst().dropLast().contains { "\"\\@,;:<>()%!".unicodeScalars.contains($0) }
        }
        let localOK = local.allSatisfy { $0.value > 127 || Self.atext.contains($0) }
        return localOK && domainOK
    }

    private static let atext = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~.".unicodeScalars)

    /// The largest output handed over (a message at rest bigger than this is not mail).
    static let largestOutput = 512 << 20

    /// Runs `body` with the folder of `file` ("signed/new/NAME") opened under `directory`, one
    /// component at a time with O_NOFOLLOW: a symbolic link anywhere below DIR is never followed.
    static func inFolder<T>(_ file: String, of directory: String, _ body: (Int32, String) throws -> T) throws -> T {
        var parts = file.split(separator: "/").map(String.init)
        guard let name = parts.popLast() else { throw PipelineError("not an output file") }
        var fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("\(directory): \(errorText(errno).lowercased())") }
        defer { close(fd) }
        for part in parts {
            let next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
            guard next >= 0 else {
                throw PipelineError(
                    errno == ENOENT
                        ? "missing"
                        : errno == ELOOP || errno == ENOTDIR
                            ? "\(part) is not a directory (a symbolic link?)" : errorText(errno).lowercased())
            }
            close(fd)
            fd = next
        }
        return try body(fd, name)
    }

    /// An output file's bytes; a symbolic link (anywhere below DIR) or anything but a regular file
    /// is refused.
    static func read(_ file: String, in directory: String) throws -> [UInt8] {
        let (fd, code) = try inFolder(file, of: directory) { folder, name in
            let fd = openat(folder, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
            return (fd, errno)
        }
        guard fd >= 0 else { throw PipelineError(code == ENOENT ? "missing" : errorText(code).lowercased()) }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw PipelineError("not a regular file")
        }
        guard Int(info.st_size) <= largestOutput else {
            throw PipelineError("\(info.st_size) bytes, more than the \(largestOutput >> 20) MiB delivered at most")
        }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw PipelineError("cannot read (\(errorText(errno)))") }
            done += n
        }
        return bytes
    }
}

/// `smimegate deliver DIR...`: each directory locked like a `process` run, its pending outputs delivered.
public enum Delivery {
    public static func run(
        directories: [String], agent: any DeliveryAgent, options: DeliveryOptions, waitLock: Double = 0
    ) throws -> DeliverySummary {
        ignoreBrokenPipes()
        var total = DeliverySummary()
        // One pool per directory; a signal stops the current one and the rest are not started.
        let current = Locked<WorkerPool<Deliverer.Parcel>?>(nil)
        let signalled = Locked<Int32?>(nil)
        let trap = SignalTrap { number in
            signalled.withLock { $0 = $0 ?? number }
            current.withLock { $0 }?.cancel(.signal(number))
        }
        defer {
            trap.release()
            agent.finish()
        }
        var seen = Set<String>()
        for directory in directories {
            guard seen.insert(URL(fileURLWithPath: directory).resolvingSymlinksInPath().path).inserted else {
                throw PipelineError("\(directory) is given twice")
            }
            guard FileSystem.exists(directory + "/" + ManifestWriter.fileName) else {
                throw PipelineError("\(directory): no \(ManifestWriter.fileName) (not the output of a run)")
            }
        }
        for directory in directories {
            if let number = signalled.withLock({ $0 }) {
                total.stop = .signal(number)
                break
            }
            let lock: RunLock
            do {
                lock = try RunLock.acquire(directory: directory, wait: waitLock)
            } catch let error as PipelineError where error.kind == .tryAgain {
                total.locked.append(error.reason)  // the next run takes it; the others go now
                continue
            }
            defer { withExtendedLifetime(lock) {} }
            let deliverer = try Deliverer(directory: directory, agent: agent, options: options)
            let pool = WorkerPool<Deliverer.Parcel>(workers: options.workers, capacity: options.workers * 4 + 4)
            current.withLock { $0 = pool }
            if let number = signalled.withLock({ $0 }) { pool.cancel(.signal(number)) }
            let stop = deliverer.deliverPending(pool: pool)
            var summary = deliverer.summary
            summary.stop = stop
            total.merge(summary)
            if stop != nil { break }
        }
        return total
    }

    /// A server or sendmail that goes away mid-write must fail that write, not kill the process.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }
}
