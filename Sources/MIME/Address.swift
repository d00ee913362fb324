/// RFC 5322 §3.4 addresses: extracts the addr-specs of an address-list
/// ("Alice <alice@example.com>, bob@example.org, group: c@d;").
public enum Address {
    /// Works on Unicode scalars, not Characters: the delimiters are ASCII, and this runs for
    /// every address field of every message (grapheme breaking and Foundation's trimming made
    /// it the costliest step of reading an envelope).
    public static func parseList(_ value: String) -> [String] {
        var result: [String] = []
        var current: [Unicode.Scalar] = []
        var angle: [Unicode.Scalar]? = nil
        var inQuotes = false
        var commentDepth = 0
        var escaped = false

        func finish() {
            if let address = normalise(angle ?? withoutPhrases(current)) { result.append(address) }
            current = []
            angle = nil
        }

        for c in value.unicodeScalars {
            if escaped {
                escaped = false
                if angle != nil { angle!.append(c) } else { current.append(c) }
                continue
            }
            if c == "\\" { escaped = true; continue }
            if commentDepth > 0 {
                if c == "(" { commentDepth += 1 }
                if c == ")" { commentDepth -= 1 }
                continue
            }
            if inQuotes {
                if c == "\"" { inQuotes = false }
                if angle != nil { angle!.append(c) } else { current.append(c) }
                continue
            }
            switch c {
            case "\"":
                // Kept: a quoted local part ("bob"@example.com) is part of the address.
                inQuotes = true
                if angle != nil { angle!.append(c) } else { current.append(c) }
            case "(": commentDepth = 1
            case "<": angle = []
            case ">": if let a = angle { current = a; angle = nil; current.append("\u{0}") }
            case ",", ";": finish()
            case ":":
                // In angle brackets, the end of an obsolete source route (<@relay:bob@example.com>, RFC 5322
                // §4.4); outside them, the end of a group's display name.
                if angle != nil { angle = [] } else { current = [] }
            default:
                if angle != nil { angle!.append(c) } else { current.append(c) }
            }
        }
        finish()
        return result
    }

    /// The first address of a field value, or nil.
    public static func first(_ value: String?) -> String? { value.flatMap { parseList($0).first } }

    /// `text` without quoted phrases: a quoted string counts only as a local part, right before "@".
    private static func withoutPhrases(_ text: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard text.contains("\"") else { return text }
        var out: [Unicode.Scalar] = []
        var index = 0
        while index < text.count {
            guard text[index] == "\"", let close = text[(index + 1)...].firstIndex(of: "\"") else {
                out.append(text[index])
                index += 1
                continue
            }
            let next = text[(close + 1)...].first { $0 != " " && $0 != "\t" }
            if next == "@" { out += text[index...close] }
            index = close + 1
        }
        return out
    }

    private static let atext = Set(
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~".unicodeScalars)

    /// `"bob"@example.com` is `bob@example.com` (RFC 5321 §4.1.2): a quoted local part that is
    /// a plain dot-atom loses its quotes, so policies and certificates see one spelling.
    private static func unquotingLocalPart(_ address: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard address.first == "\"", let at = address.lastIndex(of: "@"), at > 1, address[at - 1] == "\"" else {
            return address
        }
        let inner = address[1..<(at - 1)]
        let isDotAtom =
            !inner.isEmpty && inner.first != "." && inner.last != "."
            && !zip(inner, inner.dropFirst()).contains { $0 == "." && $1 == "." }
            && inner.allSatisfy { $0 == "." || atext.contains($0) }
        return isDotAtom ? Array(inner) + address[at...] : address
    }

    private static func normalise(_ raw: [Unicode.Scalar]) -> String? {
        let text = raw.split(separator: "\u{0}").first.map(Array.init) ?? raw
        var quoted = false
        var address = unquotingLocalPart(
            text.filter { c in
                if c == "\"" { quoted.toggle() }
                return quoted || (c != " " && c != "\t")  // white space matters only inside quotes
            })
        guard let at = address.lastIndex(of: "@"), at != 0, at + 1 != address.count else { return nil }
        // A fully qualified domain's trailing dot ("example.com.") names the same domain.
        while address.last == ".", address.count - 1 > at + 1 { address.removeLast() }
        return String(String.UnicodeScalarView(address))
    }

    /// The domain of an address, lower-cased.
    public static func domain(_ address: String) -> String? {
        address.lastIndex(of: "@").map { address[address.index(after: $0)...].lowercased() }
    }
}
