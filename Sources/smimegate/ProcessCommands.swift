import ArgumentParser
import CMS
import FileIO
import Foundation
import Keystore
import Mailstore
import PKI
import Pipeline
import Policy
import SMIME

extension MboxFormat: ExpressibleByArgument {}
extension OutputFormat: ExpressibleByArgument {}

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "process",
        abstract: "Process maildirs and mbox files in bulk into one maildir per outcome.",
        discussion: """
            Outgoing outcomes: signed, encrypted, split (clear copies for recipients without keys), bounced (RFC 3464 \
            DSNs), passed, failed; 'dropped' messages are only in the manifest. Incoming outcomes: verified, \
            decrypted, unverified, passed, failed. Archives ('process resign', 'process rekey'): resigned, rekeyed, \
            unverified, passed, failed. With a policy (see 'smimegate policy'): quarantined/NAME (what a \
            filter held back), notifications (notices filters sent), and bounced for incoming mail too. \
            DIR/manifest.jsonl gets one JSON line per input message, written once all of the message's outputs are \
            delivered; with --out-format mbox, each outcome is one mboxrd file DIR/<outcome>.mbox instead, appended \
            in input order. mbox inputs may be compressed with gzip, bzip2, xz or zstd. \
            One run per DIR at a time (DIR/.lock). \
            Only regular files are read from maildirs: symbolic links, FIFOs, sockets, devices, unreadable files are \
            reported (input errors), never read. A write error (full disk, say) stops the run at once and loses \
            nothing; rerun with --resume. SIGINT/SIGTERM let in-flight messages finish, then stop; --resume goes on. \
            Exit 0 when no message failed; 1 when some did or an input could not be read; 2 usage or configuration \
            error; 75 try again later (DIR is locked by another run, or a write failed); 130/143 stopped by \
            SIGINT/SIGTERM.
            """,
        subcommands: [ProcessOutgoing.self, ProcessIncoming.self, ProcessResign.self, ProcessRekey.self])
}

/// Options shared by both directions.
struct RunFlags: ParsableArguments {
    @Argument(
        help: ArgumentHelp("Maildir folders, mbox files, or '-' for one message on standard input.", valueName: "INPUT")
    )
    var inputs: [String]
    @Option(help: ArgumentHelp("The output directory (one maildir per outcome, manifest.jsonl).", valueName: "DIR"))
    var out: String
    @Option(help: "Worker threads (default: the number of cores).") var workers: Int = ProcessInfo.processInfo
        .activeProcessorCount
    @Flag(help: "Continue an interrupted run: skip inputs already in DIR/manifest.jsonl.") var resume = false
    @Option(help: "How mbox inputs quote From lines: mboxrd (default), mboxo or mboxcl2.")
    var mboxFormat: MboxFormat = .mboxrd
    @Option(
        help: ArgumentHelp(
            "maildir: one maildir per outcome; mbox: one mboxrd file per outcome, DIR/<outcome>.mbox, the manifest "
                + "recording each output's offset and length.", valueName: "maildir|mbox"))
    var outFormat: OutputFormat = .maildir
    @Option(
        help: ArgumentHelp(
            "Input messages larger than this are reported as input errors and skipped, never read whole "
                + "(512MB, 2GB, bytes; default 256MB).", valueName: "SIZE"))
    var maxMessageSize = "256MB"
    @Flag(help: "Print the summary as JSON.") var json = false
    @Flag(help: "No progress line on standard error.") var noProgress = false
    @Flag(
        help:
            "fsync every delivered file, its folder and the manifest line (slower; default: the manifest at the end)."
    )
    var durable = false
    @Flag(
        help: ArgumentHelp(
            "Remove each maildir input once its outputs and manifest record are durable (implies --durable).",
            discussion: "Refused for mbox files and standard input, which are never modified."))
    var consume = false
    @Option(
        help: ArgumentHelp(
            "With --consume: move inputs into this maildir (same file system), keeping their flags.",
            valueName: "MAILDIR"))
    var consumedInto: String?
    @Option(
        help: ArgumentHelp(
            "Wait up to SECONDS for another run to release DIR/.lock (default: exit 75 at once).", valueName: "SECONDS")
    )
    var waitLock: Double = 0
    @Option(
        help: ArgumentHelp(
            "Deliver each output right after it is written, and what earlier runs left undelivered: "
                + "smtp://HOST[:PORT], smtp+starttls://…, smtps://… or sendmail:[PATH] (see 'smimegate deliver').",
            valueName: "URL"))
    var deliver: String?
    @OptionGroup var client: SMTPClientOptions
    @Option(
        help: ArgumentHelp(
            "At the end of the run, write its figures in Prometheus text format to FILE (node_exporter's textfile "
                + "collector; replaced atomically, counters summed over the runs that write FILE).",
            valueName: "FILE"))
    var metricsFile: String?
    @Option(
        help: ArgumentHelp(
            "Process only shard K of N (0 <= K < N), each shard with its own --out; auto: from a Slurm array job "
                + "or a Kubernetes Indexed Job (with --shards N). See 'Scale-out' in the README.",
            valueName: "K/N|auto"))
    var shard: String?
    @Option(
        help: ArgumentHelp("With --shard auto: the number of shards (a Kubernetes Job's completions).", valueName: "N"))
    var shards: Int?

