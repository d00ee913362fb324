import CMS
import FileIO
import Foundation
import Mailstore

#if canImport(Glibc)
    import Glibc
#endif

/// A manifest record's resume key, hashed to 128 bits (SHA-256, first 16 bytes):
/// a compact, fixed-size stand-in for the key in the index and in memory.
struct KeyHash: Hashable, Comparable, Sendable {
    let high: UInt64
    let low: UInt64

    init(high: UInt64, low: UInt64) {
        (self.high, self.low) = (high, low)
    }

    init(_ key: String) {
        let digest = CMS.sha256(Array(key.utf8))
        high = digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
        low = digest[8..<16].reduce(0) { $0 << 8 | UInt64($1) }
    }

    static func < (a: KeyHash, b: KeyHash) -> Bool { (a.high, a.low) < (b.high, b.low) }
}

/// Which inputs a manifest already records, without holding the manifest in
/// memory: DIR/manifest.index is a sorted array of key hashes covering the
/// manifest's first `covered` bytes; records after that (a run that was killed
/// before it rewrote the index) are read from the manifest's tail. Start-up
/// costs one read of the index (16 bytes per record) plus the tail, and memory
/// is the same 16 bytes per record — not the manifest's size.
///
/// The index is a cache, trusted only when it is a regular file whose entries
/// match their checksum and which was written for this manifest: the same file
/// (device and inode: an editor's or `sed -i`'s rewrite is another file), at
/// least `covered` bytes long, with the same last 4 KiB before `covered`.
/// Anything else — missing, damaged, stale — and it is rebuilt from the manifest.
final class ResumeIndex: Sendable {
    static let fileName = "manifest.index"
    static let magic = Array("SMGRIX02".utf8)

    /// After the magic, little-endian: covered, count, tail check, entries check, device, inode.
    struct Header: Equatable {
        var covered: UInt64
        var count: UInt64
        var tailCheck: UInt64
        var entriesCheck: UInt64
        var device: UInt64
        var inode: UInt64

        static let size = 8 + 6 * 8

        var bytes: [UInt8] {
            ResumeIndex.magic
                + [covered, count, tailCheck, entriesCheck, device, inode].flatMap { $0.littleEndianBytes }
        }

        init(covered: UInt64, count: UInt64, tailCheck: UInt64, entriesCheck: UInt64, device: UInt64, inode: UInt64) {
            (self.covered, self.count, self.tailCheck) = (covered, count, tailCheck)
            (self.entriesCheck, self.device, self.inode) = (entriesCheck, device, inode)
        }

        init?(_ bytes: [UInt8]) {
            guard bytes.count == Header.size, Array(bytes[0..<8]) == ResumeIndex.magic else { return nil }
            let field = { (i: Int) in UInt64(littleEndianBytes: bytes[(8 + 8 * i)..<(16 + 8 * i)]) }
            self.init(
                covered: field(0), count: field(1), tailCheck: field(2), entriesCheck: field(3), device: field(4),
                inode: field(5))
        }
    }

    private let sorted: [KeyHash]
    private let tail: Set<KeyHash>
    /// The index covered the whole manifest: the run that wrote it was the last, and it ended
    /// with every delivered output recorded (a run writes its index only when it ends cleanly).
    let endedCleanly: Bool

    private init(sorted: [KeyHash], tail: Set<KeyHash>, endedCleanly: Bool = false) {
        self.sorted = sorted
        self.tail = tail
        self.endedCleanly = endedCleanly
    }

    static let empty = ResumeIndex(sorted: [], tail: [])

    var count: Int { sorted.count + tail.count }

    /// The same index, for a manifest whose last line was cut short (a run killed mid-write).
    var notEndedCleanly: ResumeIndex { ResumeIndex(sorted: sorted, tail: tail, endedCleanly: false) }

    func contains(_ key: String) -> Bool { contains(KeyHash(key)) }

