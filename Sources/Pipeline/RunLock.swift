import FileIO
import Foundation
import Mailstore

#if canImport(Glibc)
    import Glibc
#endif

/// One run per output directory: an exclusive `flock` on DIR/.lock, held for the
/// run and released by the kernel when the process ends, however it ends. The
/// file holds the holder's PID, for the message a second run prints.
public final class RunLock: Sendable {
    public static let fileName = ".lock"
    private let fd: Int32

    private init(fd: Int32) { self.fd = fd }

    /// Takes the lock, waiting up to `wait` seconds for another run to finish;
    /// throws a `.tryAgain` error naming the holder when it cannot.
    public static func acquire(directory: String, wait: Double = 0) throws -> RunLock {
        let path = directory + "/" + fileName
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError(path, "open") }
        let deadline = ContinuousClock.now + .milliseconds(Int(max(0, wait) * 1000))
        while flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            guard code == EWOULDBLOCK, ContinuousClock.now < deadline else {
                let holder = holderPID(fd)
                close(fd)
                if code != EWOULDBLOCK { throw WriteError(path, "flock", code) }
                throw PipelineError(
                    "\(directory) is in use by another run\(holder.map { " (PID \($0))" } ?? ""); try again later"
                        + (wait > 0 ? "" : ", or wait for it with --wait-lock SECONDS"),
                    kind: .tryAgain)
            }
            usleep(50_000)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = fchmod(fd, 0o600)
        if ftruncate(fd, 0) == 0 { _ = pid.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) } }
        return RunLock(fd: fd)
    }

    private static func holderPID(_ fd: Int32) -> Int? {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        guard n > 0 else { return nil }
        return Int(String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    }

    deinit { close(fd) }  // releases the lock
}