    func validate() throws {
        if shards != nil && shard != "auto" { throw ValidationError("--shards goes with --shard auto") }
        if let shards, shards < 1 || shards > Shard.maximum {
            throw ValidationError("--shards must be between 1 and \(Shard.maximum)")
        }
        if let shard, shard != "auto" {
            do { _ = try Shard(parsing: shard) } catch { throw ValidationError("\(error)") }
        }
        if metricsFile?.isEmpty == true { throw ValidationError("--metrics-file takes a file name") }
        if workers < 1 || workers > 256 { throw ValidationError("--workers must be between 1 and 256") }
        if deliver == nil && (client.smtpCa != nil || client.smtpAuthFile != nil || client.smtpHelo != nil) {
            throw ValidationError("--smtp-ca, --smtp-auth-file and --smtp-helo go with --deliver")
        }
        if consumedInto != nil && !consume { throw ValidationError("--consumed-into goes with --consume") }
        if waitLock < 0 { throw ValidationError("--wait-lock takes a number of seconds, 0 or more") }
        if GlobalSettings.parseSize(maxMessageSize.lowercased()).map({ $0 >= 1024 }) != true {
            throw ValidationError("--max-message-size takes a size of at least 1KB, such as 64MB")
        }
        if outFormat == .mbox && deliver != nil {
            throw ValidationError("--deliver takes maildir outputs: drop --out-format mbox, or deliver later")
        }
    }

    var options: RunOptions {
        RunOptions(
            outDirectory: out, workers: workers, resume: resume, progress: !noProgress && isatty(2) == 1,
            durable: durable,
            mboxFormat: mboxFormat, consume: consume, consumedInto: consumedInto, waitLock: waitLock)
    }

    /// Runs the job, prints the summary, and exits with the run's code: 1 when something
    /// failed, 75 when a write failed, 128 + N when signal N stopped it.
    /// `finally` runs once the run is over, whatever happened (recording what the run used).
    /// With --metrics-file, the run's figures are written once its exit status is known.
    func execute(
        _ job: any Job, store: Keystore, harvester: Harvester? = nil, finally: (() throws -> Void)? = nil
    ) throws {
        var options = self.options
        options.harvester = harvester
        options.outFormat = outFormat
        options.maxMessageBytes =
            GlobalSettings.parseSize(maxMessageSize.lowercased()) ?? MboxReader.defaultMaxMessageBytes
        do {
            options.shard = try shard.map {
                try $0 == "auto"
                    ? Shard.fromEnvironment(ProcessInfo.processInfo.environment, shards: shards) : Shard(parsing: $0)
            }
        } catch let error as PipelineError {
            throw Failure.usage(error.reason)
        }
        if let deliver {
            options.delivery = (
                try client.agent(deliver),
                try deliveryOptions(nil, consume: false, workers: min(workers, 64), durable: options.durable)
            )
        }
        let summary: RunSummary
        do {
            summary = try Engine.run(inputs: inputs, job: job, options: options)
        } catch let error as PipelineError {
            throw error.kind == .tryAgain ? Failure.tryAgain(error.reason) : Failure.usage(error.reason)
        } catch let error as WriteError {
            throw Failure.tryAgain("\(error); nothing was processed")
        } catch let error as MailstoreError {
            throw Failure.usage(error.reason)
        }
        do { try finally?() } catch { printErr("smimegate: warning: \(error)") }
        for error in summary.inputErrors { printErr("smimegate: \(error)") }
        for problem in summary.delivery?.problems ?? [] { printErr("smimegate: \(problem)") }
        if json {
            try printJSON(SummaryJSON(summary))
        } else {
            printSummary(summary, outcomes: job.outcomes, out: out)
            if let delivery = summary.delivery, let target = options.delivery?.agent.target {
                printDeliverySummary(delivery, target: target)
            }
        }
        if let harvested = harvester?.summary, harvested != Harvester.Summary() {
            if !json {
                let (stored, seen, skipped) = (harvested.stored, harvested.seen, harvested.skipped)
                print(
                    "harvested: \(stored) stored, \(seen) seen again, \(skipped) skipped, "
                        + "\(harvested.evicted) evicted (see 'smimegate keys harvested')")
            }
            for problem in harvested.problems { printErr("smimegate: harvest: \(problem)") }
            for alert in harvested.alerts { printErr("smimegate: alert: \(alert)") }
        }
        let failure = Self.failure(of: summary, out: out)
        if let metricsFile {
            do {
                let certificates = try store.certificates().map { (name: $0.name, notAfter: $0.certificate.notAfter) }
                try RunMetrics(
                    direction: job.operation, summary: summary, outcomes: job.outcomes, exitCode: failure?.code ?? 0,
                    certificates: certificates
                ).write(to: metricsFile)
            } catch {
                printErr("smimegate: warning: metrics not written: \(error)")
            }
        }
        if let failure { throw failure }
    }

