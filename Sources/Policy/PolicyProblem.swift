/// A problem in a policy file, where it is: `LINE:COLUMN: reason` (1-based; the
/// command line puts the file name in front).
public struct PolicyProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let reason: String

    public init(line: Int, column: Int, _ reason: String) {
        self.line = line
        self.column = column
        self.reason = reason
    }

    public var description: String { "\(line):\(column): \(reason)" }
}
