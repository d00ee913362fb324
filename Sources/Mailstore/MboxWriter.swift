import CSmimegate
import FileIO
import Foundation
import Locking

#if canImport(Glibc)
    import Glibc
#endif

/// One mboxrd file that a run appends an outcome's outputs to (`--out-format mbox`): each message
/// after a From_ line with its envelope sender and date, body lines matching `>*From ` quoted with one
/// more `>`, and a blank line after it. Appends are whole or undone: a failed write cuts the file
/// back, and `truncate(to:)` takes back what a record that could not be written had appended.
/// The caller serialises appends with the manifest records that name their offsets.
public final class MboxWriter: Sendable {
    public let path: String
    private let fd: Int32
    private let durable: Bool
    private let length: Locked<Int>

    /// Opens (creating, 0600) `path`; `keeping`: its length as the manifest records it, after a run that
    /// did not end cleanly — what lies beyond was written for records never made, and is cut off.
    public init(_ path: String, durable: Bool, keeping recorded: Int? = nil) throws {
        let fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            if errno == ELOOP { throw MailstoreError("\(path): a symbolic link, not an mbox file") }
            throw WriteError(path, "open")
        }
        var info = stat()
        guard fstat(fd, &info) == 0, info.st_mode & S_IFMT == S_IFREG, fchmod(fd, 0o600) == 0 else {
            close(fd)
            throw MailstoreError("\(path): not a regular file we can write")
        }
        var size = Int(info.st_size)
        if let recorded, recorded != size {
            guard recorded < size else {
                close(fd)
                throw MailstoreError(
                    "\(path) is \(size) bytes, shorter than the \(recorded) its manifest records: "
                        + "outputs were lost (the file system lost writes, or the file was changed)")
            }
            guard ftruncate(fd, off_t(recorded)) == 0 else {
                let failure = WriteError(path, "truncate")
                close(fd)
                throw failure
            }
            size = recorded
        }
        self.path = path
        self.fd = fd
        self.durable = durable
        self.length = Locked(size)
    }

    deinit { close(fd) }

    public var size: Int { length.withLock { $0 } }

    /// Appends `message`; returns where it starts (its From_ line) and how many bytes it took.
    public func append(_ message: [UInt8], sender: String, date: Date) throws -> (offset: Int, length: Int) {
        let bytes = Self.entry(message, sender: sender, date: date)
        return try length.withLock { length in
            let offset = length
            do {
                try FileSystem.writeAll(fd, bytes, path: path)
            } catch {
                _ = ftruncate(fd, off_t(offset))
                throw error
            }
            length += bytes.count
            return (offset, bytes.count)
        }
    }

    /// Cuts the file back to `size` (what appends made for a record that was not written).
    public func truncate(to size: Int) {
        length.withLock { length in
            if ftruncate(fd, off_t(size)) == 0 { length = size }
        }
    }

    public func sync() throws { try FileSystem.sync(fd, path: path) }

    /// The From_ line, the message with its From-lines quoted (mboxrd), and a blank line.
    static func entry(_ message: [UInt8], sender: String, date: Date) -> [UInt8] {
        var out = Array("From \(fromLineSender(sender)) \(asctime(date))\n".utf8)
        out.reserveCapacity(out.count + message.count + message.count / 64 + 2)
        var lineStart = true
        var index = message.startIndex
        while index < message.endIndex {
            if lineStart {
                var probe = index
                while probe < message.endIndex && message[probe] == UInt8(ascii: ">") { probe += 1 }
                if message[probe...].starts(with: MboxReader.from) { out.append(UInt8(ascii: ">")) }
            }
            let byte = message[index]
            out.append(byte)
            lineStart = byte == 10
            index += 1
        }
        if !lineStart { out.append(10) }
        out.append(10)
        return out
    }

    /// The envelope sender as a From_ line can hold it: one word, MAILER-DAEMON for the null reverse-path.
    static func fromLineSender(_ sender: String) -> String {
        let word = sender.filter { !$0.isWhitespace && !$0.isNewline }
        return word.isEmpty || word == "<>" ? "MAILER-DAEMON" : word
    }

    /// The date for a message's From_ line: its Date field (RFC 5322 §3.3, the forms mailers write), else
    /// the date its first Received field ends with, else nil. Taken from the message, never the clock, so
    /// a rerun writes the same bytes.
    public static func date(of message: [UInt8]) -> Date? {
        var received: Date? = nil
        for field in headerFields(message) {
            let name = field.prefix(9).map { $0 | 0x20 }
            if name.starts(with: Array("date:".utf8)),
                let date = parseDate(String(decoding: field.dropFirst(5), as: UTF8.self))
            {
                return date
            }
            // A Received field's date follows its last ";".
            if received == nil, name == Array("received:".utf8), let semicolon = field.lastIndex(of: UInt8(ascii: ";"))
            {
                received = parseDate(String(decoding: field[(semicolon + 1)...], as: UTF8.self))
            }
        }
        return received
    }

    /// The header's fields, each with its continuation lines joined by a space (at most 100 fields read).
    static func headerFields(_ message: [UInt8]) -> [[UInt8]] {
        var fields: [[UInt8]] = []
        var start = message.startIndex
        while start < message.endIndex && fields.count <= 100 {
            let end = message[start...].firstIndex(of: 10) ?? message.endIndex
            var line = message[start..<end]
            if line.last == 13 { line = line.dropLast() }
            if line.isEmpty { break }  // the end of the header
            if line.first == 32 || line.first == 9, !fields.isEmpty {
                fields[fields.count - 1] += [32] + line.drop { $0 == 32 || $0 == 9 }
            } else {
                fields.append(Array(line))
            }
            start = end + 1
        }
        return fields
    }

    static func parseDate(_ text: String) -> Date? {
        var seconds: Int64 = 0
        return smg_parse_mail_date(text, &seconds) == 1 ? Date(timeIntervalSince1970: TimeInterval(seconds)) : nil
    }

    /// asctime(3) in UTC: "Wed Jun  1 12:00:00 2016".
    static func asctime(_ date: Date) -> String {
        var time = time_t(date.timeIntervalSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%a %b %e %H:%M:%S %Y", &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
