/// An incoming mail flow policy (SPEC F12): for which senders, whether to
/// decrypt and verify, and whether the (inner) signature stays on delivered mail.
/// `decrypt` and `verify` default to yes; the other settings, left out of the file,
/// are nil and take the command line's value.
public struct IncomingPolicy: Sendable {
    public enum Signature: String, Sendable, CaseIterable { case keep, remove }
    /// HTML decrypted from CBC (no integrity): remote references neutralised, or kept.
    public enum UnauthenticatedHTML: String, Sendable, CaseIterable { case neutralise, keep }

    public let name: String
    /// Empty: every sender.
    public let senders: [AddressPattern]
    public let decrypt: Bool
    public let verify: Bool
    public let signature: Signature?
    public let unauthenticatedHTML: UnauthenticatedHTML?
    public let acceptSenderMatch: Bool?
    public let allowSHA1: Bool?
    public let allowWeak: Bool?
    /// SPEC F21: `harvest` and its options (`harvest-on-failure`, `harvest-updated`, `harvest-expired`,
    /// `harvest-self-signed`), by setting name; left out, the command line's.
    public var harvest: [String: Bool] = [:]
    public let line: Int

    public static let harvestSettings = [
        "harvest", "harvest-on-failure", "harvest-updated", "harvest-expired", "harvest-self-signed",
    ]

    public init(
        name: String, senders: [AddressPattern] = [], decrypt: Bool = true, verify: Bool = true,
        signature: Signature? = nil, unauthenticatedHTML: UnauthenticatedHTML? = nil, acceptSenderMatch: Bool? = nil,
        allowSHA1: Bool? = nil, allowWeak: Bool? = nil, line: Int = 0
    ) {
        self.name = name
        self.senders = senders
        self.decrypt = decrypt
        self.verify = verify
        self.signature = signature
        self.unauthenticatedHTML = unauthenticatedHTML
        self.acceptSenderMatch = acceptSenderMatch
        self.allowSHA1 = allowSHA1
        self.allowWeak = allowWeak
        self.line = line
    }

    public func covers(sender: String?) -> Bool {
        senders.isEmpty || sender.map { s in senders.contains { $0.matches(s) } } == true
    }
}
