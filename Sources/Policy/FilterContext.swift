/// What a filter knows about a message besides its header and body: the envelope
/// of this copy and, for incoming mail, what the gateway's S/MIME processing found
/// (F13: results are recorded so later rules can act on them).
public struct FilterContext: Sendable {
    /// The envelope sender (Return-Path, else Sender, else From).
    public var mailFrom: String?
    /// The recipients of this copy (all of the message's before splintering).
    public var recipients: [String]
    /// The message is S/MIME-encrypted as it stands (before any transform; after incoming processing).
    public var encrypted: Bool
    /// The message's size in bytes.
    public var size: Int
    /// Incoming: S/MIME was found in the message.
    public var smimeMessage: Bool
    /// Incoming: a signature was verified (valid, trusted, covering the author).
    public var smimeVerified: Bool
    /// Incoming: the delivered content is authenticated (a valid signature, or AES-GCM).
    public var smimeAuthenticated: Bool

    public init(
        mailFrom: String?, recipients: [String], encrypted: Bool, size: Int, smimeMessage: Bool = false,
        smimeVerified: Bool = false, smimeAuthenticated: Bool = false
    ) {
        self.mailFrom = mailFrom
        self.recipients = recipients
        self.encrypted = encrypted
        self.size = size
        self.smimeMessage = smimeMessage
        self.smimeVerified = smimeVerified
        self.smimeAuthenticated = smimeAuthenticated
    }
}
