/// A parsed policy file (DESIGN.md "Policy"): message filters, content filters,
/// outgoing mail policies and incoming mail flow policies, each in file order,
/// with the policies named `default` moved last. A document without a default
/// behaves as if it ended with an empty one (no content filters; decrypt and verify).
public struct PolicyDocument: Sendable {
    public let messageFilters: [Filter]
    public let contentFilters: [Filter]
    public let outgoing: [OutgoingPolicy]
    public let incoming: [IncomingPolicy]
    /// The SHA-256 (hex) of the file's text, when the caller knows it (Policy computes no digests):
    /// every manifest record names the policy version that decided it.
    public var digest: String?
    /// Each outgoing policy's content filters, resolved once (by policy name), not per message.
    private let filtersByPolicy: [String: [Filter]]

    public init(
        messageFilters: [Filter], contentFilters: [Filter], outgoing: [OutgoingPolicy], incoming: [IncomingPolicy]
    ) {
        self.messageFilters = messageFilters
        self.contentFilters = contentFilters
        self.outgoing = outgoing.filter { $0.name != "default" } + outgoing.filter { $0.name == "default" }
        self.incoming = incoming.filter { $0.name != "default" } + incoming.filter { $0.name == "default" }
        let byName = Dictionary(contentFilters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.filtersByPolicy = Dictionary(
            outgoing.map { policy in (policy.name, policy.contentFilters.compactMap { byName[$0] }) },
            uniquingKeysWith: { first, _ in first })
    }

    public static let empty = PolicyDocument(messageFilters: [], contentFilters: [], outgoing: [], incoming: [])

    /// The first outgoing policy covering this sender and recipient.
    public func outgoingPolicy(sender: String?, recipient: String) -> OutgoingPolicy {
        outgoing.first { $0.covers(sender: sender, recipient: recipient) }
            ?? OutgoingPolicy(name: "default", senders: [], recipients: [], contentFilters: [], line: 0)
    }

    /// Message splintering: the recipients grouped by the outgoing policy covering each,
    /// groups in the order their first recipient appears. A message without recipients is
    /// one empty group, under the policy its sender alone selects.
    public func splinter(sender: String?, recipients: [String]) -> [(policy: OutgoingPolicy, recipients: [String])] {
        var groups: [(policy: OutgoingPolicy, recipients: [String])] = []
        for recipient in recipients.isEmpty ? [""] : recipients {
            let chosen = outgoingPolicy(sender: sender, recipient: recipient)
            let addresses = recipient.isEmpty ? [] : [recipient]
            if let index = groups.firstIndex(where: { $0.policy.name == chosen.name }) {
                groups[index].recipients += addresses
            } else {
                groups.append((chosen, addresses))
            }
        }
        return groups
    }

    /// The first incoming policy covering this sender.
    public func incomingPolicy(sender: String?) -> IncomingPolicy {
        incoming.first { $0.covers(sender: sender) } ?? IncomingPolicy(name: "default")
    }

    public func contentFilter(named name: String) -> Filter? { contentFilters.first { $0.name == name } }

    /// The content filters of a policy, in the policy's order.
    public func contentFilters(of policy: OutgoingPolicy) -> [Filter] {
        filtersByPolicy[policy.name] ?? policy.contentFilters.compactMap(contentFilter)
    }

    /// Every sending profile an action names (each must exist when the policy is loaded).
    public var profileNames: Set<String> {
        Set(
            allActions.compactMap {
                switch $0 {
                case .smimeGateway(let p), .smimeGatewayDeferred(let p): return p
                default: return nil
                }
            })
    }

    /// Every quarantine an action names (their folders are made before a run starts).
    public var quarantineNames: Set<String> {
        Set(allActions.compactMap { if case .quarantine(let name) = $0 { return name } else { return nil } })
    }

    /// Whether any action sends a notice (DIR/notifications/ is then made before the run).
    public var notifies: Bool { allActions.contains { if case .notify = $0 { return true } else { return false } } }

    private var allActions: [FilterAction] {
        (messageFilters + contentFilters).flatMap { $0.actions + $0.otherwise }
    }
}
