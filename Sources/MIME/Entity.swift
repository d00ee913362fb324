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
    public static func parse(_ bytes: [UInt8], limits: MIMELimits = .standard, allowEmptyHeader: Bool = false) throws
        -> Entity
    {
        if bytes.isEmpty { throw MIMEError("empty message") }
        let ending = LineEnding.detect(bytes)
        var fields: [HeaderField] = []
        var lines = Lines(bytes)
        var current: (name: String, start: Int, contentEnd: Int, end: Int)? = nil
        var separator: [UInt8] = []
        var bodyStart = bytes.count
        var lineNumber = 0

        func flush() {
            if let c = current {
                fields.append(
                    HeaderField(name: c.name, raw: Array(bytes[c.start..<c.contentEnd]), terminator: Array(bytes[c.contentEnd..<c.end])))
            }
            current = nil
        }

        while let line = lines.next() {
            lineNumber += 1
            if line.contentEnd - line.start > limits.maxHeaderLineLength {
                throw MIMEError("header line \(lineNumber) longer than \(limits.maxHeaderLineLength) bytes")
            }
            if line.end > limits.maxHeaderSize {
                throw MIMEError("header section larger than \(limits.maxHeaderSize) bytes")
            }
            if line.contentEnd == line.start {  // the blank line
                separator = Array(bytes[line.start..<line.end])
                bodyStart = line.end
                break
            }
            let first = bytes[line.start]
            if first == 32 || first == 9 {
                guard current != nil else {
                    throw MIMEError("not an RFC 5322 message: the header begins with a continuation line")
                }
                current!.contentEnd = line.contentEnd
                current!.end = line.end
                continue
            }
            guard let colon = bytes[line.start..<line.contentEnd].firstIndex(of: 58), colon > line.start,
                bytes[line.start..<colon].allSatisfy({ $0 > 32 && $0 < 127 })
            else {
                if fields.isEmpty && current == nil {
                    throw MIMEError("not an RFC 5322 message: line 1 is not a header field")
                }
                throw MIMEError("malformed header: line \(lineNumber) is not a header field")
            }
            if bytes[line.start..<line.contentEnd].contains(0) {
                throw MIMEError("malformed header: NUL byte in line \(lineNumber)")
            }
            flush()
            let name = String(decoding: bytes[line.start..<colon], as: UTF8.self)
            current = (name, line.start, line.contentEnd, line.end)
        }
        flush()
        if fields.isEmpty && !allowEmptyHeader { throw MIMEError("not an RFC 5322 message: no header fields") }
        var entity = Entity(fields: fields, body: Array(bytes[bodyStart...]), lineEnding: ending)
        entity.separator = separator
        entity.normalized = false
        return entity
    }

    /// The entity as bytes: unchanged input comes back byte for byte.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(body.count + fields.count * 80)
        for field in fields { out += field.serialized(normalized ? lineEnding : (field.terminator.isEmpty ? lineEnding : nil)) }
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
        return separator == [13, 10] && fields.allSatisfy { $0.terminator == [13, 10] && $0.raw.isAllCRLF } && body.isAllCRLF
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
