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
                // Kept as a quoted-pair: `"a\"@evil.test,\"b"@example.org` is one address whose local
                // part holds quotes and a comma, not an address list a later reader could split.
                escaped = false
                if commentDepth == 0 {
                    if angle != nil { angle! += ["\\", c] } else { current += ["\\", c] }
                }
                continue
            }
            // A quoted-pair exists only in quoted strings and comments (RFC 5322 §3.2.4): elsewhere a
            // backslash stays, and makes the address invalid (`evil@x.test\>@victim.example` is no address).
            if c == "\\" && (inQuotes || commentDepth > 0) { escaped = true; continue }
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
            guard text[index] == "\"", let close = closingQuote(text, after: index) else {
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

    /// The quote that ends the quoted string opened at `open` (a `\"` inside does not).
    private static func closingQuote(_ text: [Unicode.Scalar], after open: Int) -> Int? {
        var index = open + 1
        while index < text.count {
            if text[index] == "\\" {
                index += 2
                continue
            }
            if text[index] == "\"" { return index }
            index += 1
        }
        return nil
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
        var pair = false
        var address = unquotingLocalPart(
            text.filter { c in
                if pair {
                    pair = false
                    return true
                }
                if quoted && c == "\\" {
                    pair = true
                    return true
                }
                if c == "\"" { quoted.toggle() }
                return quoted || (c != " " && c != "\t")  // white space matters only inside quotes
            })
        guard let at = address.lastIndex(of: "@"), at != 0, at + 1 != address.count else { return nil }
        // A fully qualified domain's trailing dot ("example.com.") names the same domain.
        while address.last == ".", address.count - 1 > at + 1 { address.removeLast() }
        guard isAddrSpec(local: address[..<at], domain: address[(at + 1)...]) else { return nil }
        return String(String.UnicodeScalarView(address))
    }

    /// A whole quoted string: `"` ... `"`, every `"` and `\` inside as a quoted-pair.
    static func isQuotedString(_ local: ArraySlice<Unicode.Scalar>) -> Bool {
        guard local.count >= 2, local.first == "\"", local.last == "\"" else { return false }
        var pair = false
        for c in local.dropFirst().dropLast() {
            if pair {
                pair = false
            } else if c == "\\" {
                pair = true
            } else if c == "\"" {
                return false
            }
        }
        return !pair
    }

    /// An addr-spec's parts as RFC 5322 §3.4.1 (and RFC 6532, non-ASCII) allow them: a dot-atom or
    /// a quoted string, and a domain of letters, digits, hyphens and dots or a [literal]; never a
    /// control character, a bracket or a backslash outside quotes. What fails is not an address:
    /// it cannot steer a policy by a domain it does not have, nor reach an SMTP command.
    private static func isAddrSpec(local: ArraySlice<Unicode.Scalar>, domain: ArraySlice<Unicode.Scalar>) -> Bool {
        func isControl(_ c: Unicode.Scalar) -> Bool { c.value < 32 || (127...159).contains(c.value) }
        if local.contains(where: isControl) || domain.contains(where: isControl) { return false }
        let localOK =
            isQuotedString(local) || local.allSatisfy { $0.value > 127 || $0 == "." || atext.contains($0) }
        if domain.first == "[" {
            return localOK && domain.last == "]"
                && !domain.dropFirst().dropLast().contains { "[]\\".unicodeScalars.contains($0) }
        }
        return localOK
            && domain.allSatisfy {
                $0.value > 127 || $0 == "." || $0 == "-" || ("a"..."z").contains($0) || ("A"..."Z").contains($0)
                    || ("0"..."9").contains($0) || $0 == "_"
            }
    }

    /// The domain of an address, lower-cased.
    public static func domain(_ address: String) -> String? {
        address.lastIndex(of: "@").map { address[address.index(after: $0)...].lowercased() }
    }
}
