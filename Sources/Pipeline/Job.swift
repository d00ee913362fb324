import Mailstore

/// One output file of a job: the outcome folder it goes to (a maildir under
/// the run's output directory) and the recipients it is for.
public struct Output: Sendable {
    public let folder: Outcome
    public let bytes: [UInt8]
    public let recipients: [String]

    public init(folder: Outcome, bytes: [UInt8], recipients: [String]) {
        self.folder = folder
        self.bytes = bytes
        self.recipients = recipients
    }
}

/// What happened to one input message (DESIGN.md "Outcome").
public struct JobResult: Sendable {
    public var outcome: Outcome
    public var outputs: [Output]
    public var reason: String?
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

    public init(
        outcome: Outcome, outputs: [Output], reason: String? = nil, signer: String? = nil, messageID: String? = nil,
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

    /// The input, unchanged, in `failed/` with the reason.
    static func failed(_ input: InputMessage, _ reason: String, messageID: String? = nil) -> JobResult {
        JobResult(
            outcome: .failed, outputs: [Output(folder: .failed, bytes: input.bytes, recipients: [])], reason: reason,
            messageID: messageID
        )
    }
}

/// A pure per-message transformation (DESIGN.md "Job"): keys and settings are
/// prepared once per run and shared read-only by every worker.
public protocol Job: Sendable {
    var direction: String { get }
    var profileName: String? { get }
    /// The outcome folders this job can write (created up front).
    var folders: [Outcome] { get }
    func process(_ input: InputMessage) -> JobResult
}
