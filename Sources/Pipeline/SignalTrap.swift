import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// SIGINT and SIGTERM during a run (DESIGN.md: cancellation in one place): the
/// first calls `onSignal` (the run stops taking new messages, lets in-flight ones
/// finish and syncs the manifest); a second one exits at once with 128 + signal,
/// as a shell expects. The default dispositions come back when the trap is released.
final class SignalTrap {
    private let sources: [DispatchSourceSignal]
    private let signals: [Int32]

    init(_ signals: [Int32] = [SIGINT, SIGTERM], onSignal: @escaping @Sendable (Int32) -> Void) {
        self.signals = signals
        let queue = DispatchQueue(label: "smimegate.signals")
        let seen = SeenFlag()
        sources = signals.map { number in
            signal(number, SIG_IGN)  // delivered to the source instead of killing the process
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                if seen.value.exchange(true, ordering: .relaxed) { _exit(128 + number) }
                onSignal(number)
            }
            source.resume()
            return source
        }
    }

    func release() {
        for source in sources { source.cancel() }
        for number in signals { signal(number, SIG_DFL) }
    }
}

/// Whether a signal already came (shared by the handlers of every signal).
private final class SeenFlag: Sendable {
    let value = Atomic<Bool>(false)
}