    func contains(_ hash: KeyHash) -> Bool {
        if tail.contains(hash) { return true }
        var (low, high) = (0, sorted.count)
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < hash { low = middle + 1 } else { high = middle }
        }
        return low < sorted.count && sorted[low] == hash
    }

    /// The index for the manifest open as `manifest` (named `path`, whole records up to
    /// `length`), from DIR/manifest.index when that is valid for it, else rebuilt.
    static func load(directory: String, manifest: Int32, path: String, length: Int) throws -> ResumeIndex {
        var sorted: [KeyHash] = []
        var covered = 0
        if let (header, values) = readIndex(directory + "/" + fileName),
            let identity = identity(manifest), header.device == identity.device, header.inode == identity.inode,
            let indexCovered = Int(exactly: header.covered), indexCovered <= length,
            tailCheck(manifest, covered: indexCovered) == header.tailCheck
        {
            sorted = values
            covered = indexCovered
        }
        var tail: [KeyHash] = []
        try ManifestLines.forEach(fd: manifest, from: covered, to: length, path: path) { line in
            guard let key = ManifestLines.key(of: line) else {
                throw PipelineError("\(path): a line is not a manifest record; not resuming")
            }
            tail.append(KeyHash(key))
        }
        // A short tail stays a set beside the index; a long one (a rebuild) is merged into it.
        if tail.count > 4096 { return ResumeIndex(sorted: merge(sorted, tail.sorted()), tail: []) }
        return ResumeIndex(sorted: sorted, tail: Set(tail), endedCleanly: covered == length && covered > 0)
    }

    /// Writes DIR/manifest.index covering the manifest's first `length` bytes: these
    /// hashes plus `added` (the records of this run). A failure leaves the old index,
    /// which stays correct (the tail is read at the next start). The sorted sources — this
    /// index, its tail, and `added`'s runs, spilled ones read back a piece at a time — are merged
    /// straight into the file: memory stays flat however many keys it holds.
    func write(directory: String, manifest: Int32, length: Int, added: RecordedKeys) {
        guard let sources = added.sortedRuns(), let identity = ResumeIndex.identity(manifest),
            let check = ResumeIndex.tailCheck(manifest, covered: length)
        else { return }
        let path = directory + "/" + ResumeIndex.fileName
        let temporary = path + ".tmp"
        unlink(temporary)  // whatever is there (even a FIFO planted to block us) is replaced, never opened
        let out = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard out >= 0 else { return }
        var written = false
        defer {
            close(out)
            if !written || rename(temporary, path) != 0 { unlink(temporary) }
        }
        let hasher = SHA256Hasher()
        var count: UInt64 = 0
        var buffer: [KeyHash] = []
        buffer.reserveCapacity(RecordedKeys.piece)
        func flush() throws {
            #if _endian(big)
                buffer = buffer.map { KeyHash(high: $0.high.littleEndian, low: $0.low.littleEndian) }
            #endif
            try buffer.withUnsafeBytes {
                hasher.update($0)
                try FileSystem.writeAll(out, $0, path: temporary)
            }
            count += UInt64(buffer.count)
            buffer.removeAll(keepingCapacity: true)
        }
        do {
            // The header goes last, once the count and checksum are known; a placeholder holds its place.
            try FileSystem.writeAll(out, [UInt8](repeating: 0, count: Header.size), path: temporary)
            var merge = try SortedMerge([.memory(sorted), .memory(tail.sorted())] + sources)
            var last: KeyHash? = nil
            while let next = try merge.next() {
                if next == last { continue }
                last = next
                buffer.append(next)
                if buffer.count == RecordedKeys.piece { try flush() }
            }
            try flush()
            let header = Header(
                covered: UInt64(length), count: count, tailCheck: check,
                entriesCheck: ResumeIndex.checksum(hasher.finish()), device: identity.device, inode: identity.inode)
            written = pwrite(out, header.bytes, Header.size, 0) == Header.size && fsync(out) == 0
        } catch {
            return
        }
    }

    /// Merges two sorted arrays, dropping duplicates.
    static func merge(_ a: [KeyHash], _ b: [KeyHash]) -> [KeyHash] {
        var out: [KeyHash] = []
        out.reserveCapacity(a.count + b.count)
        var (i, j) = (0, 0)
        while i < a.count || j < b.count {
            let next: KeyHash
            if j == b.count || (i < a.count && a[i] < b[j]) {
                next = a[i]
                i += 1
            } else {
                next = b[j]
                j += 1
            }
            if out.last != next { out.append(next) }
        }
        return out
    }

    /// The header and entries of an index file; nil unless it is a regular file whose
    /// size matches its count and whose entries match their checksum.
    private static func readIndex(_ path: String) -> (Header, [KeyHash])? {
        let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, info.st_size >= Header.size else { return nil }
        var bytes = [UInt8](repeating: 0, count: Header.size)
        guard pread(fd, &bytes, Header.size, 0) == Header.size, let header = Header(bytes) else { return nil }
        let entries = UInt64(info.st_size) - UInt64(Header.size)
        guard entries % 16 == 0, header.count == entries / 16 else { return nil }
        // Read straight into the array (16 bytes per hash, stored little-endian as the
        // hash's two halves): one buffer of the index's size, no second copy.
        let count = Int(header.count)
        var values = [KeyHash](repeating: KeyHash(high: 0, low: 0), count: count)
        let size = count * 16
        var done = 0
        while done < size {
            let n = values.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, size - done, off_t(Header.size + done))
            }
            if n <= 0 { return nil }
            done += n
        }
        guard values.withUnsafeBytes({ checksum(CMS.sha256(parts: [$0])) }) == header.entriesCheck else { return nil }
        #if _endian(big)
            values = values.map { KeyHash(high: UInt64(littleEndian: $0.high), low: UInt64(littleEndian: $0.low)) }
        #endif
        return (header, values)
    }

    private static func identity(_ fd: Int32) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    /// Over the covered length and the last 4 KiB before it; nil when they cannot be read.
    private static func tailCheck(_ fd: Int32, covered: Int) -> UInt64? {
        let start = max(0, covered - 4096)
        var bytes = [UInt8](repeating: 0, count: covered - start)
        if !bytes.isEmpty, pread(fd, &bytes, bytes.count, off_t(start)) != bytes.count { return nil }
        return checksum(CMS.sha256(Array(String(covered).utf8), bytes))
    }

    /// The first 8 bytes of a digest.
    private static func checksum(_ digest: [UInt8]) -> UInt64 { digest[0..<8].reduce(0) { $0 << 8 | UInt64($1) } }
}

