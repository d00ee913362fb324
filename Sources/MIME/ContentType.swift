/// A parsed Content-Type (RFC 2045 §5.1): type/subtype and parameters.
/// Names are case-insensitive; parameter values keep their case. RFC 2231
/// values (`boundary*=…''…`, `filename*0*=…`) are joined and decoded.
public struct ContentType: Sendable, Equatable {
    public var type: String
    public var subtype: String
    public var parameters: [(name: String, value: String)]

    public init(type: String, subtype: String, parameters: [(name: String, value: String)] = []) {
        self.type = type.lowercased()
        self.subtype = subtype.lowercased()
        self.parameters = parameters
    }

    public var mediaType: String { "\(type)/\(subtype)" }
    public var isMultipart: Bool { type == "multipart" }

    public subscript(parameter: String) -> String? {
        parameters.first { $0.name.lowercased() == parameter.lowercased() }?.value
    }

    public init?(parsing value: String) {
        guard let written = Self.written(value) else { return nil }
        let parameters = ExtendedParameters.decode(written.parameters)
        self.init(type: written.type, subtype: written.subtype, parameters: parameters)
    }

    /// The type with its parameters as written: RFC 2231 sections neither joined nor decoded,
    /// and a plain value kept beside an extended one of the same name (which `init(parsing:)`
    /// drops, as RFC 2231 readers do). For checks that must see every value some reader may
    /// use, as a scanner of attachment names must; nil when `value` has no type/subtype.
    public static func parsingAsWritten(_ value: String) -> ContentType? {
        written(value).map { ContentType(type: $0.type, subtype: $0.subtype, parameters: $0.parameters) }
    }

    private static func written(_ value: String) -> (type: String, subtype: String, parameters: [(String, String)])? {
        var scanner = ParameterScanner(Array(value.utf8))
        guard let type = scanner.token(), scanner.consume(UInt8(ascii: "/")), let subtype = scanner.token() else {
            return nil
        }
        var parameters: [(String, String)] = []
        while scanner.consume(UInt8(ascii: ";")) {
            guard let name = scanner.token() else { continue }
            guard scanner.consume(UInt8(ascii: "=")) else { continue }
            guard let value = scanner.quotedString() ?? scanner.token() else { continue }
            parameters.append((name, value))
        }
        return (type, subtype, parameters)
    }

    /// "type/subtype; name=value; ..." with values quoted where RFC 2045 requires it.
    public var headerValue: String {
        var s = mediaType
        for (name, value) in parameters {
            let needsQuotes = value.isEmpty || value.utf8.contains { ParameterScanner.isSpecial($0) || $0 <= 32 }
            s += "; \(name)=" + (needsQuotes ? "\"\(value.replacingBackslashes())\"" : value)
        }
        return s
    }

    public static func == (a: ContentType, b: ContentType) -> Bool {
        func written(_ t: ContentType) -> [String] { t.parameters.map { "\($0.name.lowercased())=\($0.value)" } }
        return a.mediaType == b.mediaType && written(a) == written(b)
    }
}

extension String {
    fileprivate func replacingBackslashes() -> String {
        var out = ""
        for c in self {
            if c == "\\" || c == "\"" { out.append("\\") }
            out.append(c)
        }
        return out
    }
}

/// Scans RFC 2045 tokens, quoted strings and comments.
struct ParameterScanner {
    let bytes: [UInt8]
    var i = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// RFC 2045 tspecials. A switch, not a set built per call: this runs for every byte of every parameter.
    static func isSpecial(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "@"),
            UInt8(ascii: ","), UInt8(ascii: ";"), UInt8(ascii: ":"), UInt8(ascii: "\\"), UInt8(ascii: "\""),
            UInt8(ascii: "/"), UInt8(ascii: "["), UInt8(ascii: "]"), UInt8(ascii: "?"), UInt8(ascii: "="):
            return true
        default:
            return false
        }
    }

    mutating func skipSpaceAndComments() {
        while i < bytes.count {
            if bytes[i] == 32 || bytes[i] == 9 || bytes[i] == 13 || bytes[i] == 10 {
                i += 1
            } else if bytes[i] == UInt8(ascii: "(") {
                var depth = 0
                while i < bytes.count {
                    if bytes[i] == UInt8(ascii: "\\") { i += 2; continue }
                    if bytes[i] == UInt8(ascii: "(") { depth += 1 }
                    if bytes[i] == UInt8(ascii: ")") { depth -= 1; if depth == 0 { i += 1; break } }
                    i += 1
                }
            } else {
                return
            }
        }
    }

    mutating func consume(_ b: UInt8) -> Bool {
        skipSpaceAndComments()
        guard i < bytes.count, bytes[i] == b else { return false }
        i += 1
        return true
    }

    mutating func token() -> String? {
        skipSpaceAndComments()
        let start = i
        while i < bytes.count, bytes[i] > 32, bytes[i] < 127, !ParameterScanner.isSpecial(bytes[i]) { i += 1 }
        // Be lenient with 8-bit bytes inside tokens (seen in the wild).
        while i < bytes.count, bytes[i] >= 128 { i += 1 }
        return i > start ? String(decoding: bytes[start..<i], as: UTF8.self) : nil
    }

    mutating func quotedString() -> String? {
        skipSpaceAndComments()
        guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { return nil }
        i += 1
        var out: [UInt8] = []
        while i < bytes.count, bytes[i] != UInt8(ascii: "\"") {
            if bytes[i] == UInt8(ascii: "\\"), i + 1 < bytes.count { i += 1 }
            out.append(bytes[i])
            i += 1
        }
        i += 1
        return String(decoding: out, as: UTF8.self)
    }
}
