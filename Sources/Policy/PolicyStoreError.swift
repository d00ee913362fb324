/// Why `PolicyBook` refused a policy text, as a value: the command line prints
/// each problem as `FILE:LINE:COLUMN: reason` and maps the case to its exit code.
public enum PolicyStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The text has problems (syntax, unknown names, sending profiles the keystore lacks);
    /// nothing was stored.
    case invalid(problems: [PolicyProblem])
    /// The stored policy no longer parses (stored by another version of smimegate).
    case unreadable(problems: [PolicyProblem])

    public var problems: [PolicyProblem] {
        switch self {
        case .invalid(let problems), .unreadable(let problems): problems
        }
    }

    public var description: String {
        switch self {
        case .invalid(let problems):
            "the policy has \(problems.count) problem(s); nothing was stored"
        case .unreadable(let problems):
            "the stored policy cannot be read (\(problems.count) problem(s)): load it again"
        }
    }
}
