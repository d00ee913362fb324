import Foundation

/// Text in a MIME charset (RFC 2046 §4.1.2), decoded the way a mail client shows it, for
/// encoded-words (RFC 2047) and text parts alike, so that what the gateway checks is what
/// the reader sees. UTF-8, ISO-2022-JP and Shift_JIS (what Japanese mailers write) are
/// decoded; the ASCII-compatible single-byte charsets are read byte for byte as Latin-1,
/// which keeps every ASCII character (and so every "@") where the reader's client puts it.
public enum Charset {
    /// `bytes` as text, or nil for a charset not decoded here (UTF-7, UTF-16, EUC,
    /// unknown names) or bytes that do not decode in it. `charset` is matched ignoring case.
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

    /// Charsets whose bytes 0x00–0x7F are ASCII and whose other bytes are single characters
    /// with no "@" or address look-alike among them.
    static func isSingleByte(_ charset: String) -> Bool {
        for prefix in ["iso-8859-", "windows-125", "cp125", "koi8-"] where charset.hasPrefix(prefix) {
            return charset.dropFirst(prefix.count).allSatisfy { $0.isASCII && ($0.isNumber || $0.isLetter) }
        }
        return false
    }
}
