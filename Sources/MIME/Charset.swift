import Foundation

/// Text in a MIME charset (RFC 2046 §4.1.2), decoded the way a mail client shows it, for
/// encoded-words (RFC 2047) and text parts alike, so that what the gateway checks is what
/// the reader sees. UTF-8, ISO-2022-JP and Shift_JIS (what Japanese mailers write) are
/// decoded; the ASCII-compatible single-byte charsets are read byte for byte as Latin-1,
/// which keeps every ASCII character (and so every "@") where the reader's client puts it.
public enum Charset {
    /// `bytes` as text, or nil for a charset not decoded here (UTF-7, UTF-16, EUC,
    /// unknown names) or bytes that do not decode in it. `charset` is matched ignoring case.
    /// Header checks rely on the nil: what a client shows for such a charset is unknown.
    public static func decode(_ bytes: [UInt8], charset: String) -> String? {
        let charset = charset.lowercased()
        switch charset {
        case "utf-8", "us-ascii", "ascii": return String(decoding: bytes, as: UTF8.self)
        case "iso-2022-jp": return String(data: Data(bytes), encoding: .iso2022JP)
        case "shift_jis", "shift-jis", "sjis", "cp932", "windows-31j":
            return String(data: Data(bytes), encoding: .shiftJIS)
        default:
            return isSingleByte(charset) ? String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) })) : nil
        }
    }

    /// Text for a content scanner (a filter's `body-contains`), never nil: what `decode` gives,
    /// else UTF-16 and UTF-32 (RFC 2781: a byte order mark decides, big-endian without one) and
    /// UTF-7 (RFC 2152), which mail clients show though `decode` leaves them to the author checks,
    /// else the bytes read as UTF-8 with broken sequences replaced, so that text under an unknown
    /// label keeps every ASCII character. A scanner that skipped what it cannot name would let a
    /// sender hide text from it with a label alone.
    public static func scannableText(_ bytes: [UInt8], charset: String) -> String {
        if let text = decode(bytes, charset: charset) { return text }
        switch charset.lowercased() {
        case "utf-16", "ucs-2", "csunicode", "iso-10646-ucs-2": return utf16(bytes, bigEndian: nil)
        case "utf-16be": return utf16(bytes, bigEndian: true)
        case "utf-16le": return utf16(bytes, bigEndian: false)
        case "utf-32", "ucs-4", "iso-10646-ucs-4": return utf32(bytes, bigEndian: nil)
        case "utf-32be": return utf32(bytes, bigEndian: true)
        case "utf-32le": return utf32(bytes, bigEndian: false)
        case "utf-7", "unicode-1-1-utf-7", "csunicode11utf7": return utf7(bytes)
        default: return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// UTF-16 with the byte order given, or (nil) taken from a byte order mark, big-endian
    /// without one (RFC 2781 §4.3). Unpaired surrogates and an odd last byte become U+FFFD.
    static func utf16(_ bytes: [UInt8], bigEndian: Bool?) -> String {
        var (big, start) = (bigEndian ?? true, 0)
        if bigEndian == nil, bytes.count >= 2 {
            if bytes[0] == 0xFE && bytes[1] == 0xFF { start = 2 }
            if bytes[0] == 0xFF && bytes[1] == 0xFE { (big, start) = (false, 2) }
        }
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count / 2)
        var i = start
        while i + 1 < bytes.count {
            let (high, low) = big ? (bytes[i], bytes[i + 1]) : (bytes[i + 1], bytes[i])
            units.append(UInt16(high) << 8 | UInt16(low))
            i += 2
        }
        return String(decoding: units, as: UTF16.self) + (i < bytes.count ? "\u{FFFD}" : "")
    }

    /// UTF-32, its byte order as for `utf16`; a value that is no scalar becomes U+FFFD.
    static func utf32(_ bytes: [UInt8], bigEndian: Bool?) -> String {
        var (big, start) = (bigEndian ?? true, 0)
        if bigEndian == nil, bytes.count >= 4 {
            if bytes[0..<4] == [0, 0, 0xFE, 0xFF] { start = 4 }
            if bytes[0..<4] == [0xFF, 0xFE, 0, 0] { (big, start) = (false, 4) }
        }
        var scalars = String.UnicodeScalarView()
        var i = start
        while i + 3 < bytes.count {
            let value = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(bytes[big ? i + $1 : i + 3 - $1]) }
            scalars.append(Unicode.Scalar(value) ?? "\u{FFFD}")
            i += 4
        }
        if i < bytes.count { scalars.append("\u{FFFD}") }
        return String(scalars)
    }

    /// RFC 2152 UTF-7: ASCII stands for itself; `+` opens base64 of UTF-16 big-endian, which
    /// ends at the first character outside the alphabet (a `-` there is absorbed); `+-` is `+`.
    /// Bytes above 0x7F, never valid in UTF-7, become U+FFFD.
    static func utf7(_ bytes: [UInt8]) -> String {
        var units: [UInt16] = []
        units.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            i += 1
            guard b == UInt8(ascii: "+") else {
                units.append(b < 0x80 ? UInt16(b) : 0xFFFD)
                continue
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") {
                units.append(UInt16(UInt8(ascii: "+")))
                i += 1
                continue
            }
            var bits: UInt32 = 0
            var count = 0
            while i < bytes.count, let value = base64Value(bytes[i]) {
                bits = bits << 6 | value
                count += 6
                if count >= 16 {
                    count -= 16
                    units.append(UInt16(truncatingIfNeeded: bits >> count))
                    bits &= (1 << count) - 1
                }
                i += 1
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
        }
        return String(decoding: units, as: UTF16.self)
    }

    private static func base64Value(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): UInt32(b - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): UInt32(b - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): 62
        case UInt8(ascii: "/"): 63
        default: nil
        }
    }

    /// Charsets whose bytes 0x00–0x7F are ASCII and whose other bytes are single characters
    /// with no "@" or address look-alike among them.
    static func isSingleByte(_ charset: String) -> Bool {
        for prefix in ["iso-8859-", "windows-125", "cp125", "koi8-"] where charset.hasPrefix(prefix) {
            return charset.dropFirst(prefix.count).allSatisfy { $0.isASCII && ($0.isNumber || $0.isLetter) }
        }
        return false
    }
}
