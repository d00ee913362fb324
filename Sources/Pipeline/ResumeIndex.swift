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
/// The index is a cache: missing, damaged, or not matching the manifest (the
/// check covers its length and its last 4 KiB), it is rebuilt from the manifest.
final class ResumeIndex: Sendable {
    static let fileName = "manifest.index"
    static let magic = Array("SMGRIX01".utf8)
    static let headerSize = 32

    private let sorted: [KeyHash]
    private let tail: Set<KeyHash>

    private init(sorted: [KeyHash], tail: Set<KeyHash>) {
        self.sorted = sorted
        self.tail = tail
    }

    static let empty = ResumeIndex(sorted: [], tail: [])

    var count: Int { sorted.count + tail.count }

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

    /// The index for `manifest` (its complete length is `length`), from DIR/manifest.index
    /// when that matches, else rebuilt by reading every record.
    static func load(directory: String, manifest: String, length: Int) throws -> ResumeIndex {
        let fd = open(manifest, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return .empty }
        defer { close(fd) }
        var sorted: [KeyHash] = []
        var covered = 0
        if let (hashes, indexCovered) = readIndex(directory + "/" + fileName),
            indexCovered <= length, try tailCheck(fd, covered: indexCovered) == hashes.check
        {
            sorted = hashes.values
            covered = indexCovered
        }
        var tail: [KeyHash] = []
        try ManifestLines.forEach(fd: fd, from: covered, to: length, path: manifest) { line in
            guard let key = ManifestLines.key(of: line) else {
                throw PipelineError("\(manifest): a line is not a manifest record; not resuming")
            }
            tail.append(KeyHash(key))
        }
        // A short tail stays a set beside the index; a long one (a rebuild) is merged into it.
        if tail.count > 4096 { return ResumeIndex(sorted: merge(sorted, tail.sorted()), tail: []) }
        return ResumeIndex(sorted: sorted, tail: Set(tail))
    }

    /// Writes DIR/manifest.index covering the manifest's first `length` bytes: these
    /// hashes plus `added` (the records of this run). A failure leaves the old index,
    /// which stays correct (the tail is read at the next start).
    func write(directory: String, manifest: String, length: Int, added: [KeyHash]) {
        var merged = ResumeIndex.merge(sorted, (Array(tail) + added).sorted())
        let fd = open(manifest, O_RDONLY | O_CLOEXEC)
        guard fd >= 0, let check = try? ResumeIndex.tailCheck(fd, covered: length) else { return }
        close(fd)
        var header = ResumeIndex.magic
        for value in [UInt64(length), UInt64(merged.count), check] { header += value.littleEndianBytes }
        #if _endian(big)
            merged = merged.map { KeyHash(high: $0.high.littleEndian, low: $0.low.littleEndian) }
        #endif
        let path = directory + "/" + ResumeIndex.fileName
        let temporary = path + ".tmp"
        let out = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard out >= 0 else { return }
        let written =
            (try? FileSystem.writeAll(out, header, path: temporary)) != nil
            && (try? merged.withUnsafeBytes { try FileSystem.writeAll(out, $0, path: temporary) }) != nil
            && fsync(out) == 0
        close(out)
        if !written || rename(temporary, path) != 0 { unlink(temporary) }
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

    private static func readIndex(_ path: String) -> (hashes: (values: [KeyHash], check: UInt64), covered: Int)? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_size >= headerSize else { return nil }
        var header = [UInt8](repeating: 0, count: headerSize)
        guard pread(fd, &header, headerSize, 0) == headerSize, Array(header[0..<8]) == magic else { return nil }
        let covered = Int(UInt64(littleEndianBytes: header[8..<16]))
        let count = Int(UInt64(littleEndianBytes: header[16..<24]))
        let check = UInt64(littleEndianBytes: header[24..<32])
        guard count >= 0, Int(info.st_size) == headerSize + count * 16 else { return nil }
        // Read straight into the array (16 bytes per hash, stored little-endian as the
        // hash's two halves): one buffer of the index's size, no second copy.
        var values = [KeyHash](repeating: KeyHash(high: 0, low: 0), count: count)
        let size = count * 16
        var done = 0
        while done < size {
            let n = values.withUnsafeMutableBytes {
                pread(fd, $0.baseAddress! + done, size - done, off_t(headerSize + done))
            }
            if n <= 0 { return nil }
            done += n
        }
        #if _endian(big)
            values = values.map { KeyHash(high: UInt64(littleEndian: $0.high), low: UInt64(littleEndian: $0.low)) }
        #endif
        return ((values, check), covered)
    }

    /// The first 8 bytes of SHA-256 over the manifest's covered length and its last 4 KiB before it.
    private static func tailCheck(_ fd: Int32, covered: Int) throws -> UInt64 {
        let start = max(0, covered - 4096)
        var bytes = [UInt8](repeating: 0, count: covered - start)
        if !bytes.isEmpty, pread(fd, &bytes, bytes.count, off_t(start)) != bytes.count { return 0 }
        return CMS.sha256(Array(String(covered).utf8), bytes)[0..<8].reduce(0) { $0 << 8 | UInt64($1) }
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
            guard let offset = field("offset", in: line) else { return input }
            var number = 0
            var index = offset
            while index < line.endIndex, let digit = line[index].decimalDigit {
                number = number * 10 + digit
                index += 1
            }
            return index == offset ? nil : "\(input)@\(number)"
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try? decoder.decode(ManifestRecord.self, from: Data(line)))?.key
    }

    /// Where a top-level field's value starts. A `"` right after `{` or `,` opens a
    /// key: inside a JSON string every quote is escaped, so the pattern cannot occur there.
    private static func field(_ name: String, in line: ArraySlice<UInt8>) -> Int? {
        let pattern = Array("\"\(name)\":".utf8)
        var index = line.startIndex
        while let quote = line[index...].firstIndex(of: 34) {
            if quote > line.startIndex, line[quote - 1] == UInt8(ascii: ",") || line[quote - 1] == UInt8(ascii: "{"),
                line[quote...].starts(with: pattern)
            {
                return quote + pattern.count
            }
            index = quote + 1
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
