#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The processor time one evaluation of filters may spend in regular expressions. PCRE2's
/// match limit bounds one call, not a message: a message of a thousand small text parts
/// costs a thousand limits. The budget is measured on the calling thread's CPU clock, not
/// the wall clock, so that a busy machine does not fail messages that did little work.
struct MatchingBudget {
    let limit: Duration
    private(set) var spent: Duration = .zero

    init(limit: Duration) { self.limit = limit }

    /// Runs one match and counts its time. Throws instead when the budget is already spent;
    /// the match that overdraws it still gives its answer, which is a true one.
    mutating func match(_ pattern: Pattern, _ text: String) throws(ConditionFailure) -> Bool {
        guard spent < limit else { throw .matchingBudgetSpent(limit) }
        let start = Self.threadTime()
        defer { spent += Self.threadTime() - start }
        do {
            return try pattern.matches(text)
        } catch {
            throw .match(error)
        }
    }

    /// The CPU time of the calling thread.
    static func threadTime() -> Duration {
        var now = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
}