    /// How a run that ended ends the process: nil for exit 0.
    static func failure(of summary: RunSummary, out: String) -> Failure? {
        switch summary.stop {
        case .failure(let reason):
            return Failure.tryAgain(
                "\(reason): stopped after \(summary.messages) message(s); nothing is lost: "
                    + "make room and rerun with --resume"
            )
        case .signal(let number):
            return Failure.stopped(
                by: number,
                "stopped by \(signalName(number)) after "
                    + "\(summary.messages) message(s); rerun with --resume to go on")
        case nil:
            break
        }
        if let delivery = summary.delivery, delivery.deferred > 0 {
            return Failure.tryAgain(
                "\(delivery.deferred) recipient(s) deferred, \(summary.failed) message(s) failed; "
                    + "'smimegate deliver' or the next run with --deliver tries the deferred again")
        }
        if let delivery = summary.delivery, delivery.rejected > 0 || !delivery.problems.isEmpty {
            return Failure.problem(
                "\(summary.failed) message(s) failed, \(delivery.rejected) recipient(s) rejected; "
                    + "see \(out)/manifest.jsonl and \(out)/delivery.jsonl")
        }
        if summary.failed > 0 || !summary.inputErrors.isEmpty {
            return Failure.problem(
                "\(summary.failed) message(s) failed, \(summary.inputErrors.count) input error(s); "
                    + "see \(out)/manifest.jsonl"
            )
        }
        return nil
    }
}

/// The summary table of a run: messages per outcome folder, then throughput.
func printSummary(_ summary: RunSummary, outcomes: [Outcome], out: String) {
    let others = summary.outcomes.keys.filter { !outcomes.contains($0) }.sorted { $0.description < $1.description }
    let width = max(12, (outcomes + others).map(\.description.count).max() ?? 0)
    print("outcome".padding(toLength: width, withPad: " ", startingAt: 0) + "  messages")
    for outcome in outcomes + others {
        print(
            outcome.description.padding(toLength: width, withPad: " ", startingAt: 0)
                + String(format: "%10d", summary.outcomes[outcome, default: 0]))
    }
    var notes: [String] = []
    if summary.skipped > 0 { notes.append("\(summary.skipped) already done") }
    if let shard = summary.shard { notes.append("shard \(shard): \(summary.otherShards) left to the other shards") }
    if summary.consumed > 0 { notes.append("\(summary.consumed) inputs consumed") }
    if summary.warnings > 0 { notes.append("\(summary.warnings) with warnings") }
    if !summary.inputErrors.isEmpty { notes.append("\(summary.inputErrors.count) input errors") }
    let skipped = notes.isEmpty ? "" : "   (" + notes.joined(separator: ", ") + ")"
    let total = "total".padding(toLength: width, withPad: " ", startingAt: 0)
    print(
        total
            + String(
                format: "%10d   %.2f s   %.1f messages/s   %.2f MB/s", summary.messages, summary.seconds,
                summary.messagesPerSecond, summary.megabytesPerSecond) + skipped)
    if summary.inputs.count > 1 {
        print("input: messages, failed, already done")
        for input in summary.inputs {
            print(visible("  \(input.input): \(input.messages), \(input.failed), \(input.skipped)"))
        }
    }
    print("outputs in \(out), manifest \(out)/manifest.jsonl")
}

