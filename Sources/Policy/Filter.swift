/// One named filter: `name: if (condition) { action; ... } [else { action; ... }]`.
public struct Filter: Sendable {
    public let name: String
    public let condition: Condition
    public let actions: [FilterAction]
    /// Actions of an `else` branch (empty when there is none).
    public let otherwise: [FilterAction]
    /// Where the filter starts in the policy file (1-based).
    public let line: Int

    public init(name: String, condition: Condition, actions: [FilterAction], otherwise: [FilterAction] = [], line: Int)
    {
        self.name = name
        self.condition = condition
        self.actions = actions
        self.otherwise = otherwise
        self.line = line
    }
}