/// The keys a run records, for the index written at its end. Kept in pieces of `chunk` hashes
/// (16 bytes each): a full piece is sorted and appended to a spill file in the output directory,
/// unlinked as soon as it is made (it vanishes with the process), so a run of a million messages
/// holds one piece in memory, not 16 MB. The index is an optimisation: a spill that fails means
/// only that no index is written, and the next run reads the manifest's tail instead.
/// Not thread-safe: the Router keeps it under its lock.
final class RecordedKeys {
    /// Hashes per read or write of the spill file and of the index (64 KiB).
    static let piece = 4096

    private let directory: String
    private let chunk: Int
    private var current: [KeyHash] = []
    private var spill: Int32 = -1
    /// The sorted runs in the spill file: first hash's index, count, and the SHA-256 of their bytes
    /// (checked as they are read back: a spill file damaged meanwhile means no index, never a wrong one).
    private var runs: [(start: Int, count: Int, digest: [UInt8])] = []
    private var spilled = 0
    private var broken = false

    init(directory: String, chunk: Int = 65_536) {
        self.directory = directory
        self.chunk = max(1, chunk)
    }

    convenience init(directory: String, _ keys: [KeyHash]) {
        self.init(directory: directory)
        for key in keys { append(key) }
    }

    deinit { if spill >= 0 { close(spill) } }

    var count: Int { spilled + current.count }

    /// The spill file's descriptor (-1 before the first piece is spilled): for the tests that damage it.
    var spillDescriptor: Int32 { spill }

    func append(_ key: KeyHash) {
        current.append(key)
        if current.count >= chunk { spillCurrent() }
    }