func signalName(_ number: Int32) -> String {
    switch number {
    case SIGINT: return "SIGINT"
    case SIGTERM: return "SIGTERM"
    default: return "signal \(number)"
    }
}

extension PoolStop {
    /// "SIGTERM"/"SIGINT", or the write error: a summary's `stopped_by`.
    var text: String {
        switch self {
        case .signal(let number): return signalName(number)
        case .failure(let reason): return reason
        }
    }
}

/// The summary for `--json`, with the manifest's snake_case keys.
struct SummaryJSON: Encodable {
    let outcomes: [String: Int]
    /// Messages per quarantine (their sum is `outcomes["quarantined"]`).
    let quarantined: [String: Int]
    let messages: Int
    let skipped: Int
    let consumed: Int
    let warnings: Int
    let bytes: Int
    let seconds: Double
    let messagesPerSecond: Double
    let megabytesPerSecond: Double
    let inputErrors: [String]
    /// With --shard: "K/N", and the messages (and problem entries) left to the other shards.
    let shard: String?
    let otherShards: Int?
    /// "SIGTERM"/"SIGINT", or the write error, when the run stopped early.
    let stoppedBy: String?
    /// With --deliver.
    let delivery: DeliverySummaryJSON?
    /// Per input, in the order given.
    let inputs: [InputJSON]

    struct InputJSON: Encodable {
        let input: String
        let messages: Int
        let failed: Int
        let skipped: Int
    }

    enum CodingKeys: String, CodingKey {
        case outcomes, quarantined, messages, skipped, consumed, warnings, bytes, seconds
        case messagesPerSecond = "messages_per_second", megabytesPerSecond = "megabytes_per_second"
        case inputErrors = "input_errors", stoppedBy = "stopped_by", delivery, inputs, shard
        case otherShards = "other_shards"
    }

    init(_ s: RunSummary) {
        delivery = s.delivery.map(DeliverySummaryJSON.init)
        inputs = s.inputs.map {
            InputJSON(input: $0.input, messages: $0.messages, failed: $0.failed, skipped: $0.skipped)
        }
        outcomes = s.outcomes.reduce(into: [:]) { $0[$1.key.name, default: 0] += $1.value }
        quarantined = s.outcomes.reduce(into: [:]) { sums, entry in
            if let name = entry.key.quarantine { sums[name, default: 0] += entry.value }
        }
        (messages, skipped, consumed, warnings) = (s.messages, s.skipped, s.consumed, s.warnings)
        (bytes, seconds) = (s.bytes, s.seconds)
        (messagesPerSecond, megabytesPerSecond, inputErrors) = (
            s.messagesPerSecond, s.megabytesPerSecond, s.inputErrors
        )
        stoppedBy = s.stop?.text
        shard = s.shard?.description
        otherShards = s.shard.map { _ in s.otherShards }
    }
}

/// Which policy a run uses: `--policy FILE` for this run, else the loaded one (unless
/// `--no-policy` or, outgoing, `--profile`); nil when none applies.
struct PolicyChoice: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Decide by this policy file for this run instead of the loaded policy (see 'smimegate policy').",
            valueName: "FILE"))
    var policy: String?
    @Flag(help: "Ignore the loaded policy.") var noPolicy = false

    func validate() throws {
        if policy != nil && noPolicy { throw ValidationError("--policy and --no-policy exclude each other") }
    }

    func document(_ store: Keystore) throws -> PolicyDocument? {
        try Self.document(file: policy, noPolicy: noPolicy, store: store)
    }

    /// The policy for a run or a trace: `file` checked against the stored profiles (its digest is the
    /// file's), else the loaded one unless `noPolicy`; nil when none applies.
    static func document(file: String?, noPolicy: Bool = false, store: Keystore) throws -> PolicyDocument? {
        let book = KeystoreRepositories(store).policyBook
        if let file {
            let text = try readPolicyText(file)
            var document = try withPolicy(file) { try book.check(text) }
            document.digest = CMS.hex(CMS.sha256(Array(text.utf8)))
            return document
        }
        if noPolicy { return nil }
        return try withPolicy("the loaded policy") { try book.current()?.document }
    }
}

