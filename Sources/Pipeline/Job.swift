import Keystore
import MIME
import Mailstore
import PKI

/// One output file of a job: the folder it goes to (a maildir under the run's
/// output directory), the recipients it is for, and — when a policy decided —
/// the mail policy, the filters that acted on this copy and the sending profile.
public struct Output: Sendable {
    public let folder: Folder
    public let bytes: [UInt8]
    public let recipients: [String]
    public var policy: String?
    public var filters: [String]
    public var profile: String?

    public init(
        folder: Outcome, bytes: [UInt8], recipients: [String], policy: String? = nil, filters: [String] = [],
        profile: String? = nil
    ) {
        self.init(
            to: .outcome(folder), bytes: bytes, recipients: recipients, policy: policy, filters: filters,
            profile: profile)
    }

    public init(
        to folder: Folder, bytes: [UInt8], recipients: [String], policy: String? = nil, filters: [String] = [],
        profile: String? = nil
    ) {
        self.folder = folder
        self.bytes = bytes
        self.recipients = recipients
        self.policy = policy
        self.filters = filters
        self.profile = profile
    }
}

/// What happened to one input message (DESIGN.md "Outcome").
public struct JobResult: Sendable {
    public var outcome: Outcome
    public var outputs: [Output]
    public var reason: Reason?
    public var signer: String?
    public var messageID: String?
    /// Something worth an operator's look that did not stop the message (a sloppy
    /// mailer's structure handled as one opaque part, say); recorded in the manifest.
    public var warning: String?
    /// Incoming mail: whether the delivered content is authenticated — covered by a valid
    /// signature, or decrypted from AuthEnvelopedData (AES-GCM) rather than CBC, which has no
    /// integrity. The manifest records it; a later message-filter condition
    /// (`smime-gateway-authenticated`) reads it. nil for outgoing mail.
    public var authenticated: Bool?
    /// The message's reverse-path (`Envelope.reversePath`), for the manifest's `sender`; nil when the
    /// message could not be read.
    public var sender: String?
    /// Incoming mail: S/MIME was found (the filter condition `smime-gateway-message`).
    var smime = false
    /// Incoming verified mail: `ManifestRecord.revocation`.
    public var revocation: String?
    /// The time the (innermost) signature was judged at, when `--validation-time` is not now.
    public var moment: ValidationMoment?
    /// Incoming signed mail: certificates to offer the harvested repository (SPEC F21); stored by the
    /// run's one writer (`Harvester`) before the record is written.
    public var harvest: [HarvestCandidate] = []
    /// The rules the deciding incoming policy harvests by.
    public var harvestRules = HarvestRules()

    public init(
        outcome: Outcome, outputs: [Output], reason: Reason? = nil, signer: String? = nil, messageID: String? = nil,
        warning: String? = nil, authenticated: Bool? = nil
    ) {
        self.outcome = outcome
        self.outputs = outputs
        self.reason = reason
        self.signer = signer
        self.messageID = messageID
        self.warning = warning
        self.authenticated = authenticated
    }

    /// Incoming: a result about S/MIME content.
    static func foundSMIME(
        outcome: Outcome, outputs: [Output], reason: Reason? = nil, signer: String? = nil, messageID: String? = nil,
        warning: String? = nil, authenticated: Bool? = nil
    ) -> JobResult {
        var result = JobResult(
            outcome: outcome, outputs: outputs, reason: reason, signer: signer, messageID: messageID, warning: warning,
            authenticated: authenticated)
        result.smime = true
        return result
    }

    /// Names the policy, the filters and the profile on every output.
    mutating func annotate(policy: String?, filters: [String], profile: String?) {
        for index in outputs.indices {
            outputs[index].policy = policy
            outputs[index].filters = filters
            outputs[index].profile = profile
        }
    }

    /// One result for a message whose recipients got separate copies, one per mail policy (splintering).
    static func combining(_ copies: [JobResult], policies: [String]) -> JobResult {
        if copies.count == 1 { return copies[0] }
        func joined(_ values: [String?]) -> String? {
            var seen = Set<String>()
            let unique = values.compactMap { $0 }.filter { seen.insert($0).inserted }
            return unique.isEmpty ? nil : unique.joined(separator: "; ")
        }
        let outcome = Outcome.combined(copies.map(\.outcome))
        // The reason (and so the reason_code) of the copy that decided the outcome comes first.
        let deciding = copies.filter { $0.outcome == outcome } + copies.filter { $0.outcome != outcome }
        var result = JobResult(
            outcome: outcome, outputs: copies.flatMap(\.outputs),
            reason: Reason.joined(deciding.map(\.reason) + [.splintered(policies: policies)]),
            signer: copies.lazy.compactMap(\.signer).first,
            messageID: copies.lazy.compactMap(\.messageID).first, warning: joined(copies.map(\.warning)))
        result.revocation = copies.lazy.compactMap(\.revocation).first
        result.moment = copies.lazy.compactMap(\.moment).first
        result.harvest = copies.flatMap(\.harvest)
        result.harvestRules = copies.first { !$0.harvest.isEmpty }?.harvestRules ?? HarvestRules()
        return result
    }

    /// The input read as liberally as mail is written, handed to `body`; unreadable input fails here.
    static func reading(_ input: InputMessage, _ body: (ParsedMessage) -> JobResult) -> JobResult {
        let reading: ParsedMessage
        do {
            reading = try Entity.parseMessage(input.bytes)
        } catch {
            return .failed(input, .unreadable("\(error)"))
        }
        return body(reading)
    }

    /// The input as received in `outcome`'s folder, for no one: what an archive job leaves as it was.
    static func unchanged(_ input: InputMessage, _ reading: ParsedMessage, _ outcome: Outcome, _ reason: Reason?)
        -> JobResult
    {
        let bytes = reading.messageStart == 0 ? input.bytes : Array(input.bytes[reading.messageStart...])
        return JobResult(
            outcome: outcome, outputs: [Output(folder: outcome, bytes: bytes, recipients: [])], reason: reason,
            messageID: reading.entity.messageID)
    }

    /// The input, unchanged, in `failed/` with the reason.
    static func failed(_ input: InputMessage, _ reason: Reason, messageID: String? = nil) -> JobResult {
        JobResult(
            outcome: .failed, outputs: [Output(folder: .failed, bytes: input.bytes, recipients: [])], reason: reason,
            messageID: messageID
        )
    }
}

/// A pure per-message transformation (DESIGN.md "Job"): keys and settings are
/// prepared once per run and shared read-only by every worker.
public protocol Job: Sendable {
    var direction: Direction { get }
    /// The manifest's `direction`: the direction's name, or the archive operation (resign, rekey).
    var operation: String { get }
    var profileName: String? { get }
    /// The SHA-256 of the policy text that decides, if a policy does.
    var policyDigest: String? { get }
    /// The outcomes this job can have, in the order summaries list them; their folders
    /// (and DIR/notifications when `notifies`) are created up front.
    var outcomes: [Outcome] { get }
    /// Whether outputs may go to DIR/notifications.
    var notifies: Bool { get }
    func process(_ input: InputMessage) -> JobResult
}

extension Job {
    public var operation: String { direction.rawValue }
    public var notifies: Bool { false }
    public var policyDigest: String? { nil }

    /// Every folder the job can write.
    var folders: [Folder] { outcomes.map(Folder.outcome) + (notifies ? [.notifications] : []) }
}
