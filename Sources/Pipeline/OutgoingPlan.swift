import MIME
import Policy

/// What an outgoing policy decided for one message before any cryptography
/// (DESIGN.md "Policy decides per recipient"): the message after its message
/// filters, their decision, and one copy per mail policy — its recipients, its
/// message after the content filters, and their decision (whose steps begin with
/// the message filters').
public struct OutgoingPlan: Sendable {
    public struct Copy: Sendable {
        public let policy: OutgoingPolicy
        public let recipients: [String]
        public let message: Entity
        public let decision: FilterDecision
    }

    public let message: Entity
    public let messageDecision: FilterDecision
    /// Empty when a message filter quarantined, dropped or bounced the whole message.
    public let copies: [Copy]
    /// The message was S/MIME-encrypted already.
    public let encrypted: Bool

    /// Why a copy no filter chose a profile for passes unchanged.
    func passReason(_ copy: Copy) -> Reason {
        encrypted ? .alreadyEncrypted : .noProfileChosen(policy: copy.policy.name)
    }
}
