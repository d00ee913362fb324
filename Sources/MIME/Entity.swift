/// A MIME entity or RFC 5322 message: header fields, the blank line, the body.
/// Bodies stay raw bytes; `Multipart` parses them on demand.
public struct Entity: Sendable, Equatable {
    public var fields: [HeaderField]
    /// The blank line that ends the header as written ([] when the input had none).
    public var separator: [UInt8]
    public var body: [UInt8]
    /// The line-ending style of the input; new fields and converted output use it.
    public var lineEnding: LineEnding
    /// When set, every line is rewritten to this style on output.
    var normalized = false

    public init(fields: [HeaderField], body: [UInt8], lineEnding: LineEnding) {
        self.fields = fields
        self.separator = lineEnding.bytes
        self.body = body
        self.lineEnding = lineEnding
        self.normalized = true
    }

    /// Parses a message or entity. Errors name the reason in one line.
    /// (`parseMessage` reads a whole message the way sloppy mailers write it.)
    public static func parse(_ bytes: [UInt8], limits: MIMELimits = .standard, allowEmptyHeader: Bool = false) throws
        -> Entity
    {
        if bytes.isEmpty { throw MIMEError("empty message") }
        let (entity, end) = try parseHeader(bytes, from: 0, limits: limits)
        if case .fieldlessLine(let line) = end {
            if entity.fields.isEmpty { throw noHeader(bytes, from: 0, end) }
            throw MIMEError("malformed header: line \(line) is not a header field")
        }
        if entity.fields.isEmpty && !allowEmptyHeader { throw noHeader(bytes, from: 0, end) }
        return entity
    }

    /// Parses a body part or an attached message (RFC 2046 §5.1.1: the header
    /// may be empty, and so may the part). A header that runs into the body is
    /// the sender's `Irregularity`, not an error in the input as a whole.
    static func parsePart(_ bytes: [UInt8], limits: MIMELimits) throws -> Entity {
        let (entity, end) = try parseHeader(bytes, from: 0, limits: limits)
        if case .fieldlessLine = end { throw Irregularity.partHeaderWithoutBlankLine }
        return entity
    }

    /// How a header section ended.
    enum HeaderEnd: Equatable {
        case blankLine, endOfInput
        /// At a line (counted from `start`) that is neither a field nor a continuation
        /// of one; it begins the body. Line 1 when the input starts with such a line.
        case fieldlessLine(Int)
    }

    /// The "not an RFC 5322 message" error for a header section without fields.
    static func noHeader(_ bytes: [UInt8], from start: Int, _ end: HeaderEnd) -> MIMEError {
        guard start < bytes.count else { return MIMEError("empty message") }
        guard case .fieldlessLine = end else { return MIMEError("not an RFC 5322 message: no header fields") }
        if bytes[start] == 32 || bytes[start] == 9 {
            return MIMEError("not an RFC 5322 message: the header begins with a continuation line")
        }
        return MIMEError("not an RFC 5322 message: line 1 is not a header field")
    }

    /// Reads the header fields of `bytes[start...]` up to the blank line, the end
    /// of input or the first line that is no field; the rest is the body.
    static func parseHeader(_ bytes: [UInt8], from start: Int, limits: MIMELimits) throws -> (Entity, HeaderEnd) {
        let ending = LineEnding.detect(bytes, from: start)
        var fields: [HeaderField] = []
        var lines = Lines(bytes, from: start)
        var current: (name: String, start: Int, contentEnd: Int, end: Int)? = nil
        var separator: [UInt8] = []
        var bodyStart = bytes.count
        var lineNumber = 0
        var end = HeaderEnd.endOfInput

        func flush() {
            if let c = current {
                let raw = Array(bytes[c.start..<c.contentEnd])
                fields.append(HeaderField(name: c.name, raw: raw, terminator: Array(bytes[c.contentEnd..<c.end])))
            }
            current = nil
        }

        while let line = lines.next() {
            lineNumber += 1
            if line.contentEnd - line.start > limits.maxHeaderLineLength {
                throw MIMEError("header line \(lineNumber) longer than \(limits.maxHeaderLineLength) bytes")
            }
            if line.end - start > limits.maxHeaderSize {
                throw MIMEError("header section larger than \(limits.maxHeaderSize) bytes")
            }
            if line.contentEnd == line.start {  // the blank line
                separator = Array(bytes[line.start..<line.end])
                bodyStart = line.end
                end = .blankLine
                break
            }
            let first = bytes[line.start]
            if (first == 32 || first == 9) && current != nil {
                current!.contentEnd = line.contentEnd
                current!.end = line.end
                continue
            }
            guard first != 32, first != 9, let colon = bytes[line.start..<line.contentEnd].firstIndex(of: 58),
                colon > line.start, bytes[line.start..<colon].allSatisfy({ $0 > 32 && $0 < 127 })
            else {
                bodyStart = line.start
                end = .fieldlessLine(lineNumber)
                break
            }
            if bytes[line.start..<line.contentEnd].contains(0) {
                throw MIMEError("malformed header: NUL byte in line \(lineNumber)")
            }
            flush()
            let name = String(decoding: bytes[line.start..<colon], as: UTF8.self)
            current = (name, line.start, line.contentEnd, line.end)
        }
        flush()
        var entity = Entity(fields: fields, body: Array(bytes[bodyStart...]), lineEnding: ending)
        entity.separator = separator
        entity.normalized = false
        return (entity, end)
    }

