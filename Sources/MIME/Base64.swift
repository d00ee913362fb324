/// RFC 2045 §6.8 base64. Decoding skips line breaks and white space but rejects
/// any other character and a truncated final group, so broken input is an error
/// rather than silently different bytes.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Encodes with lines of `lineLength` characters, each ended by `ending`.
    public static func encode(_ bytes: [UInt8], lineLength: Int = 76, ending: LineEnding = .crlf) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 4 / 3 + bytes.count / 38 + 4)
        var column = 0
        var i = 0
        func put(_ c: UInt8) {
            out.append(c)
            column += 1
            if column == lineLength {
                out += ending.bytes
                column = 0
            }
        }
        while i + 2 < bytes.count {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2])
            put(alphabet[Int(n >> 18 & 63)]); put(alphabet[Int(n >> 12 & 63)])
            put(alphabet[Int(n >> 6 & 63)]); put(alphabet[Int(n & 63)])
            i += 3
        }
        let rest = bytes.count - i
        if rest == 1 {
            let n = UInt32(bytes[i]) << 16
            put(alphabet[Int(n >> 18 & 63)]); put(alphabet[Int(n >> 12 & 63)]); put(61); put(61)
        } else if rest == 2 {
            let n = UInt32(bytes[i]) << 16 | UInt32(bytes[i + 1]) << 8
            put(alphabet[Int(n >> 18 & 63)]); put(alphabet[Int(n >> 12 & 63)])
            put(alphabet[Int(n >> 6 & 63)]); put(61)
        }
        if column != 0 { out += ending.bytes }
        return out
    }

    public static func decode(_ bytes: [UInt8]) throws -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 3 / 4)
        var quad: UInt32 = 0
        var count = 0
        var padding = 0
        for b in bytes {
            if b == 13 || b == 10 || b == 32 || b == 9 { continue }
            if b == 61 {  // '='
                padding += 1
                continue
            }
            let v = table[Int(b)]
            if v == 0xFF { throw MIMEError("broken base64: invalid character 0x\(String(b, radix: 16))") }
            if padding > 0 { throw MIMEError("broken base64: data after padding") }
            quad = quad << 6 | UInt32(v)
            count += 1
            if count == 4 {
                out.append(UInt8(quad >> 16 & 0xFF)); out.append(UInt8(quad >> 8 & 0xFF)); out.append(UInt8(quad & 0xFF))
                quad = 0
                count = 0
            }
        }
        switch count {
        case 0: if padding != 0 { throw MIMEError("broken base64: stray padding") }
        case 2:
            guard padding == 2 || padding == 0 else { throw MIMEError("broken base64: bad padding") }
            if padding == 0 { throw MIMEError("truncated base64: the final group is incomplete") }
            out.append(UInt8(quad >> 4 & 0xFF))
        case 3:
            guard padding == 1 || padding == 0 else { throw MIMEError("broken base64: bad padding") }
            if padding == 0 { throw MIMEError("truncated base64: the final group is incomplete") }
            out.append(UInt8(quad >> 10 & 0xFF)); out.append(UInt8(quad >> 2 & 0xFF))
        default: throw MIMEError("truncated base64: the final group is incomplete")
        }
        return out
    }
}

/// RFC 2045 §6.7 quoted-printable.
public enum QuotedPrintable {
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Encodes text whose lines end in LF or CRLF; output lines end in `ending`.
    /// Also protects lines beginning "From " (=46rom) and trailing white space,
    /// so that the text survives mbox delivery and whitespace-stripping relays (RFC 8551 §3.1.1).
    public static func encode(_ bytes: [UInt8], ending: LineEnding = .crlf) -> [UInt8] {
        var out: [UInt8] = []
        var lines = Lines(bytes)
        let from = ascii("From ")
        while let line = lines.next() {
            var column = 0
            let content = bytes[line.start..<line.contentEnd]
            for (offset, b) in zip(content.indices, content) {
                let isLast = offset == line.contentEnd - 1
                var literal = (b >= 33 && b <= 126 && b != 61) || ((b == 32 || b == 9) && !isLast)
                if offset == line.start && b == UInt8(ascii: "F") && content.starts(with: from) { literal = false }
                if offset == line.start && b == UInt8(ascii: ".") { literal = false }
                let width = literal ? 1 : 3
                if column + width > 75 {
                    out.append(61); out += ending.bytes
                    column = 0
                }
                if literal {
                    out.append(b)
                } else {
                    out.append(61); out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 15)])
                }
                column += width
            }
            if line.end > line.contentEnd { out += ending.bytes }
        }
        return out
    }

    /// Lenient decoding (RFC 2045 §6.7 note 4): malformed escapes are kept literally.
    public static func decode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        func hexValue(_ b: UInt8) -> UInt8? {
            switch b {
            case 48...57: b - 48
            case 65...70: b - 55
            case 97...102: b - 87
            default: nil
            }
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == 61 {
                if i + 1 < bytes.count, bytes[i + 1] == 10 { i += 2; continue }
                if i + 2 < bytes.count, bytes[i + 1] == 13, bytes[i + 2] == 10 { i += 3; continue }
                if i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
            }
            out.append(b)
            i += 1
        }
        return out
    }
}
