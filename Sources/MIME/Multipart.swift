/// A multipart body (RFC 2046 §5.1): preamble, parts, epilogue. Each part is
/// kept as the exact bytes between its delimiter lines, which for
/// multipart/signed are the bytes the signature covers (RFC 1847 §2.1).
public struct Multipart: Sendable {
    public var boundary: String
    /// Bytes before the first delimiter line, without the line break that belongs to
    /// the delimiter; nil when the body starts with the delimiter.
    public var preamble: [UInt8]?
    public var parts: [[UInt8]]
    public var epilogue: [UInt8]

    public init(boundary: String, parts: [[UInt8]], preamble: [UInt8]? = nil, epilogue: [UInt8] = []) {
        self.boundary = boundary
        self.parts = parts
        self.preamble = preamble
        self.epilogue = epilogue
    }

    /// A boundary whose delimiter or close-delimiter line never appears is an `Irregularity`.
    public static func parse(_ body: [UInt8], boundary: String) throws -> Multipart {
        guard !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw MIMEError("multipart boundary is empty or longer than 200 characters")
        }
        let dash = ascii("--" + boundary)
        var preamble: [UInt8]? = nil
        var parts: [[UInt8]] = []
        var partStart: Int? = nil
        var previousLineBreakStart = 0  // where the line break before the current line begins
        var lines = Lines(body)
        var previous: Line? = nil
        while let line = lines.next() {
            defer { previous = line }
            let content = body[line.start..<line.contentEnd]
            guard content.starts(with: dash) else { continue }
            var rest = content.dropFirst(dash.count)
            let isClose = rest.starts(with: [45, 45])
            if isClose { rest = rest.dropFirst(2) }
            guard rest.allSatisfy({ $0 == 32 || $0 == 9 }) else { continue }
            // The CRLF before a delimiter belongs to the delimiter.
            previousLineBreakStart = previous?.contentEnd ?? 0
            if let start = partStart {
                parts.append(start <= previousLineBreakStart ? Array(body[start..<previousLineBreakStart]) : [])
            } else {
                preamble = line.start == 0 ? nil : Array(body[0..<previousLineBreakStart])
            }
            if isClose {
                return Multipart(boundary: boundary, parts: parts, preamble: preamble, epilogue: Array(body[line.end...]))
            }
            partStart = line.end
        }
        if partStart == nil { throw Irregularity.boundaryNotFound(boundary) }
        throw Irregularity.boundaryNotClosed(boundary)
    }

    /// The body with `ending` around the delimiters (parts are written as they are).
    public func serialized(_ ending: LineEnding) -> [UInt8] {
        let eol = ending.bytes
        var out: [UInt8] = []
        if let preamble { out += preamble + eol }
        for part in parts { out += ascii("--" + boundary) + eol + part + eol }
        out += ascii("--" + boundary + "--")
        out += epilogue.isEmpty ? eol : eol + epilogue
        return out
    }
}