struct ProcessOutgoing: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "outgoing",
        abstract: "Sign and/or encrypt every message per policy or sending profile (SPEC F1–F9).",
        discussion: """
            With a policy (loaded with 'smimegate policy load', or --policy FILE): message filters run on each \
            message, each recipient gets the first outgoing policy covering the sender and the recipient, recipients \
            of different policies get separate copies, and each copy is transformed with the sending profile its \
            content filters chose (unchanged, in passed/, when none chose one). Without a policy, or with \
            --profile, one profile applies to every message.
            """)
    @OptionGroup var home: HomeOptions
    @OptionGroup var flags: RunFlags
    @Option(help: "One sending profile for every message, ignoring any policy (default without a policy: 'default').")
    var profile: String?
    @OptionGroup var choice: PolicyChoice

    func validate() throws {
        if profile != nil && choice.policy != nil { throw ValidationError("--policy and --profile exclude each other") }
    }

    func run() throws {
        let store = try home.open()
        let recipients = try configuring { try store.recipientDirectory() }
        let host = ProcessInfo.processInfo.hostName
        let document = profile == nil ? try choice.document(store) : nil
        guard let document else {
            let (chosen, signer) = try usableProfile(profile ?? "default", store)
            try flags.execute(
                OutgoingJob(profile: chosen, signer: signer, recipients: recipients, reportingHost: host), store: store,
                finally: { try store.markHarvestedUsed(recipients.usedHarvested) })
            return
        }
        let profiles = try document.profileNames.sorted().map { try usableProfile($0, store) }
        let job: OutgoingJob
        do {
            job = try OutgoingJob(policy: document, profiles: profiles, recipients: recipients, reportingHost: host)
        } catch let error as PipelineError {
            throw Failure.usage(error.reason)
        }
        try flags.execute(job, store: store, finally: { try store.markHarvestedUsed(recipients.usedHarvested) })
    }
}

/// A stored profile and its signer, keys loaded once per run and shared by every worker.
/// A broken profile or a missing certificate stops the run; a certificate that can no
/// longer sign (expired, say) bounces each message instead (SPEC F5), so senders learn of it.
func usableProfile(_ name: String, _ store: Keystore) throws -> (SendingProfile, Signer?) {
    let profiles = ProfileStore(store: store)
    let chosen = try profiles.load(name)
    let problems = try profiles.problems(chosen, checkUsability: false)
    if !problems.isEmpty {
        throw Failure.usage("profile \(name) cannot be used: \(problems.joined(separator: "; "))")
    }
    guard chosen.mode.signs, let certificate = chosen.certificate else { return (chosen, nil) }
    let identity = try configuring { try store.identity(named: certificate) }
    if identity.retired != nil {
        throw Failure.usage(
            "profile \(name) cannot be used: certificate \(certificate) is retired (it only decrypts; "
                + "'smimegate cert unretire \(certificate)' brings it back)")
    }
    let signer = Signer(
        certificate: identity.certificate, key: identity.key, chain: identity.chain,
        digest: DigestAlgorithm(rawValue: chosen.digest) ?? .sha256)
    return (chosen, signer)
}

extension IncomingJob.UnauthenticatedHTML: ExpressibleByArgument {}

struct ProcessIncoming: ParsableCommand {
    enum SignatureChoice: String, ExpressibleByArgument { case keep, remove }