    private func spillCurrent() {
        guard !broken else {
            current.removeAll(keepingCapacity: true)
            return
        }
        if spill < 0 {
            let path = directory + "/.manifest.index.spill.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
            spill = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if spill >= 0 { unlink(path) }
        }
        current.sort()
        let offset = off_t(spilled * MemoryLayout<KeyHash>.stride)
        let size = current.count * MemoryLayout<KeyHash>.stride
        let done = spill >= 0 && current.withUnsafeBytes { pwrite(spill, $0.baseAddress, size, offset) } == size
        if done {
            runs.append((spilled, current.count, current.withUnsafeBytes { CMS.sha256(parts: [$0]) }))
            spilled += current.count
        } else {
            broken = true  // no index this time; the records themselves are in the manifest
        }
        current.removeAll(keepingCapacity: true)
    }

    /// The sorted sources to merge: the spilled runs and the piece in memory (sorted here);
    /// nil when a spill failed.
    func sortedRuns() -> [SortedMerge.Source]? {
        guard !broken else { return nil }
        current.sort()
        return runs.map { .file(spill, start: $0.start, count: $0.count, digest: $0.digest) } + [.memory(current)]
    }
}

/// A k-way merge of sorted sources of hashes (duplicates kept: the caller drops them), the sources
/// in memory or runs of a file read `RecordedKeys.piece` hashes at a time.
struct SortedMerge {
    enum Source {
        case memory([KeyHash])
        case file(Int32, start: Int, count: Int, digest: [UInt8])
    }

    private struct Cursor {
        let source: Source
        var buffer: [KeyHash]
        var position = 0
        /// Hashes of a file run not yet read into the buffer, and where they start.
        var left: Int
        var next: Int
        /// A file run's bytes as read so far, to be checked against its digest once all are read.
        let hasher: SHA256Hasher?

        init(_ source: Source) {
            self.source = source
            switch source {
            case .memory(let values): (buffer, left, next, hasher) = (values, 0, 0, nil)
            case .file(_, let start, let count, _): (buffer, left, next, hasher) = ([], count, start, SHA256Hasher())
            }
        }

        var current: KeyHash? { position < buffer.count ? buffer[position] : nil }

        /// Moves on; refills the buffer from the file when it runs out.
        mutating func advance() throws {
            position += 1
            try fill()
        }

        mutating func fill() throws {
            guard position >= buffer.count, left > 0, case .file(let fd, _, _, let digest) = source else { return }
            let n = min(left, RecordedKeys.piece)
            let stride = MemoryLayout<KeyHash>.stride
            buffer = [KeyHash](repeating: KeyHash(high: 0, low: 0), count: n)
            let read = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, n * stride, off_t(next * stride)) }
            guard read == n * stride else { throw PipelineError("the index's spill file could not be read") }
            buffer.withUnsafeBytes { hasher?.update($0) }
            (position, left, next) = (0, left - n, next + n)
            if left == 0 && hasher?.finish() != digest { throw PipelineError("the index's spill file was damaged") }
        }
    }

    /// Cursors in a binary min-heap by their current hash; exhausted ones are dropped.
    private var heap: [Cursor] = []

    init(_ sources: [Source]) throws {
        for source in sources {
            var cursor = Cursor(source)
            try cursor.fill()
            if cursor.current != nil { push(cursor) }
        }
    }

    mutating func next() throws -> KeyHash? {
        guard var top = heap.first, let value = top.current else { return nil }
        try top.advance()
        if top.current != nil {
            heap[0] = top
            siftDown(0)
        } else {
            heap[0] = heap[heap.count - 1]
            heap.removeLast()
            if !heap.isEmpty { siftDown(0) }
        }
        return value
    }

    private mutating func push(_ cursor: Cursor) {
        heap.append(cursor)
        var child = heap.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard heap[child].current! < heap[parent].current! else { break }
            heap.swapAt(child, parent)
            child = parent
        }
    }

    private mutating func siftDown(_ start: Int) {
        var parent = start
        while true {
            var smallest = parent
            for child in (2 * parent + 1)...(2 * parent + 2)
            where child < heap.count && heap[child].current! < heap[smallest].current! {
                smallest = child
            }
            if smallest == parent { return }
            heap.swapAt(parent, smallest)
            parent = smallest
        }
    }
}

