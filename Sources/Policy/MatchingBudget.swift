#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The processor time one evaluation of filters may spend matching. PCRE2's match limit
/// bounds one call, not a message: a message of a thousand small text parts costs a
/// thousand limits. The budget is processor time on the calling thread, counted from the
/// evaluation's first match, so that a busy machine does not fail messages that did little
/// work. Reading the thread's CPU clock is a system call (about 0.3 µs here, more than a
/// short match), so each match reads only the monotonic clock (vDSO, 30 ns); the CPU clock
/// is read once at the first match and again only when the wall clock says the budget may
/// be spent.
struct MatchingBudget {
    let limit: Duration
    private var cpuStart: Duration?
    private var wallStart = ContinuousClock.now
    private var spent = false

    init(limit: Duration) { self.limit = limit }

    /// Runs one match. Throws instead when the budget is already spent; the match that
    /// overdraws it still gives its answer, which is a true one.
    mutating func match(_ pattern: Pattern, _ text: String) throws(ConditionFailure) -> Bool {
        guard !spent else { throw .matchingBudgetSpent(limit) }
        if cpuStart == nil {
            cpuStart = Self.threadTime()
            wallStart = .now
        }
        defer {
            if ContinuousClock.now - wallStart >= limit, let cpuStart, Self.threadTime() - cpuStart >= limit {
                spent = true
            }
        }
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
