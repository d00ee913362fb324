import FileIO
import Foundation
import Mailstore

#if canImport(Glibc)
    import Glibc
#endif

/// One run per output directory: an exclusive `flock` on DIR/.lock, held for the
/// run and released by the kernel when the process ends, however it ends. The
/// file holds the holder's PID, for the message a second run prints. A spool
/// that a run consumes is locked the same way (SPOOL/.smimegate-consume.lock),
/// so two runs never both process and deliver one input.
public final class RunLock: Sendable {
    public static let fileName = ".lock"
    public static let consumeFileName = ".smimegate-consume.lock"
    /// The lock a shard's run holds on a spool it consumes (beside a shared lock on `consumeFileName`).
    public static func shardConsumeFileName(_ shard: Shard) -> String {
        ".smimegate-consume-\(shard.index)-of-\(shard.count).lock"
    }
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock, waiting up to `wait` seconds for another run to finish;
    /// throws a `.tryAgain` error naming the holder when it cannot. The lock file
    /// must be a regular file: a symbolic link planted there is not followed. A `shared` lock is held
    /// by many runs at once (shards), which keeps out the runs that want it alone; it records no PID.
    public static func acquire(
        directory: String, name: String = fileName, shared: Bool = false, wait: Double = 0,
        busy: String = "is in use by another run"
    ) throws -> RunLock {
        let path = directory + "/" + name
        let fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if [ELOOP, EISDIR, EACCES, EPERM].contains(errno) {
                throw PipelineError("\(path): cannot be used as a lock file (\(errorText(errno)))")
            }
            throw WriteError(path, "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw PipelineError("\(path): not a regular file; cannot be used as a lock file")
        }
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, wait) * 1000))
        while flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK, ContinuousClock.now < deadline else {
                let holder = holderPID(fd)
                close(fd)
                if code != EWOULDBLOCK { throw WriteError(path, "flock", code) }
                throw PipelineError(
                    "\(directory) \(busy)\(holder.map { " (PID \($0))" } ?? ""); try again later"
                        + (wait > 0 ? "" : ", or wait for it with --wait-lock SECONDS"),
                    kind: .tryAgain)
            }
            usleep(50_000)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = fchmod(fd, 0o600)
        // A shared holder leaves the file empty: no PID of an earlier holder is shown as if it held it now.
        if ftruncate(fd, 0) == 0, !shared { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        return RunLock(fd: fd)
    }

    /// The locks a run holds on a spool it consumes. Without a shard: the spool's lock, alone. A shard: the
    /// spool's lock shared (so an unsharded consumer waits for every shard), its own shard's lock alone (so
    /// no two runs take one shard), and the split: while shards of N consume a spool, a shard of another N
    /// (whose messages would overlap theirs) is refused. The split is recorded in SPOOL/.smimegate-split by
    /// the first shard, and checked by the others, each holding SPOOL/.smimegate-split.lock while it decides.
    public static func consuming(_ spool: String, shard: Shard?, wait: Double) throws -> [RunLock] {
        let busy = "is being consumed by another run"
        guard let shard else { return [try acquire(directory: spool, name: consumeFileName, wait: wait, busy: busy)] }
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, wait) * 1000))
        while true {
            do {
                // Held for a moment by each shard that starts: shards started together wait their turn for it
                // whatever --wait-lock says (without this, the second of two was refused: exit 75).
                let decision = try acquire(
                    directory: spool, name: splitFileName + ".lock", wait: max(wait, 30), busy: busy)
                let record = spool + "/" + splitFileName
                let spoolLock: RunLock
                if nobodyHolds(spool, consumeFileName) {
                    // The first consumer: this run's split is the spool's now.
                    try OutputFile.write(Array("\(shard.count)\n".utf8), to: record, content: .secret)
                    spoolLock = try acquire(directory: spool, name: consumeFileName, shared: true, busy: busy)
                } else {
                    spoolLock = try acquire(directory: spool, name: consumeFileName, shared: true, busy: busy)
                    let split = FileSystem.contents(of: record).map {
                        String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                    guard split == String(shard.count) else {
                        throw PipelineError(
                            "\(spool) is being consumed by shards of another split (N = \(split ?? "?"), not "
                                + "\(shard.count)); try again when they are done", kind: .tryAgain)
                    }
                }
                let own = try acquire(
                    directory: spool, name: shardConsumeFileName(shard),
                    busy: "is being consumed by another run "
                        + "of shard \(shard)")
                withExtendedLifetime(decision) {}
                return [spoolLock, own]
            } catch let error as PipelineError where error.kind == .tryAgain && ContinuousClock.now < deadline {
                usleep(50_000)
            }
        }
    }

    /// Whether no run holds DIR/name at all (taken alone for a moment and let go before this returns).
    private static func nobodyHolds(_ directory: String, _ name: String) -> Bool {
        (try? acquire(directory: directory, name: name)) != nil
    }

    /// Where the split of the shards consuming a spool is recorded (`consuming`).
    static let splitFileName = ".smimegate-split"

    private static func holderPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit { close(fd) }  // releases the lock
}
