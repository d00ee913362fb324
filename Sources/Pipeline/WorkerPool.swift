import Dispatch
import Locking

/// Why a pool stopped before its producer ran out of work.
public enum PoolStop: Sendable, Equatable {
    /// SIGINT or SIGTERM: in-flight items finish, nothing new starts.
    case signal(Int32)
    /// A work item failed in a way that must stop the run (a write error).
    case failure(String)
}

/// The design's "Dispatch concurrent worker pool": N workers, each on its own
/// serial Dispatch queue (one thread each, so a worker may block on I/O), fed by
/// a bounded queue that the producer fills on the calling thread (back-pressure:
/// at most `capacity` items wait, so memory is bounded by capacity + workers
/// items). Cancellation and error propagation live here, in one place: the first
/// `cancel` wins, the producer's `submit` starts returning false, queued items are
/// dropped (never started, so never half-done), and in-flight items finish.
///
/// With a `weight` (an item's size in bytes), the items between `submit` and the end of their work
/// are bounded in bytes too: the next one waits while they would pass `bytes`, unless fewer items
/// than workers are in flight — so large messages never queue up behind busy workers (each holds
/// its own), and a worker is never left idle by the bound.
public final class WorkerPool<Item: Sendable>: Sendable {
    private let workers: Int
    private let queue: BoundedQueue<Item>
    private let stopped = Locked<PoolStop?>(nil)
    private let gate: (weight: @Sendable (Item) -> Int, bytes: ByteGate)?

    public init(workers: Int, capacity: Int, weight: (@Sendable (Item) -> Int)? = nil, bytes: Int = 0) {
        self.workers = max(1, workers)
        self.queue = BoundedQueue(capacity: capacity)
        self.gate = weight.map { ($0, ByteGate(budget: bytes, workers: max(1, workers))) }
    }

    /// The reason the pool was cancelled, if it was.
    public var stop: PoolStop? { stopped.withLock { $0 } }

    /// Stops the pool; the first reason given is the one kept.
    public func cancel(_ reason: PoolStop) {
        stopped.withLock { if $0 == nil { $0 = reason } }
        queue.cancel()
        gate?.bytes.open()
    }

    /// Runs `produce` on the calling thread — it hands items to `submit`, which
    /// blocks while the queue is full and returns false once the pool is cancelled —
    /// and `work` on the workers. A `work` that throws cancels the pool with
    /// `.failure`. Returns when every worker is done, with the reason it stopped early.
    @discardableResult
    public func run(produce: (_ submit: (Item) -> Bool) -> Void, work: @escaping @Sendable (Item) throws -> Void)
        -> PoolStop?
    {
        let group = DispatchGroup()
        for index in 0..<workers {
            DispatchQueue(label: "smimegate.worker.\(index)").async(group: group) {
                while let item = self.queue.pop() {
                    do {
                        try work(item)
                    } catch {
                        self.cancel(.failure("\(error)"))
                    }
                    if let gate = self.gate { gate.bytes.leave(gate.weight(item)) }
                }
            }
        }
        produce { item in
            guard let gate else { return self.queue.push(item) }
            let weight = gate.weight(item)
            gate.bytes.enter(weight)
            if self.queue.push(item) { return true }
            gate.bytes.leave(weight)
            return false
        }
        queue.close()
        group.wait()
        return stop
    }
}

/// The byte bound of a `WorkerPool`: one producer enters (waiting while the bound says so), the
/// workers leave. `open` (cancellation) lets the producer through for good.
final class ByteGate: Sendable {
    private struct State {
        var bytes = 0
        var items = 0
        var waiting = false
        var open = false
    }

    private let state = Locked(State())
    private let wake = DispatchSemaphore(value: 0)
    private let budget: Int
    private let workers: Int

    init(budget: Int, workers: Int) {
        self.budget = budget
        self.workers = workers
    }

    func enter(_ weight: Int) {
        while true {
            let admitted = state.withLock { state in
                if state.open || state.items < workers || state.bytes + weight <= budget {
                    state.bytes += weight
                    state.items += 1
                    return true
                }
                state.waiting = true  // set under the lock: the next leave signals exactly once
                return false
            }
            if admitted { return }
            wake.wait()
        }
    }

    func leave(_ weight: Int) {
        release {
            $0.bytes -= weight; $0.items -= 1
        }
    }

    func open() { release { $0.open = true } }

    private func release(_ change: (inout State) -> Void) {
        let waiting = state.withLock { state in
            change(&state)
            defer { state.waiting = false }
            return state.waiting
        }
        if waiting { wake.signal() }
    }
}

/// A bounded multi-producer, multi-consumer queue: `push` blocks while it is
/// full (back-pressure on the scanner), `pop` blocks while it is empty and
/// returns nil once it is closed and drained, or cancelled.
final class BoundedQueue<Element: Sendable>: Sendable {
    private struct State {
        /// Popped slots are emptied at once: a popped message must not stay alive in the queue
        /// until the buffer is compacted (64 large messages held for nothing, before issue 14).
        var buffer: [Element?] = []
        var head = 0
        var closed = false
        var cancelled = false
    }

    private let slots: DispatchSemaphore
    private let items = DispatchSemaphore(value: 0)
    private let state = Locked(State())

    init(capacity: Int) {
        // Start at 0 and signal up: libdispatch traps when a semaphore is freed below the value it
        // was created with, which a cancelled queue (its slots never all given back) would be.
        slots = DispatchSemaphore(value: 0)
        for _ in 0..<max(1, capacity) { slots.signal() }
    }

    /// Adds an element; false (and the element dropped) once the queue is cancelled.
    @discardableResult
    func push(_ element: Element) -> Bool {
        slots.wait()
        let accepted = state.withLock { state in
            guard !state.cancelled else { return false }
            state.buffer.append(element)
            return true
        }
        if accepted { items.signal() } else { slots.signal() }  // pass the wake-up on
        return accepted
    }

    func pop() -> Element? {
        items.wait()
        let element: Element? = state.withLock { state in
            // Cancelled, or closed and drained.
            guard !state.cancelled, state.head < state.buffer.count else { return nil }
            let element = state.buffer[state.head].take()
            state.head += 1
            if state.head > 64 && state.head * 2 > state.buffer.count {
                state.buffer.removeFirst(state.head)
                state.head = 0
            }
            return element
        }
        guard let element else {
            items.signal()  // wake the next waiting worker so it sees the end too
            return nil
        }
        slots.signal()
        return element
    }

    func close() {
        state.withLock { $0.closed = true }
        items.signal()
    }

    /// Drops what is queued and wakes everyone: pushers get false, poppers nil.
    func cancel() {
        let wasCancelled = state.withLock { state in
            defer {
                state.cancelled = true
                state.buffer.removeAll()
                state.head = 0
            }
            return state.cancelled
        }
        guard !wasCancelled else { return }
        items.signal()
        slots.signal()
    }
}
