/// Why `MessageFacts` could not tell whether a condition holds. Each leaves part of the
/// message unsearched, so none may be read as "false": `FilterEvaluator` turns it into a
/// `FilterError` naming the filter.
public enum ConditionFailure: Error, Sendable, Equatable, CustomStringConvertible {
    /// PCRE2 gave up on a text (match limit, heap limit, ...).
    case match(Pattern.MatchFailure)
    /// The regular expressions of one evaluation used up their budget (`FilterEvaluator.matchingBudget`).
    case matchingBudgetSpent(Duration)
    /// A part lies deeper in the MIME tree than this many levels (`MIMELimits.maxDepth`):
    /// a reader's client may show its text, the filter cannot search it.
    case nestedTooDeep(limit: Int)

    public var description: String {
        switch self {
        case .match(let failure): return failure.description
        case .matchingBudgetSpent(let budget):
            return "regular expressions took more than \(Self.format(budget)) on this message"
        case .nestedTooDeep(let limit):
            return "a part nested deeper than \(limit) MIME levels cannot be searched"
        }
    }

    /// "2 s"; "250 ms" or "1 ns" for budgets that are not whole seconds (tests set those).
    static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        if attoseconds == 0 { return "\(seconds) s" }
        let nanoseconds = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        return nanoseconds % 1_000_000 == 0 ? "\(nanoseconds / 1_000_000) ms" : "\(nanoseconds) ns"
    }
}
