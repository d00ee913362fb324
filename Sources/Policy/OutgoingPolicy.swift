/// An outgoing mail policy (SPEC F9): which senders and recipients it covers and
/// the content filters their copies run, in order.
public struct OutgoingPolicy: Sendable {
    public let name: String
    /// Empty: every sender.
    public let senders: [AddressPattern]
    /// Empty: every recipient.
    public let recipients: [AddressPattern]
    public let contentFilters: [String]
    public let line: Int

    public init(
        name: String, senders: [AddressPattern], recipients: [AddressPattern], contentFilters: [String], line: Int
    ) {
        self.name = name
        self.senders = senders
        self.recipients = recipients
        self.contentFilters = contentFilters
        self.line = line
    }

    /// Both lists match (an empty list matches anyone; a message without a sender matches only an empty list).
    public func covers(sender: String?, recipient: String) -> Bool {
        let senderMatches = senders.isEmpty || sender.map { s in senders.contains { $0.matches(s) } } == true
        return senderMatches && (recipients.isEmpty || recipients.contains { $0.matches(recipient) })
    }
}
