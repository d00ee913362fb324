import FileIO
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// A message file in a maildir: the maildir, its folder (`new` or `cur`) and the
/// file's name as the file system spells it (bytes: not always UTF-8).
public struct MaildirFile: Sendable, Equatable {
    public let root: String
    public let folder: String
    public let name: [UInt8]

    public init(root: String, folder: String, name: [UInt8]) {
        self.root = root
        self.folder = folder
        self.name = name
    }

    /// The path for messages and the manifest, with the name spelled by `spelling(of:)`.
    public var displayPath: String { root + "/" + folder + "/" + MaildirFile.spelling(of: name).text }

    /// A file name as text: as it is when it is UTF-8 without control characters or
    /// backslashes; otherwise every such byte, every backslash and every byte above
    /// 0x7F written as `\xNN`. Two names never share a spelling (a plain one has no
    /// backslash, an escaped one always does), and none breaks an error line in two
    /// or sends escape sequences to a terminal.
    public static func spelling(of name: [UInt8]) -> (text: String, escaped: Bool) {
        let plain = name.allSatisfy { $0 >= 0x20 && $0 != 0x7F && $0 != UInt8(ascii: "\\") }
        if plain, let text = String(validating: name, as: UTF8.self) { return (text, false) }
        let text = name.map { byte in
            byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\")
                ? String(UnicodeScalar(byte)) : String(format: "\\x%02X", byte)
        }.joined()
        return (text, true)
    }

    /// The NUL-terminated path of this file under `root` (another maildir, for a move).
    func path(under root: String) -> [CChar] {
        Array((root + "/" + folder + "/").utf8CString.dropLast()) + name.map { CChar(bitPattern: $0) } + [0]
    }
}

/// Reads a maildir's `new/` and `cur/` one directory entry at a time with
/// `readdir`, so a folder of millions of files is never listed whole. Only
/// regular files are opened (`O_NOFOLLOW | O_NONBLOCK`, checked again with
/// `fstat`): symbolic links, FIFOs, sockets, devices and directories are
/// reported as problems, never read, so none of them can hang a run or leak a
/// file from elsewhere into the outputs.
public struct MaildirReader: MessageSource {
    public let root: String
    private var pending = ["new", "cur"]
    /// The folder being read; closed when it ends or when the reader goes (a run that stops early).
    private var directory: DirectoryStream? = nil
    private var current = ""
    private var held: InputMessage? = nil

    /// The root as given; messages are named under its canonical path (`InputKey`).
    public let givenRoot: String
    /// A larger file is reported, not read.
    public var maxMessageBytes = MboxReader.defaultMaxMessageBytes

    public init(_ root: String) throws {
        guard MaildirReader.isMaildir(root) else { throw MailstoreError("\(root): not a maildir (no cur/ or new/)") }
        self.givenRoot = root
        self.root = InputKey.canonical(root)
    }

    /// How many entries a maildir folder holds (no stat: names only), for a progress estimate.
    public static func count(_ folder: String) -> Int {
        guard let directory = opendir(folder) else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            if direntName(entry).first != UInt8(ascii: ".") { count += 1 }
        }
        return count
    }

    public static func isMaildir(_ path: String) -> Bool {
        FileManager.default.fileExists(atPath: path + "/cur") || FileManager.default.fileExists(atPath: path + "/new")
    }

    public mutating func next() throws -> SourceItem? {
        if let message = held {
            held = nil
            return .message(message)
        }
        while true {
            guard let open = directory else {
                guard !pending.isEmpty else { return nil }
                current = pending.removeFirst()
                let path = root + "/" + current
                errno = 0
                directory = opendir(path).map(DirectoryStream.init)
                if directory == nil && errno != ENOENT {
                    return .problem(InputProblem(path: path, kind: .unreadable(errno), folder: true))
                }
                continue
            }
            errno = 0
            guard let entry = readdir(open.handle) else {
                let code = errno
                directory = nil
                if code != 0 {
                    return .problem(InputProblem(path: root + "/" + current, kind: .unreadable(code), folder: true))
                }
                continue
            }
            let name = direntName(entry)
            if name.first == UInt8(ascii: ".") { continue }
            if let item = read(name, in: dirfd(open.handle)) { return item }
        }
    }

    /// One directory entry: a message, a problem, or nil when it vanished meanwhile.
    private mutating func read(_ name: [UInt8], in directory: Int32) -> SourceItem? {
        let (spelled, escaped) = MaildirFile.spelling(of: name)
        let path = root + "/" + current + "/" + spelled
        let cName = name.map { CChar(bitPattern: $0) } + [0]
        func problem(_ kind: InputProblem.Kind) -> SourceItem { .problem(InputProblem(path: path, kind: kind)) }

        var info = stat()
        guard fstatat(directory, cName, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            return errno == ENOENT ? nil : problem(.unreadable(errno))
        }
        if let kind = MaildirReader.kind(info.st_mode) { return problem(kind) }
        let fd = openat(directory, cName, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else {
            switch errno {
            case ENOENT: return nil
            case ELOOP: return problem(.symbolicLink)  // replaced by a link since fstatat
            default: return problem(.unreadable(errno))
            }
        }
        defer { close(fd) }
        guard fstat(fd, &info) == 0 else { return problem(.unreadable(errno)) }
        if let kind = MaildirReader.kind(info.st_mode) { return problem(kind) }
        if Int(info.st_size) > maxMessageBytes { return problem(.tooLarge(maxMessageBytes)) }
        var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 { return problem(.unreadable(errno)) }
            if n == 0 { break }
            offset += n
        }
        if offset < bytes.count { bytes.removeSubrange(offset...) }  // the file shrank while we read
        let message = InputMessage(
            source: path, offset: nil, bytes: bytes, file: MaildirFile(root: root, folder: current, name: name),
            givenAs: givenRoot + "/" + current + "/" + spelled)
        guard !escaped else {
            held = message  // reported first, then processed under its escaped name
            return problem(.escapedName)
        }
        return .message(message)
    }

    /// Why a file of this type is not read (nil for a regular file).
    static func kind(_ mode: mode_t) -> InputProblem.Kind? {
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFLNK: return .symbolicLink
        case S_IFIFO: return .fifo
        case S_IFSOCK: return .socket
        case S_IFCHR, S_IFBLK: return .device
        case S_IFDIR: return .directory
        default: return .otherType
        }
    }
}

