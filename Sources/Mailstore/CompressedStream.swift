import CArchive
import Foundation

/// The compressions an mbox archive may come in, recognised by their magic numbers (never by name).
public enum Compression: String, Sendable, CaseIterable {
    case gzip, bzip2, xz, zstd

    /// The compression whose magic number `head` starts with, or nil for uncompressed bytes.
    public static func detect(_ head: [UInt8]) -> Compression? {
        if head.starts(with: [0x1f, 0x8b]) { return .gzip }
        if head.starts(with: Array("BZh".utf8)) { return .bzip2 }
        if head.starts(with: [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]) { return .xz }
        if head.starts(with: [0x28, 0xb5, 0x2f, 0xfd]) { return .zstd }
        return nil
    }

    /// The compression of the file at `path` (from its first bytes), or nil.
    public static func of(file path: String) -> Compression? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        return detect(Array((try? handle.read(upToCount: 6)) ?? Data()))
    }
}

/// Bytes read in order from somewhere: a file, or a decompressing stream.
protocol ByteStream {
    /// Up to `count` bytes; empty at the end.
    mutating func read(upToCount count: Int) throws -> [UInt8]
    /// How many bytes of the file have been read (compressed ones, for a compressed file).
    var consumed: Int { get }
}

struct FileStream: ByteStream {
    let handle: FileHandle
    private(set) var consumed = 0

    init(handle: FileHandle) { self.handle = handle }

    mutating func read(upToCount count: Int) throws -> [UInt8] {
        let bytes = Array(try handle.read(upToCount: count) ?? Data())
        consumed += bytes.count
        return bytes
    }
}

/// A compressed file decompressed as it is read, through libarchive's "raw" format (one stream, no
/// archive entries) and its gzip, bzip2, xz and zstd filters: nothing is unpacked to disk, and memory
/// stays at libarchive's buffers whatever the size. Offsets are those of the uncompressed stream.
/// A reader belongs to the one scanner thread that made it.
final class CompressedStream: ByteStream {
    private let archive: OpaquePointer
    private let path: String

    init(_ path: String) throws {
        guard let archive = archive_read_new() else { throw MailstoreError("\(path): libarchive: out of memory") }
        self.archive = archive
        self.path = path
        archive_read_support_filter_gzip(archive)
        archive_read_support_filter_bzip2(archive)
        archive_read_support_filter_xz(archive)
        archive_read_support_filter_zstd(archive)
        archive_read_support_format_raw(archive)
        archive_read_support_format_empty(archive)  // a compressed empty mbox is an empty mbox
        guard archive_read_open_filename(archive, path, 1 << 16) == ARCHIVE_OK else {
            throw MailstoreError("\(path): cannot read the compressed file (\(message))")
        }
        var entry: OpaquePointer? = nil
        switch archive_read_next_header(archive, &entry) {
        case ARCHIVE_OK: empty = false
        case ARCHIVE_EOF: empty = true
        default: throw MailstoreError("\(path): cannot decompress (\(message))")
        }
    }

    /// Nothing decompressed at all (libarchive's "empty" format).
    private var empty = false

    deinit { archive_read_free(archive) }

    var consumed: Int { Int(archive_filter_bytes(archive, -1)) }

    private var message: String { archive_error_string(archive).map { String(cString: $0) } ?? "unknown error" }

    func read(upToCount count: Int) throws -> [UInt8] {
        if empty { return [] }
        var buffer = [UInt8](repeating: 0, count: count)
        let read = buffer.withUnsafeMutableBytes { archive_read_data(archive, $0.baseAddress, count) }
        guard read >= 0 else { throw MailstoreError("\(path): cannot decompress (\(message))") }
        buffer.removeSubrange(read...)
        return buffer
    }
}
