import CMS
import FileIO
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// A JSON-lines file that only grows by whole lines: DIR/manifest.jsonl and DIR/delivery.jsonl.
/// Each line is one `write(2)`; a write that fails part-way is cut back off, so the file only
/// ever holds whole lines, and a partial last line left by a killed process is cut off when
/// the file is opened again (`cutShort` says so). Mode 0600; a symbolic link or anything but a
/// regular file in its place is refused, never followed or waited on.
final class AppendOnlyLog: Sendable {
    let path: String
    let fd: Int32
    /// Whether opening cut off a partial last line (the previous writer did not end cleanly).
    let cutShort: Bool
    /// The file's length: where a failed append is cut back to.
    private let length: Locked<Int>

    init(path: String, what: String) throws {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw PipelineError("\(path): a symbolic link, not a \(what)") }
            throw WriteError(path, "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            close(fd)
            throw PipelineError("\(path): not a regular file")
        }
        guard fchmod(fd, 0o600) == 0 else {
            let failure = WriteError(path, "set the mode")
            close(fd)
            throw failure
        }
        var size = Int(info.st_size)
        var cutShort = false
        do {
            let complete = try Self.completeLength(fd, size: size, path: path)
            if complete != size {
                cutShort = true
                guard ftruncate(fd, off_t(complete)) == 0 else { throw WriteError(path, "truncate") }
                size = complete
            }
        } catch {
            close(fd)
            throw error
        }
        self.path = path
        self.fd = fd
        self.cutShort = cutShort
        self.length = Locked(size)
    }

    deinit { close(fd) }

    /// The length now (whole lines only).
    var size: Int { length.withLock { $0 } }

    func append(_ line: [UInt8]) throws {
        try length.withLock { length in
            do {
                try FileSystem.writeAll(fd, line, path: path)
                length += line.count
            } catch {
                _ = ftruncate(fd, off_t(length))  // no partial line stays behind
                throw error
            }
        }
    }

    func sync() throws { try FileSystem.sync(fd, path: path) }

    /// Runs `body` with the length under the append lock (nothing is appended meanwhile).
    func withLength<T>(_ body: (Int) throws -> T) rethrows -> T { try length.withLock { try body($0) } }

    /// Calls `body` with each whole line (without its newline) from offset `start` up to the current
    /// length, in order, and the offset just after the line.
    func forEachLine(from start: Int = 0, _ body: (ArraySlice<UInt8>, Int) throws -> Void) throws {
        try Self.forEachLine(fd: fd, start: start, end: size, path: path, body)
    }

    /// Which file this is and how long: a later run trusts a position in it only if it is the same file.
    var identity: FileIdentity? { FileIdentity(fd, length: size) }

    /// The same for a file only read (a manifest `deliver` reads): opened read-only, never created,
    /// never through a symbolic link; a partial last line (a writer still at work, or killed) is left out.
    /// `start(identity)` says where to begin, knowing which file it is.
    static func forEachLine(
        path: String, start: (FileIdentity) -> Int = { _ in 0 }, _ body: (ArraySlice<UInt8>, Int) throws -> Void
    ) throws {
        let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("\(path): cannot open (\(errorText(errno).lowercased()))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, let identity = FileIdentity(fd) else {
            throw PipelineError("\(path): not a regular file")
        }
        try forEachLine(fd: fd, start: start(identity), end: Int(info.st_size), path: path, body)
    }

    /// A small file's bytes (a regular file, not through a symbolic link, at most `limit` bytes).
    static func contents(path: String, limit: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        try forEachLine(path: path) { line, _ in
            bytes += line
            bytes.append(10)
            if bytes.count > limit { throw PipelineError("\(path): too large") }
        }
        return bytes
    }

    private static func forEachLine(
        fd: Int32, start: Int, end: Int, path: String, _ body: (ArraySlice<UInt8>, Int) throws -> Void
    ) throws {
        var offset = min(max(0, start), end)
        var pending: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while offset < end {
            let want = min(chunk.count, end - offset)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, want, off_t(offset)) }
            guard n > 0 else { throw PipelineError("\(path): cannot read (\(errorText(errno)))") }
            offset += n
            pending += chunk[0..<n]
            var start = 0
            while let newline = pending[start...].firstIndex(of: 10) {
                try body(pending[start..<newline], offset - pending.count + newline + 1)
                start = newline + 1
            }
            pending.removeFirst(start)
        }
    }

    /// The length up to and including the last newline (a killed writer's partial line excluded).
    private static func completeLength(_ fd: Int32, size: Int, path: String) throws -> Int {
        var end = size
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while end > 0 {
            let start = max(0, end - chunk.count)
            let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, end - start, off_t(start)) }
            guard n == end - start else { throw PipelineError("\(path): cannot read (\(errorText(errno)))") }
            if let newline = chunk[0..<n].lastIndex(of: 10) { return start + newline + 1 }
            end = start
        }
        return 0
    }
}

/// A file by device and inode, and its length: where an earlier run stopped reading it is trusted
/// only in the same file, no shorter (an editor's rewrite is another inode).
struct FileIdentity: Codable, Equatable, Sendable {
    var device: UInt64
    var inode: UInt64
    var length: Int

    init?(_ fd: Int32, length: Int? = nil) {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        device = UInt64(info.st_dev)
        inode = UInt64(info.st_ino)
        self.length = length ?? Int(info.st_size)
    }

    /// The identity of the regular file at `path` (not through a symbolic link), nil if there is none.
    init?(path: String) {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        self.init(fd)
    }

    /// The SHA-256 (hex) of the up to 4 KiB before `position` in the file at `path`: a file rewritten
    /// in place, or a new one that reused the inode number, differs there.
    static func digest(before position: Int, path: String) -> String? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        let start = max(0, position - 4096)
        var bytes = [UInt8](repeating: 0, count: position - start)
        guard bytes.withUnsafeMutableBytes({ pread(fd, $0.baseAddress, $0.count, off_t(start)) }) == bytes.count else {
            return nil
        }
        return CMS.hex(CMS.sha256(bytes))
    }

    /// Whether `position` in the file this identity was taken of still holds in `now`.
    func holds(_ position: Int, in now: FileIdentity) -> Bool {
        device == now.device && inode == now.inode && position <= now.length && position <= length
    }
}
