import CSmimegate
import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// The one-line text of an errno value ("No space left on device").
public func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// A write that failed (ENOSPC, EDQUOT, EIO, EROFS, ...): the path, what was
/// attempted ("write", "rename", ...), and the system's reason. In a run the
/// output side cannot go on without losing mail, so the run stops and says to try again.
public struct WriteError: Error, CustomStringConvertible, Sendable, Equatable {
    public let path: String
    public let operation: String
    public let code: Int32

    public init(_ path: String, _ operation: String, _ code: Int32 = errno) {
        self.path = path
        self.operation = operation
        self.code = code
    }

    public var description: String { "\(path): cannot \(operation) (\(errorText(code)))" }
}

public enum FileSystem {
    /// Creates `path` and any missing parents with exactly `mode` (the umask does
    /// not apply); directories that already exist keep their mode.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o700) throws {
        var missing: [String] = []
        var current = path
        while !current.isEmpty, current != "/", !exists(current) {
            missing.append(current)
            current = split(current).directory
        }
        for directory in missing.reversed() {
            if mkdir(directory, mode) != 0 && errno != EEXIST { throw WriteError(directory, "create the directory") }
            if chmod(directory, mode) != 0 { throw WriteError(directory, "set the mode") }
        }
        var info = stat()
        guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR else {
            throw WriteError(path, "use it as a directory", ENOTDIR)
        }
    }

    /// The directory part and the last component of a path ("a/b" → ("a", "b"), "b" → ("", "b"),
    /// "/b" → ("/", "b")); trailing slashes ignored. NSString's path methods are not used: on
    /// Linux they crash on a one-character component ("o", "x/y").
    public static func split(_ path: String) -> (directory: String, name: String) {
        var trimmed = Substring(path)
        while trimmed.count > 1, trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let slash = trimmed.lastIndex(of: "/") else { return ("", String(trimmed)) }
        let name = String(trimmed[trimmed.index(after: slash)...])
        var directory = trimmed[..<slash]
        while directory.count > 1, directory.hasSuffix("/") { directory.removeLast() }
        return (directory.isEmpty ? "/" : String(directory), name)
    }

    public static func exists(_ path: String) -> Bool {
        var info = stat()
        return lstat(path, &info) == 0
    }

    /// Writes every byte or throws; EINTR is retried.
    public static func writeAll(_ fd: Int32, _ bytes: some ContiguousBytes, path: String) throws {
        try bytes.withUnsafeBytes { raw in
            var written = 0
            while written < raw.count {
                let n = write(fd, raw.baseAddress! + written, raw.count - written)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 { throw WriteError(path, "write", n == 0 ? ENOSPC : errno) }
                written += n
            }
        }
    }

    /// A whole file (or what a FIFO gives until its end), read with read(2); nil when it cannot be opened or
    /// read. Instead of `FileManager.contents(atPath:)`, which leaks a 4 KiB buffer for an empty file
    /// (LeakSanitizer, scripts/sanitize.sh; reproduced with a three-line program).
    public static func contents(of path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count < 0 { return nil }
            if count == 0 { return bytes }
            bytes += chunk[..<count]
        }
    }

    /// fsync(2) of a file descriptor; a failure is a write failure.
    public static func sync(_ fd: Int32, path: String) throws {
        if fsync(fd) != 0 && errno != EINVAL { throw WriteError(path, "sync") }
    }

    /// Makes a directory's entries (a rename, a new or removed file) durable.
    /// `path` "" is the current directory.
    public static func syncDirectory(_ path: String) throws {
        let fd = open(path.isEmpty ? "." : path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteError(path, "open") }
        defer { close(fd) }
        try sync(fd, path: path)
    }

    /// syncfs(2): everything written to the file system holding `path` is on disk.
    public static func syncFileSystem(of path: String) throws {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw WriteError(path, "open") }
        defer { close(fd) }
        if smg_syncfs(fd) != 0 { throw WriteError(path, "syncfs") }
    }

    /// The device a path lives on (to refuse a move across file systems up front).
    public static func device(of path: String) -> UInt? {
        var info = stat()
        return stat(path, &info) == 0 ? UInt(info.st_dev) : nil
    }
}
