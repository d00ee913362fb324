/// RFC 2047 encoded-words ("=?utf-8?q?Alice_M=C3=BCller?="), decoded the way a mail
/// client shows them (`Charset.decode`), so that checks on display names see what the
/// reader sees. A charset `Charset` does not decode (UTF-7, UTF-16, EUC, unknown names),
/// or bytes that do not decode, could show the reader what a Latin-1 reading hides:
/// `undecodableCharsets` names them.
public enum EncodedWord {
    public static func decode(_ text: String) -> String { mayHoldWords(text) ? scan(text).text : text }

    /// Most field values hold no "=?" at all: found by one pass over the bytes, before the scan.
    private static func mayHoldWords(_ text: String) -> Bool {
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if previous == UInt8(ascii: "=") && byte == UInt8(ascii: "?") { return true }
            previous = byte
        }
        return false
    }

    /// The charsets of the encoded-words in `text` that are not decoded as a client shows them.
    public static func undecodableCharsets(in text: String) -> [String] {
        mayHoldWords(text) ? scan(text).undecodable : []
    }

    private static func scan(_ text: String) -> (text: String, undecodable: [String]) {
        var undecodable: [String] = []
        var result = ""
        var rest = Substring(text)
        var lastWasEncoded = false
        while let start = rest.firstRange(of: "=?") {
            let before = rest[..<start.lowerBound]
            guard let word = parse(rest[start.lowerBound...]) else {
                result += before + "=?"
                lastWasEncoded = false
                rest = rest[start.upperBound...]
                continue
            }
            // RFC 2047 §6.2: white space between adjacent encoded-words is not shown.
            let onlySpace = before.allSatisfy { (c: Character) -> Bool in
                c == " " || c == "\t" || c == "\r" || c == "\n"
            }
            if !(lastWasEncoded && onlySpace) {
                result += before
            }
            if let text = word.text {
                result += text
            } else {
                result += String(String.UnicodeScalarView(word.bytes.map { Unicode.Scalar($0) }))
                undecodable.append(word.charset)
            }
            lastWasEncoded = true
            rest = rest[word.end...]
        }
        return (result + rest, undecodable)
    }

    /// One encoded-word at the start of `text`: its decoded text and where it ends.
    private static func parse(_ text: Substring)
        -> (text: String?, bytes: [UInt8], end: Substring.Index, charset: String)?
    {
        let parts = text.dropFirst(2).split(separator: "?", maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[3].hasPrefix("="), !parts[0].isEmpty else { return nil }
        let charset = parts[0].split(separator: "*").first.map { $0.lowercased() } ?? ""
        let payload = Array(parts[2].utf8)
        let bytes: [UInt8]
        switch parts[1].lowercased() {
        case "b": bytes = (try? Base64.decode(payload)) ?? []
        case "q": bytes = QuotedPrintable.decode(payload.map { $0 == UInt8(ascii: "_") ? UInt8(ascii: " ") : $0 })
        default: return nil
        }
        return (Charset.decode(bytes, charset: charset), bytes, parts[3].index(after: parts[3].startIndex), charset)
    }
}