/// Delivers into a maildir (new/, via tmp/ and an atomic rename). Names are
/// chosen by the caller, so a rerun that delivers the same name replaces the file
/// instead of adding a second copy. Every failure is a `WriteError` and leaves
/// nothing behind in tmp/.
/// Numbers that make each delivery's temporary file name its own.
private let temporaryNames = Atomic<Int>(0)

public struct MaildirWriter: Sendable {
    public let root: String
    /// fsync the file before the rename and new/ after it.
    public let durable: Bool

    /// Creates the maildir (0700, whatever the umask) when missing. Its folders must be
    /// directories, not symbolic links: a link planted there would send mail elsewhere.
    public init(_ root: String, durable: Bool = false) throws {
        self.root = root
        self.durable = durable
        for path in [root, root + "/tmp", root + "/new", root + "/cur"] {  // checked before anything is made in them
            var info = stat()
            if lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFDIR {
                throw MailstoreError(
                    "\(path): not a directory (a symbolic link?); outputs are not written through links")
            }
        }
        for sub in ["tmp", "new", "cur"] { try FileSystem.makeDirectories(root + "/" + sub) }
    }

    /// Writes `bytes` as `new/name` (mode 0600); returns its path. The temporary file's name is this
    /// delivery's own: two deliveries of one name at once (a message in both new/ and cur/ of a spool,
    /// while a client moves it) each rename a whole file, where one shared name failed the run.
    @discardableResult
    public func deliver(_ bytes: [UInt8], name: String) throws -> String {
        let temporary = root + "/tmp/" + name + ".\(getpid()).\(temporaryNames.add(1, ordering: .relaxed).newValue)"
        let final = root + "/new/" + name
        let fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw WriteError(temporary, "create") }
        do {
            try FileSystem.writeAll(fd, bytes, path: temporary)
            if durable { try FileSystem.sync(fd, path: temporary) }
            let closed = close(fd)
            if closed != 0 { throw WriteError(temporary, "close") }
        } catch {
            close(fd)
            unlink(temporary)
            throw error
        }
        guard rename(temporary, final) == 0 else {
            let failure = WriteError(final, "rename")
            unlink(temporary)
            throw failure
        }
        if durable { try FileSystem.syncDirectory(root + "/new") }
        return final
    }

    /// Takes back a delivered file (when a later output of the same message failed).
    public func withdraw(name: String) { unlink(root + "/new/" + name) }

    /// Removes what an interrupted run left in tmp/ (never delivered, never in the
    /// manifest). Only called while holding the output directory's lock.
    public func removeTemporaryFiles() {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: root + "/tmp")) ?? [] {
            try? fm.removeItem(atPath: root + "/tmp/" + name)
        }
    }
}

/// `--consume`: takes a maildir input out of its spool once its outputs and
/// manifest record are durable, by removing it or by moving it into another
/// maildir's folder of the same name (`new` or `cur`, keeping its flags).
public struct MaildirConsumer: Sendable {
    /// The maildir that consumed inputs move into; nil removes them.
    public let destination: String?

    public init(into destination: String?) throws {
        self.destination = destination
        if let destination {
            for sub in ["tmp", "new", "cur"] { try FileSystem.makeDirectories(destination + "/" + sub) }
        }
    }

    public func consume(_ file: MaildirFile) throws {
        let source = file.path(under: file.root)
        if let destination {
            // link, then unlink: unlike rename, link never replaces a file already there.
            let target = file.path(under: destination)
            if link(source, target) != 0 {
                let code = errno
                var (a, b) = (stat(), stat())
                let sameFile =
                    code == EEXIST && stat(source, &a) == 0 && stat(target, &b) == 0 && a.st_ino == b.st_ino
                    && a.st_dev == b.st_dev  // linked by a run killed before its unlink
                guard sameFile else {
                    throw WriteError(
                        file.displayPath,
                        code == EEXIST
                            ? "move into \(destination) (a different file of that name is there; left in the spool)"
                            : "move into \(destination)", code)
                }
            }
            if unlink(source) != 0 && errno != ENOENT { throw WriteError(file.displayPath, "remove") }
        } else if unlink(source) != 0 && errno != ENOENT {
            throw WriteError(file.displayPath, "remove")
        }
    }
}

/// A directory entry's name, read in place: glibc allocates each entry only as long as its name (d_reclen),
/// so copying the whole 256-byte d_name (`entry.pointee.d_name`) read past the end of its buffer for the
/// last entries (AddressSanitizer, scripts/sanitize.sh).
func direntName(_ entry: UnsafeMutablePointer<dirent>) -> [UInt8] {
    let name = UnsafeRawPointer(entry).advanced(by: MemoryLayout<dirent>.offset(of: \dirent.d_name)!)
    return Array(UnsafeRawBufferPointer(start: name, count: strlen(name.assumingMemoryBound(to: CChar.self))))
}

/// An open directory stream, closed with its last reference (LeakSanitizer found a reader's stream left
/// open when a run stopped before the folder's end).
final class DirectoryStream {
    let handle: OpaquePointer
    init(_ handle: OpaquePointer) { self.handle = handle }
    deinit { closedir(handle) }
}
