import FileIO
import Synchronization

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
    private let length: Mutex<Int>

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
        self.length = Mutex(size)
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

    /// Calls `body` with each whole line (without its newline) up to the current length, in order.
    func forEachLine(_ body: (ArraySlice<UInt8>) throws -> Void) throws {
        try Self.forEachLine(fd: fd, end: size, path: path, body)
    }

    /// The same for a file only read (a manifest `deliver` reads): opened read-only, never created,
    /// never through a symbolic link; a partial last line (a writer still at work, or killed) is left out.
    static func forEachLine(path: String, _ body: (ArraySlice<UInt8>) throws -> Void) throws {
        let fd = Glibc.open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { throw PipelineError("\(path): cannot open (\(errorText(errno).lowercased()))") }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG else {
            throw PipelineError("\(path): not a regular file")
        }
        try forEachLine(fd: fd, end: Int(info.st_size), path: path, body)
    }

    private static func forEachLine(
        fd: Int32, end: Int, path: String, _ body: (ArraySlice<UInt8>) throws -> Void
    ) throws {
        var offset = 0
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
                try body(pending[start..<newline])
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