    static let configuration = CommandConfiguration(
        commandName: "incoming",
        abstract: "Decrypt and verify every message, delivering each whatever the result (SPEC F10–F14).",
        discussion: """
            Authentication-Results fields that carry this run's authserv-id are removed from every input first: \
            the only one delivered is ours. Unwrapping keeps the outer header; inner fields other than Content-* \
            are dropped. Each output is for our recipients only: the envelope recipient the MTA wrote on top \
            (Delivered-To, else X-Original-To), else To/Cc/Bcc, kept when an organisation certificate covers it or \
            its domain is in --local-domains; the others are left out (a warning says so). Mail decrypted from \
            CBC (no integrity) says so in its result; if its content looks tampered with it goes to unverified/, \
            and its HTML has remote references neutralised. \
            With a policy (loaded, or --policy FILE), the first incoming policy covering the sender decides whether \
            to decrypt and verify and whether the signature stays (settings it leaves out take these options' \
            values); then its message filters act on the results (quarantine, drop, bounce, headers, notices).
            """)
    @OptionGroup var home: HomeOptions
    @OptionGroup var flags: RunFlags
    @OptionGroup var choice: PolicyChoice
    @Option(help: "Keep or remove the (inner) signature on delivered mail.") var signature: SignatureChoice = .remove
    @Option(help: "The authserv-id in Authentication-Results (default: this host's name).") var authservId: String?
    @Flag(help: "Trust SHA-1 signatures (old archives); they are rejected by default.") var allowSha1 = false
    @Flag(help: "Trust RSA keys under 2048 bits and MD5/SHA-1 certificates (old archives); noted in the result.")
    var allowWeak = false
    @Flag(help: "Accept a signer who covers Sender but not From (RFC 8550 section 3).") var acceptSenderMatch = false
    @Option(help: validationTimeHelp) var validationTime: ValidationTime = .now
    @Option(
        help: ArgumentHelp(
            "HTML decrypted from CBC (no integrity): neutralise remote references (src, href, CSS url()) or keep.",
            valueName: "neutralise|keep"))
    var unauthenticatedHtml: IncomingJob.UnauthenticatedHTML = .neutralise
    @Option(
        help: ArgumentHelp(
            "Domains (comma-separated, *.example.com allowed) whose addresses incoming mail is delivered to, "
                + "besides those the organisation certificates cover; other recipients are left out.",
            valueName: "LIST"))
    var localDomains: String?
    @Flag(
        help: ArgumentHelp(
            "Harvest the certificates of verified signers into the keystore (SPEC F21); an incoming policy's "
                + "'harvest' setting decides instead for the senders it covers."))
    var harvest = false

    func run() throws {
        let store = try home.open()
        let identities = try configuring { try store.identities() }.map {
            IncomingJob.Identity(certificate: $0.certificate, key: $0.key)
        }
        let trust = try configuring { try store.trustStore(ocsp: TrustNetwork.ocspChecker()) }
        var validation = SignerValidation(
            trust: trust, allowSHA1: allowSha1, allowWeak: allowWeak, acceptSenderMatch: acceptSenderMatch)
        validation.validationTime = validationTime
        let job = IncomingJob(
            identities: identities,
            validation: validation,
            keepSignature: signature == .keep,
            authservID: authservId ?? ProcessInfo.processInfo.hostName, unauthenticatedHTML: unauthenticatedHtml,
            policy: try choice.document(store), reportingHost: ProcessInfo.processInfo.hostName,
            localDomains: (localDomains ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { !$0.isEmpty }, harvest: harvest ? HarvestRules() : nil)
        try flags.execute(job, store: store, harvester: Harvester(keystore: store))
    }
}

extension ResignJob.OldSignature: ExpressibleByArgument {}

/// The organisation keys, retired ones included, as decryption candidates.
func decryptionCandidates(_ store: Keystore) throws -> [(certificate: Certificate, key: PrivateKey)] {
    try configuring { try store.identities() }.map { (certificate: $0.certificate, key: $0.key) }
}

struct ProcessResign: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resign",
        abstract: "Verify every signed message and sign it again with a profile's certificate (archives).",
        discussion: """
            replace (default): the old signature is removed and its content signed; wrap: the old signed message \
            is signed as it is, inside the new signature. Either way an Authentication-Results field with the old \
            verdict (and the time it was judged at) goes into the header of the newly signed entity, so the new \
            signature attests what the gateway checked. Encrypted input is decrypted with any organisation key \
            (retired ones included) and, when the profile encrypts, encrypted again to its To/Cc/Bcc recipients' \
            current certificates (organisation certificates not retired for our addresses, else public keys and \
            harvested ones). Outcomes: resigned, \
            unverified (old signature bad: left as it was unless --resign-unverified), passed (not signed), failed.
            """)
    @OptionGroup var home: HomeOptions
    @OptionGroup var flags: RunFlags
    @Option(help: "The sending profile to sign (and encrypt) with; its mode must sign.") var profile: String
    @Option(help: "replace: sign the content anew; wrap: sign the old signed message as it is.")
    var oldSignature: ResignJob.OldSignature = .replace
    @Option(help: validationTimeHelp) var validationTime: ValidationTime = .now
    @Flag(help: "Re-sign messages whose old signature does not verify too (their verdict says fail).")
    var resignUnverified = false
    @Flag(help: "Trust SHA-1 signatures (old archives); they are rejected by default.") var allowSha1 = false
    @Flag(help: "Trust RSA keys under 2048 bits and MD5/SHA-1 certificates (old archives); noted in the result.")
    var allowWeak = false
    @Option(help: "The authserv-id in Authentication-Results (default: this host's name).") var authservId: String?

    func run() throws {
        let store = try home.open()
        let (chosen, signer) = try usableProfile(profile, store)
        guard let signer else { throw Failure.usage("profile \(profile) does not sign (mode \(chosen.mode.rawValue))") }
        let trust = try configuring { try store.trustStore(ocsp: TrustNetwork.ocspChecker()) }
        var validation = SignerValidation(trust: trust, allowSHA1: allowSha1, allowWeak: allowWeak)
        validation.validationTime = validationTime
        let directory = try configuring { try store.recipientDirectory() }
        let ours = try configuring { try store.identities() }.filter { $0.retired == nil }.map(\.certificate)
        let job = ResignJob(
            profile: chosen, signer: signer, oldSignature: oldSignature, validation: validation,
            resignUnverified: resignUnverified, candidates: try decryptionCandidates(store),
            recipientCertificate: { address in
                // Our own addresses (archives of incoming mail) get our certificates, whatever a public key claims.
                RecipientSelection.choose(for: address, among: ours) ?? directory.certificate(for: address)
            }, authservID: authservId ?? ProcessInfo.processInfo.hostName)
        try flags.execute(job, store: store, finally: { try store.markHarvestedUsed(directory.usedHarvested) })
    }
}