/// Reading manifest.jsonl line by line, and a record's resume key without a full JSON decode.
enum ManifestLines {
    /// Calls `body` with each complete line (without its newline) between two offsets.
    static func forEach(
        fd: Int32, from start: Int, to end: Int, path: String, _ body: (ArraySlice<UInt8>) throws -> Void
    )
        throws
    {
        var offset = start
        var carry: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while offset < end {
            let n = chunk.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress!, min($0.count, end - offset), off_t(offset))
            }
            if n <= 0 { throw PipelineError("\(path): cannot read (\(errorText(errno)))") }
            offset += n
            var lineStart = 0
            var buffer = carry + chunk[0..<n]
            carry = []
            while let newline = buffer[lineStart...].firstIndex(of: 10) {
                if newline > lineStart { try body(buffer[lineStart..<newline]) }
                lineStart = newline + 1
            }
            if lineStart < buffer.count {
                buffer.removeFirst(lineStart)
                carry = buffer
            }
        }
        if !carry.isEmpty { try body(carry[...]) }
    }

    /// The resume key ("input" or "input@offset") of one manifest line. Our writer's
    /// lines are read directly; anything else goes through JSONDecoder.
    static func key(of line: ArraySlice<UInt8>) -> String? {
        if let input = stringValue(of: "input", in: line) {
            guard let offset = field("offset", in: line) else { return InputKey.of(source: input, offset: nil) }
            var number = 0
            var index = offset
            while index < line.endIndex, let digit = line[index].decimalDigit {
                number = number * 10 + digit
                index += 1
            }
            return index == offset ? nil : InputKey.of(source: input, offset: number)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? decoder.decode(ManifestRecord.self, from: Data(line)))?.key
    }

    /// Where a top-level field's value starts: a key right after `{` or `,` of the outermost object,
    /// strings skipped (their escaped quotes too) — a nested object's key of the same name (an mbox
    /// output's "offset") is not the record's.
    private static func field(_ name: String, in line: ArraySlice<UInt8>) -> Int? {
        let pattern = Array("\"\(name)\":".utf8)
        var depth = 0
        var previous: UInt8 = 0  // the last byte outside strings that is not white space
        var index = line.startIndex
        while index < line.endIndex {
            let byte = line[index]
            switch byte {
            case 34:
                if depth == 1, previous == UInt8(ascii: "{") || previous == UInt8(ascii: ","),
                    line[index...].starts(with: pattern)
                {
                    return index + pattern.count
                }
                index += 1
                while index < line.endIndex && line[index] != 34 { index += line[index] == 92 ? 2 : 1 }
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            default: break
            }
            if byte != 32 { previous = byte }
            index += 1
        }
        return nil
    }

    /// A top-level string field, with JSON escapes decoded.
    private static func stringValue(of name: String, in line: ArraySlice<UInt8>) -> String? {
        guard let start = field(name, in: line), start < line.endIndex, line[start] == 34 else { return nil }
        var bytes: [UInt8] = []
        var index = start + 1
        while index < line.endIndex {
            let byte = line[index]
            if byte == 34 { return String(validating: bytes, as: UTF8.self) }
            if byte != 92 {
                bytes.append(byte)
                index += 1
                continue
            }
            // An escape: the simple ones here; \u sequences through JSONSerialization.
            guard index + 1 < line.endIndex else { return nil }
            switch line[index + 1] {
            case 34, 92, 47: bytes.append(line[index + 1])
            case UInt8(ascii: "n"): bytes.append(10)
            case UInt8(ascii: "r"): bytes.append(13)
            case UInt8(ascii: "t"): bytes.append(9)
            case UInt8(ascii: "b"): bytes.append(8)
            case UInt8(ascii: "f"): bytes.append(12)
            default: return nil  // \uXXXX: left to JSONDecoder
            }
            index += 2
        }
        return nil
    }
}

extension UInt8 {
    fileprivate var decimalDigit: Int? { (48...57).contains(self) ? Int(self) - 48 : nil }
}

extension UInt64 {
    var littleEndianBytes: [UInt8] { withUnsafeBytes(of: littleEndian) { Array($0) } }
    init(littleEndianBytes bytes: ArraySlice<UInt8>) {
        self = bytes.reversed().reduce(0) { $0 << 8 | UInt64($1) }
    }
}
