/// What a run of filters decided for one copy of a message, and why: the
/// disposition, the sending profile to transform with, the notices to send, and
/// one step per filter looked at (for the manifest and `policy trace`).
public struct FilterDecision: Sendable, Equatable {
    public enum Disposition: Sendable, Equatable {
        case deliver
        case quarantine(String)
        case drop
        case bounce
    }

    /// One filter looked at: whether its condition held, and the actions it took.
    public struct Step: Sendable, Equatable {
        public let filter: String
        public let matched: Bool
        public let actions: [FilterAction]
    }

    public var disposition: Disposition = .deliver
    /// The sending profile to transform with (content filters), and whether a final action chose it.
    public var profile: String?
    public var finalTransform = false
    /// Addresses to send a notice to.
    public var notifications: [String] = []
    public var steps: [Step] = []

    public init() {}

    /// The filters that acted (took at least one action), in order.
    public var acted: [String] { steps.filter { !$0.actions.isEmpty }.map(\.filter) }
}
