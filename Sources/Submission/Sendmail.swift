import CSmimegate
import FileIO
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Submission through the MTA's `sendmail` command, which every MTA provides:
/// `sendmail -i -f SENDER -- RECIPIENT...` with the message on standard input, one
/// process per message. Its exit status decides (sysexits.h): 0 accepted;
/// EX_DATAERR, EX_NOUSER, EX_NOHOST and EX_NOPERM are permanent refusals; every other
/// status (EX_TEMPFAIL above all), a signal or a timeout means "try again later".
public struct Sendmail: Sendable {
    public enum Result: Sendable, Equatable {
        case accepted
        case deferred(String)
        case rejected(String)
    }

    public static let defaultPath = "/usr/sbin/sendmail"
    /// Exit statuses that will not change by trying again (sysexits.h).
    static let permanent: Set<Int32> = [65, 67, 68, 77]

    public let path: String
    public let timeout: Double

    public init(path: String = defaultPath, timeout: Double = 120) throws {
        guard access(path, X_OK) == 0 else {
            throw SMTPError.usage("\(path): not an executable sendmail (\(errorText(errno).lowercased()))")
        }
        self.path = path
        self.timeout = timeout
    }

    /// `sender` "" is the null reverse-path (`-f <>`). Line ends become the local LF.
    public func submit(sender: String, recipients: [String], message: [UInt8]) -> Result {
        let arguments = [path, "-i", "-f", sender.isEmpty ? "<>" : sender, "--"] + recipients
        var input = [UInt8]()
        input.reserveCapacity(message.count)
        for (index, byte) in message.enumerated()
        where !(byte == 13 && index + 1 < message.count && message[index + 1] == 10) {
            input.append(byte)
        }
        do {
            let (status, output) = try Self.run(arguments, input: input, timeout: timeout)
            let said = output.split(separator: "\n").first.map { ": " + $0.prefix(300) } ?? ""
            switch status {
            case .exited(0): return .accepted
            case .exited(let code) where Self.permanent.contains(code):
                return .rejected("sendmail exit \(code)\(said)")
            case .exited(let code): return .deferred("sendmail exit \(code)\(said)")
            case .signalled(let number): return .deferred("sendmail killed by signal \(number)\(said)")
            case .timedOut:
                return .deferred("sendmail did not finish within \(String(format: "%g", timeout)) s")
            }
        } catch {
            return .deferred("\(error)")
        }
    }

    enum Status: Equatable {
        case exited(Int32)
        case signalled(Int32)
        case timedOut
    }

    /// Runs `arguments` with `input` on its standard input; its standard output and error
    /// together come back as text. The child starts with default signal dispositions (a run
    /// ignores SIGINT/SIGTERM to handle them itself) in a process group of its own, which is
    /// killed after `timeout` seconds.
    static func run(_ arguments: [String], input: [UInt8], timeout: Double) throws -> (Status, String) {
        var inPipe: [Int32] = [0, 0]
        var outPipe: [Int32] = [0, 0]
        guard smg_pipe_cloexec(&inPipe) == 0 else { throw SMTPError.connection("pipe: \(errorText(errno))") }
        guard smg_pipe_cloexec(&outPipe) == 0 else {
            close(inPipe[0])
            close(inPipe[1])
            throw SMTPError.connection("pipe: \(errorText(errno))")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for number in [SIGINT, SIGTERM, SIGPIPE, SIGHUP] { sigaddset(&defaults, number) }
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setsigmask(&attributes, &mask)
        // A process group of its own: a timeout kills whatever it started too (postdrop, say), so its
        // output pipe closes.
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(
            &attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP))
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
        close(inPipe[0])
        close(outPipe[1])
        guard spawned == 0 else {
            close(inPipe[1])
            close(outPipe[0])
            throw SMTPError.connection("\(arguments[0]): cannot run (\(errorText(spawned)))")
        }
        // Its output is read on another thread while the message is written, so neither side can block the other.
        let collected = OutputCollector(fd: outPipe[0])
        let reader = Thread { collected.drain() }
        reader.start()
        var offset = 0
        while offset < input.count {
            let n = input.withUnsafeBytes { write(inPipe[1], $0.baseAddress! + offset, input.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }  // it stopped reading (EPIPE): its exit status tells why
            offset += n
        }
        close(inPipe[1])
        let deadline = ContinuousClock.now + .milliseconds(Int(timeout * 1000))
        var status: Int32 = 0
        var timedOut = false
        while true {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid { break }
            if waited < 0 && errno != EINTR { break }
            if ContinuousClock.now > deadline && !timedOut {
                timedOut = true
                kill(-pid, SIGKILL)
            }
            usleep(2_000)
        }
        // Something it left running may hold the pipe open: its words are not waited for beyond a
        // moment, and its process group goes.
        let text = collected.wait(seconds: 2)
        kill(-pid, SIGKILL)
        if timedOut { return (.timedOut, text) }
        let signal = status & 0x7f
        if signal != 0 { return (.signalled(signal), text) }
        return (.exited((status >> 8) & 0xff), text)
    }
}

/// Reads a pipe to its end (at most 64 KiB kept) on a thread of its own.
private final class OutputCollector: @unchecked Sendable {
    // Unchecked Sendable: `bytes` and `abandoned` are guarded by `lock`; only the reader touches the fd.
    private let fd: Int32
    private var bytes: [UInt8] = []
    private var abandoned = false
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)

    init(fd: Int32) { self.fd = fd }

    func drain() {
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&poller, 1, 200)
            if ready < 0 && errno != EINTR { break }
            if lock.withLock({ abandoned }) { break }
            if ready <= 0 { continue }
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            lock.withLock { if bytes.count < 65_536 { bytes += chunk[0..<n] } }
        }
        close(fd)
        done.signal()
    }

    /// What was read, once the pipe closed or `seconds` passed (then reading stops).
    func wait(seconds: Double) -> String {
        if done.wait(timeout: .now() + seconds) == .timedOut {
            lock.withLock { abandoned = true }
            done.wait()  // the reader notices within 200 ms
        }
        let text = lock.withLock { String(decoding: bytes, as: UTF8.self) }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
