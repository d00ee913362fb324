#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A value behind a pthread mutex, for state that worker threads share (what the standard library's
/// `Synchronization.Mutex` does). Ours because ThreadSanitizer sees pthread locks but not the standard
/// library's: on Linux its `Mutex` is futex calls inside an uninstrumented library, so every access it
/// guards was reported as a race (scripts/sanitize.sh; measured with a two-thread counter), which left
/// the sanitizer unable to find a real one. An uncontended lock costs the same (glibc's mutex is one
/// atomic exchange on the fast path); each `Locked` is one allocation, made when its owner is.
public final class Locked<Value>: @unchecked Sendable {  // every access to `value` holds `mutex`
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: Value) {
        self.value = value
        mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    /// Runs `body` with the value, the lock held.
    @inline(__always)
    public func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
