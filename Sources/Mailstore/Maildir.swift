import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a maildir's `new/` and `cur/` one directory entry at a time with
/// `readdir`, so a folder of millions of files is never listed whole.
public struct MaildirReader: MessageSource {
    public let root: String
    private var pending = ["new", "cur"]
    private var directory: OpaquePointer? = nil
    private var current = ""

    public init(_ root: String) throws {
        var isDirectory: ObjCBool = false
        let fm = FileManager.default
        guard fm.fileExists(atPath: root + "/cur", isDirectory: &isDirectory) || fm.fileExists(atPath: root + "/new") else {
            throw MailstoreError("\(root): not a maildir (no cur/ or new/)")
        }
        self.root = root
    }

    public static func isMaildir(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/cur") || FileManager.default.fileExists(atPath: path + "/new")
    }

    public mutating func next() throws -> InputMessage? {
        while true {
            if directory == nil {
                guard !pending.isEmpty else { return nil }
                current = pending.removeFirst()
                directory = opendir(root + "/" + current)
                continue
            }
            guard let open = directory, let entry = readdir(open) else {
                if let open = directory { closedir(open) }
                directory = nil
                continue
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name.hasPrefix(".") { continue }
            let path = root + "/" + current + "/" + name
            guard let bytes = readRegularFile(path) else { continue }  // vanished, unreadable, or a directory
            return InputMessage(source: path, offset: nil, bytes: bytes)
        }
    }
}

/// Delivers into a maildir (new/, via tmp/ and an atomic rename). Names are
/// chosen by the caller, so a rerun that delivers the same name replaces the file
/// instead of adding a second copy.
public struct MaildirWriter: Sendable {
    public let root: String
    public let durable: Bool

    public init(_ root: String, durable: Bool = false) throws {
        self.root = root
        self.durable = durable
        for sub in ["tmp", "new", "cur"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
    }

    /// Writes `bytes` as `new/name`; returns the path relative to the maildir's parent.
    @discardableResult
    public func deliver(_ bytes: [UInt8], name: String) throws -> String {
        let temporary = root + "/tmp/" + name
        let final = root + "/new/" + name
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw MailstoreError("\(temporary): cannot create (\(String(cString: strerror(errno))))") }
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n <= 0 {
                close(fd)
                throw MailstoreError("\(temporary): write failed (\(String(cString: strerror(errno))))")
            }
            written += n
        }
        if durable { fsync(fd) }
        close(fd)
        guard rename(temporary, final) == 0 else { throw MailstoreError("\(final): cannot deliver (\(String(cString: strerror(errno))))") }
        return final
    }

    /// Removes what an interrupted run left in tmp/ (never delivered, never in the manifest).
    public func removeTemporaryFiles() {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: root + "/tmp")) ?? [] {
            try? fm.removeItem(atPath: root + "/tmp/" + name)
        }
    }
}

/// The bytes of a regular file, read straight into an array (one open, fstat,
/// read loop, close); nil when it is not a readable regular file.
func readRegularFile(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var offset = 0
    while offset < bytes.count {
        let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + offset, $0.count - offset) }
        if n <= 0 { break }
        offset += n
    }
    if offset < bytes.count { bytes.removeSubrange(offset...) }  // the file shrank while we read
    return bytes
}