    /// The entity as bytes: unchanged input comes back byte for byte.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + fields.count * 80)
        for field in fields {
            out += field.serialized(normalized ? lineEnding : (field.terminator.isEmpty ? lineEnding : nil))
        }
        if normalized {
            out += lineEnding.bytes
            out += body
        } else {
            out += separator.isEmpty && !body.isEmpty ? lineEnding.bytes : separator
            out += body
        }
        return out
    }

    /// True when every line of the header and body already ends in CRLF.
    public var isCRLF: Bool {
        if normalized { return lineEnding == .crlf && fields.allSatisfy { $0.raw.isAllCRLF } && body.isAllCRLF }
        return separator == [13, 10] && fields.allSatisfy { $0.terminator == [13, 10] && $0.raw.isAllCRLF }
            && body.isAllCRLF
    }

    /// The whole entity rewritten with `ending` on every line (header and body).
    public func converted(to ending: LineEnding) -> Entity {
        var copy = self
        copy.lineEnding = ending
        copy.normalized = true
        copy.separator = ending.bytes
        copy.body = body.converted(to: ending)
        return copy
    }

    // MARK: Fields

    /// The entity with stray CRs and NULs in its header fields made spaces
    /// (`HeaderField.withoutStrayLineBreaks`), and how many fields changed.
    public func withoutStrayLineBreaks() -> (entity: Entity, changed: Int) {
        var copy = self
        var changed = 0
        for index in copy.fields.indices {
            if let clean = copy.fields[index].withoutStrayLineBreaks {
                copy.fields[index] = clean
                changed += 1
            }
        }
        return (copy, changed)
    }

    public func field(_ name: String) -> String? { fields.first { $0.hasName(name) }?.value }
    public func fields(named name: String) -> [HeaderField] { fields.filter { $0.hasName(name) } }

    public mutating func removeFields(named name: String) { fields.removeAll { $0.hasName(name) } }

    /// Replaces the first field of that name in place (or appends), removing the others.
    public mutating func setField(_ name: String, _ value: String) {
        let new = HeaderField(name: name, value: value)
        if let index = fields.firstIndex(where: { $0.hasName(name) }) {
            fields[index] = new
            fields = fields.enumerated().filter { $0.offset == index || !$0.element.hasName(name) }.map(\.element)
        } else {
            fields.append(new)
        }
    }

    /// The Content-Type (RFC 2045 §5.2: text/plain; charset=us-ascii when absent or unparsable).
    public var contentType: ContentType {
        field("Content-Type").flatMap(ContentType.init(parsing:)) ?? ContentType(type: "text", subtype: "plain")
    }

    /// The Content-Transfer-Encoding, lower-cased ("7bit" when absent).
    public var transferEncoding: String { field("Content-Transfer-Encoding")?.lowercased() ?? "7bit" }

    /// The body with its transfer encoding removed.
    public func decodedBody() throws -> [UInt8] {
        switch transferEncoding {
        case "base64": return try Base64.decode(body)
        case "quoted-printable": return QuotedPrintable.decode(body)
        case "7bit", "8bit", "binary": return body
        case let other: throw MIMEError("unknown Content-Transfer-Encoding \"\(other)\"")
        }
    }

    /// The Message-ID without angle brackets, for error messages and manifests.
    public var messageID: String? {
        field("Message-ID").map { $0.trimmingCharacters(in: "<> ") }
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) { s = s.dropFirst() }
        while let l = s.last, set.contains(l) { s = s.dropLast() }
        return String(s)
    }
}
