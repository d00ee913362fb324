import Foundation

/// The mbox dialects (see the mbox(5) family): how body lines beginning
/// "From " were protected, and so how to read them back.
public enum MboxFormat: String, CaseIterable, Sendable {
    /// ">From " and ">>From " ... are unquoted by one '>' (reversible quoting).
    case mboxrd
    /// Only ">From " is unquoted (the classic, lossy quoting).
    case mboxo
    /// No quoting; a Content-Length field gives the body size.
    case mboxcl2
}

/// Reads an mbox file one message at a time through a fixed-size buffer.
public struct MboxReader: MessageSource {
    /// The canonical path (`InputKey`), and the path as given.
    public let path: String
    public let givenPath: String
    public let format: MboxFormat
    private var reader: LineReader
    private var pendingFromLine: (offset: Int, line: [UInt8])? = nil
    private var started = false

    /// An mbox compressed with gzip, bzip2, xz or zstd (told by its first bytes) is decompressed as it is
    /// read; offsets are those of the uncompressed stream.
    public init(_ path: String, format: MboxFormat = .mboxrd) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw MailstoreError("\(path): cannot open") }
        self.givenPath = path
        self.path = InputKey.canonical(path)
        self.format = format
        let head = Array((try? handle.read(upToCount: 6)) ?? Data())
        if Compression.detect(head) != nil {
            try? handle.close()
            self.reader = LineReader(try CompressedStream(path))
        } else {
            try handle.seek(toOffset: 0)
            self.reader = LineReader(FileStream(handle: handle))
        }
    }

    /// The first `count` bytes of an mbox file as its reader sees them (decompressed), to check its format.
    public static func head(of path: String, count: Int) throws -> [UInt8] {
        if Compression.of(file: path) != nil {
            let stream = try CompressedStream(path)
            return try stream.read(upToCount: count)
        }
        guard let handle = FileHandle(forReadingAtPath: path) else { throw MailstoreError("\(path): cannot open") }
        defer { try? handle.close() }
        return Array((try handle.read(upToCount: count)) ?? Data())
    }

    public var consumedBytes: Int { reader.stream.consumed }

    /// The largest message read by default (`--max-message-size`); a larger one is skipped and reported.
    public static let defaultMaxMessageBytes = 256 << 20
    /// The largest message this reader reads.
    public var maxMessageBytes = MboxReader.defaultMaxMessageBytes
    /// Asked now and then inside a long message (a compression bomb takes a while to read through):
    /// true ends the reading, as if the mbox ended there.
    public var shouldStop: (@Sendable () -> Bool)? = nil
    private var pieces = 0

    public mutating func next() throws -> SourceItem? {
        if !started {
            started = true
            // Skip anything before the first From_ line (there should be nothing).
            while let (offset, line) = try reader.nextLine() {
                if isFromLine(line) {
                    pendingFromLine = (offset, line)
                    break
                }
                if !isBlank(line) {
                    throw MailstoreError("\(path): not an mbox file (it does not start with a \"From \" line)")
                }
            }
        }
        guard let from = pendingFromLine else { return nil }
        pendingFromLine = nil
        var message: [UInt8] = []
        var tooLarge = false
        if format == .mboxcl2 {
            tooLarge = try readContentLengthMessage(into: &message)
        } else {
            var previousBlank = false
            var lineStart = true  // a line longer than a piece comes in several; only the first starts a line
            while let (offset, line) = try reader.nextLine() {
                if lineStart && isFromLine(line) {
                    pendingFromLine = (offset, line)
                    break
                }
                pieces += 1
                if pieces % 4096 == 0, shouldStop?() == true { return nil }
                if !tooLarge {
                    message += lineStart ? unquote(line) : line
                    if message.count > maxMessageBytes {
                        tooLarge = true
                        message = []
                    }
                }
                previousBlank = lineStart && isBlank(line)
                lineStart = line.last == 10
            }
            // The blank line before the next From_ (or at the end) belongs to the mbox, not the message.
            if previousBlank { dropLastLine(&message) }
        }
        if tooLarge {
            return .problem(InputProblem(path: "\(path)@\(from.offset)", kind: .tooLarge(maxMessageBytes)))
        }
        return .message(InputMessage(source: path, offset: from.offset, bytes: message, givenAs: givenPath))
    }

    /// Returns whether the message was larger than `maxMessageBytes` (then `message` holds nothing of it).
    private mutating func readContentLengthMessage(into message: inout [UInt8]) throws -> Bool {
        var length: Int? = nil
        var tooLarge = false
        while let (_, line) = try reader.nextLine() {
            message += line
            if isBlank(line) { break }
            if message.count > maxMessageBytes { tooLarge = true }
            let text = String(decoding: line.prefix(200), as: UTF8.self)
            if text.lowercased().hasPrefix("content-length:") {
                length = Int(text.dropFirst("content-length:".count).trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        guard let length, length >= 0 else { throw MailstoreError("\(path): mboxcl2 message without Content-Length") }
        if tooLarge || message.count + length > maxMessageBytes {
            message = []
            try reader.skip(count: length)
            tooLarge = true
        } else {
            message += try reader.read(count: length)
        }
        // Then blank lines up to the next From_ line.
        var lineStart = true
        while let (offset, line) = try reader.nextLine() {
            if lineStart && isFromLine(line) {
                pendingFromLine = (offset, line)
                break
            }
            lineStart = line.last == 10
        }
        return tooLarge
    }

    private func isFromLine(_ line: [UInt8]) -> Bool { line.starts(with: MboxReader.from) }
    private func isBlank(_ line: [UInt8]) -> Bool { line == [10] || line == [13, 10] }

    private func unquote(_ line: [UInt8]) -> [UInt8] {
        guard line.first == 62 else { return line }  // '>'
        switch format {
        case .mboxrd:
            let quotes = line.prefix { $0 == 62 }.count
            return line.dropFirst(quotes).starts(with: MboxReader.from) ? Array(line.dropFirst()) : line
        case .mboxo:
            return line.dropFirst().starts(with: MboxReader.from) ? Array(line.dropFirst()) : line
        case .mboxcl2:
            return line
        }
    }

    private func dropLastLine(_ message: inout [UInt8]) {
        guard message.last == 10 else { return }
        message.removeLast()
        if message.last == 13 { message.removeLast() }
    }

    static let from = Array("From ".utf8)
}

/// Buffered line reading over a byte stream: lines keep their terminators;
/// the offset of each line is its byte position in the (uncompressed) stream.
struct LineReader {
    var stream: any ByteStream
    private var buffer: [UInt8] = []
    private var position = 0
    private var fileOffset = 0  // file offset of buffer[0]
    private var eof = false
    static let chunk = 1 << 16

    init(_ stream: any ByteStream) { self.stream = stream }

    private mutating func fill() throws -> Bool {
        if eof { return false }
        let data = try stream.read(upToCount: LineReader.chunk)
        if data.isEmpty {
            eof = true
            return false
        }
        if position > 0 {
            fileOffset += position
            buffer.removeFirst(position)
            position = 0
        }
        buffer += data
        return true
    }

    /// The longest piece `nextLine` returns: a longer line comes in several pieces (the last with the newline),
    /// so a stream without newlines never makes the buffer grow past it.
    static let pieceLimit = 1 << 20

    mutating func nextLine() throws -> (Int, [UInt8])? {
        var scanned = position  // where the search for a newline goes on after each fill
        while true {
            if let newline = buffer[scanned...].firstIndex(of: 10), newline - position < Self.pieceLimit {
                let line = Array(buffer[position...newline])
                let offset = fileOffset + position
                position = newline + 1
                return (offset, line)
            }
            if buffer.count - position >= Self.pieceLimit {
                let line = Array(buffer[position..<(position + Self.pieceLimit)])
                let offset = fileOffset + position
                position += Self.pieceLimit
                return (offset, line)
            }
            scanned = buffer.count
            let kept = position
            if try !fill() {
                guard position < buffer.count else { return nil }
                let line = Array(buffer[position...])
                let offset = fileOffset + position
                position = buffer.count
                return (offset, line)
            }
            scanned -= kept - position  // fill dropped what came before `position`
        }
    }

    /// Reads past `count` bytes without keeping them.
    mutating func skip(count: Int) throws {
        var left = count
        while left > 0 {
            if position == buffer.count, try !fill() { return }
            let n = min(left, buffer.count - position)
            position += n
            left -= n
        }
    }

    mutating func read(count: Int) throws -> [UInt8] {
        while buffer.count - position < count {
            if try !fill() { break }
        }
        let n = min(count, buffer.count - position)
        let bytes = Array(buffer[position..<(position + n)])
        position += n
        return bytes
    }
}