struct ProcessRekey: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rekey",
        abstract: "Decrypt every encrypted message and encrypt its content again to new recipients (archives).",
        discussion: """
            Decrypts with any organisation key (retired ones included) and encrypts the decrypted content byte for \
            byte (inner signatures untouched), keeping the outer header, to --to-cert (an organisation \
            certificate) or --key (public keys). The plaintext is never written. Outcomes: rekeyed, passed (not \
            encrypted), failed (cannot decrypt, with the reason; a signature around the envelope, which \
            re-keying would break).
            """)
    @OptionGroup var home: HomeOptions
    @OptionGroup var flags: RunFlags
    @Option(
        name: .customLong("to-cert"),
        help: ArgumentHelp("An organisation certificate to encrypt to (not retired).", valueName: "NAME"))
    var toCerts: [String] = []
    @Option(name: .customLong("key"), help: ArgumentHelp("A public key to encrypt to.", valueName: "NAME"))
    var keys: [String] = []
    @Option(help: "aes-256-cbc, aes-128-cbc, aes-128-gcm or aes-256-gcm (default: the envelope's own AES cipher).")
    var cipher: ContentCipher?
    @Flag(help: "RSA-OAEP (SHA-256) key transport instead of PKCS #1 v1.5.") var oaep = false

    func validate() throws {
        if toCerts.isEmpty && keys.isEmpty { throw ValidationError("name the new recipients with --to-cert or --key") }
    }

    func run() throws {
        let store = try home.open()
        var recipients: [Certificate] = []
        for name in toCerts {
            let entry = try configuring { try store.certificates() }.first { $0.name == name }
            guard let entry else { throw Failure.usage("no certificate named \"\(name)\" (see 'smimegate cert list')") }
            if entry.retired != nil { throw Failure.usage("certificate \(name) is retired: it is never encrypted to") }
            recipients.append(entry.certificate)
        }
        for name in keys {
            do { recipients.append(try store.publicKey(named: name)) } catch let error as KeystoreError {
                throw Failure.usage(error.reason)
            }
        }
        for certificate in recipients {
            let problems = Requirements.encryptionProblems(certificate)
            if !problems.isEmpty {
                throw Failure.usage(
                    "cannot encrypt to \(certificate.subject): \(problems.joined(separator: "; "))")
            }
        }
        let job = RekeyJob(
            candidates: try decryptionCandidates(store), recipients: recipients, cipher: cipher,
            keyTransport: oaep ? .oaep : .pkcs1v15)
        try flags.execute(job, store: store)
    }
}
