import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A file the user names for output (`-o FILE`, `cert export`, `keys export`).
///
/// A regular file, or a path that does not exist yet, is replaced atomically:
/// the bytes go to a temporary file in the same directory, which is given its
/// mode explicitly (whatever the umask), synced, and renamed over the target;
/// the directory is then synced. A reader never sees half a file, and a failed
/// write leaves the old file as it was. A symbolic link to a regular file keeps
/// pointing at it: the file it names is replaced.
///
/// Anything else — `/dev/null`, a FIFO, a terminal, another device — is opened
/// for writing and written in place, never replaced, created or truncated: a run
/// as root with `-o /dev/null` must not turn `/dev/null` into a regular file.
public enum OutputFile {
    /// What the file holds, which decides the mode of a file this writes.
    public enum Content: Sendable, Equatable {
        /// Message content or key material: 0600.
        case secret
        /// Certificates, requests, public-key bundles: 0644.
        case publicData

        public var mode: mode_t {
            switch self {
            case .secret: 0o600
            case .publicData: 0o644
            }
        }
    }

    /// Writes `bytes` to `path`: replaces a regular file (or creates it), writes in place to anything else.
    public static func write(_ bytes: [UInt8], to path: String, content: Content) throws {
        let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        if fd >= 0 {
            var info = stat()
            guard fstat(fd, &info) == 0 else {
                let error = WriteError(path, "inspect the file", errno)
                close(fd)
                throw error
            }
            if info.st_mode & S_IFMT != S_IFREG {
                defer { close(fd) }
                try FileSystem.writeAll(fd, bytes, path: path)
                return
            }
            close(fd)
        } else {
            let openError = errno
            var info = stat()
            if stat(path, &info) == 0 {
                // Not writable as it is (e.g. a read-only regular file): only a regular file is replaced.
                guard info.st_mode & S_IFMT == S_IFREG else {
                    throw WriteError(path, "open the file for writing", openError)
                }
            } else if errno != ENOENT {
                throw WriteError(path, "open the file for writing", openError)
            }
        }
        try replace(resolvingLinks(path), with: bytes, mode: content.mode, reportedAs: path)
    }

    /// The file a symbolic link names, so that the link itself is kept; `path` when it is no link.
    private static func resolvingLinks(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFLNK, let resolved = realpath(path, nil) else {
            return path
        }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    private static func replace(_ target: String, with bytes: [UInt8], mode: mode_t, reportedAs path: String) throws {
        let (directory, base) = FileSystem.split(target)
        let prefix = directory.isEmpty ? "" : directory + "/"
        var template = Array("\(prefix).\(base).smimegate-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        guard fd >= 0 else { throw WriteError(path, "create a temporary file beside it", errno) }
        let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var renamed = false
        defer {
            if !renamed { unlink(temporary) }
        }
        do {
            defer { close(fd) }
            // mkstemp makes 0600; fchmod sets the mode exactly, whatever the umask.
            guard fchmod(fd, mode) == 0 else {
                throw WriteError(path, "set the file mode", errno)
            }
            try FileSystem.writeAll(fd, bytes, path: path)
            try FileSystem.sync(fd, path: path)
        }
        guard rename(temporary, target) == 0 else {
            throw WriteError(path, "replace the file", errno)
        }
        renamed = true
        // The rename is durable once the directory is synced; a failure to sync it loses nothing written.
        try? FileSystem.syncDirectory(directory)
    }
}
