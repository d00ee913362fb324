import CArchive
import FileIO
import Foundation

/// A file inside a bundle: a relative path and its bytes.
public struct BundleFile: Sendable, Equatable {
    public let path: String
    public let bytes: [UInt8]
    public init(path: String, bytes: [UInt8]) {
        self.path = path
        self.bytes = bytes
    }
}

/// Tar archives (optionally gzip-compressed) written and read with libarchive
/// — key bundles (SPEC F20) and, later, profile bundles. Reading never writes
/// to disk: entries are validated and returned in memory, and a hostile archive
/// (absolute paths, `..`, links, devices, oversized entries, too many entries)
/// is refused whole.
public enum TarBundle {
    public struct Limits: Sendable {
        public var maxEntries = 10_000
        public var maxEntrySize = 1 << 20
        public var maxTotalSize = 256 << 20
        public init() {}
    }

    /// Writes `files` as a POSIX tar to `path` (replaced atomically, 0644: a bundle
    /// holds public keys); gzip when `path` ends in `.gz` or `.tgz`.
    public static func write(_ files: [BundleFile], to path: String) throws {
        let gzip = path.hasSuffix(".gz") || path.hasSuffix(".tgz")
        try OutputFile.write(try archive(files, gzip: gzip, name: path), to: path, content: .publicData)
    }

    /// `files` as a POSIX tar in memory, gzip-compressed when `gzip`; `name` is for error messages.
    public static func archive(_ files: [BundleFile], gzip: Bool, name: String = "bundle") throws -> [UInt8] {
        guard let archive = archive_write_new() else { throw KeystoreError("libarchive: cannot create a writer") }
        defer { archive_write_free(archive) }
        func check(_ status: Int32, _ what: String) throws {
            if status != ARCHIVE_OK { throw KeystoreError("\(name): \(what): \(message(archive))") }
        }
        try check(archive_write_set_format_pax_restricted(archive), "tar format")
        if gzip { try check(archive_write_add_filter_gzip(archive), "gzip") }
        // No padding of the last block to 10 KiB, as libarchive does for a regular file.
        try check(archive_write_set_bytes_in_last_block(archive, 1), "block size")
        let sink = ArchiveSink()
        let status = archive_write_open(
            archive, Unmanaged.passUnretained(sink).toOpaque(), nil,
            { _, context, buffer, length in
                guard let context, let buffer else { return 0 }
                let sink = Unmanaged<ArchiveSink>.fromOpaque(context).takeUnretainedValue()
                sink.bytes.append(contentsOf: UnsafeRawBufferPointer(start: buffer, count: length))
                return la_ssize_t(length)
            }, nil)
        try check(status, "open")
        let now = time(nil)
        for file in files {
            guard let entry = archive_entry_new() else { throw KeystoreError("libarchive: out of memory") }
            defer { archive_entry_free(entry) }
            archive_entry_set_pathname(entry, file.path)
            archive_entry_set_size(entry, la_int64_t(file.bytes.count))
            archive_entry_set_filetype(entry, smg_AE_IFREG())
            archive_entry_set_perm(entry, 0o644)
            archive_entry_set_mtime(entry, now, 0)
            try check(archive_write_header(archive, entry), "write \(file.path)")
            let written = file.bytes.withUnsafeBytes { archive_write_data(archive, $0.baseAddress, $0.count) }
            if written != file.bytes.count { throw KeystoreError("\(name): write \(file.path): \(message(archive))") }
        }
        try check(archive_write_close(archive), "close")
        return withExtendedLifetime(sink) { sink.bytes }
    }

    /// Collects what libarchive writes; lent to its write callback for one `archive` call.
    private final class ArchiveSink {
        var bytes: [UInt8] = []
    }

    /// Reads and validates every entry of a tar (or tar.gz) file.
    public static func read(_ path: String, limits: Limits = Limits()) throws -> [BundleFile] {
        guard let archive = archive_read_new() else { throw KeystoreError("libarchive: cannot create a reader") }
        defer { archive_read_free(archive) }
        archive_read_support_filter_gzip(archive)
        archive_read_support_format_tar(archive)
        guard archive_read_open_filename(archive, path, 16384) == ARCHIVE_OK else {
            throw KeystoreError("\(path): not a readable tar archive (\(message(archive)))")
        }
        var files: [BundleFile] = []
        var total = 0
        var entry: OpaquePointer? = nil
        while true {
            let status = archive_read_next_header(archive, &entry)
            if status == ARCHIVE_EOF { break }
            guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else {
                throw KeystoreError("\(path): not a valid tar archive (\(message(archive)))")
            }
            let name = archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
            try validate(name: name, path: path)
            if archive_entry_hardlink(entry) != nil || archive_entry_symlink(entry) != nil {
                throw KeystoreError("\(path): entry \"\(name)\" is a link; bundles hold regular files only")
            }
            guard archive_entry_filetype(entry) == smg_AE_IFREG() else {
                throw KeystoreError("\(path): entry \"\(name)\" is not a regular file")
            }
            let size = Int(archive_entry_size(entry))
            guard size >= 0, size <= limits.maxEntrySize else {
                throw KeystoreError("\(path): entry \"\(name)\" is larger than \(limits.maxEntrySize) bytes")
            }
            total += size
            guard files.count < limits.maxEntries else {
                throw KeystoreError("\(path): more than \(limits.maxEntries) entries")
            }
            guard total <= limits.maxTotalSize else {
                throw KeystoreError("\(path): larger than \(limits.maxTotalSize) bytes")
            }
            var bytes = [UInt8](repeating: 0, count: size)
            var offset = 0
            while offset < size {
                let n = bytes.withUnsafeMutableBytes {
                    archive_read_data(archive, $0.baseAddress! + offset, size - offset)
                }
                guard n > 0 else { throw KeystoreError("\(path): entry \"\(name)\" is truncated") }
                offset += n
            }
            files.append(BundleFile(path: name, bytes: bytes))
        }
        return files
    }

    /// Relative, normalised paths only: no leading '/', no '..', no empty or '.' components.
    static func validate(name: String, path: String) throws {
        let components = name.split(separator: "/", omittingEmptySubsequences: false)
        if name.isEmpty || name.hasPrefix("/") || name.contains("\\")
            || components.contains(where: { $0 == ".." || $0 == "." || $0.isEmpty })
        {
            throw KeystoreError("\(path): unsafe entry path \"\(name)\"")
        }
    }

    private static func message(_ archive: OpaquePointer) -> String {
        archive_error_string(archive).map { String(cString: $0) } ?? "unknown error"
    }
}
