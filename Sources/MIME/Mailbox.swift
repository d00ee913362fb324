/// One mailbox of an author field (RFC 5322 §3.4), parsed strictly: what a
/// signature is checked against must be what the reader's client displays.
public struct Mailbox: Equatable, Sendable {
    /// The addr-spec, as written.
    public let address: String
    /// The display name and comments, RFC 2047-decoded.
    public let displayText: String

    /// The single mailbox of the single field in `values` (the values of every From field).
    public static func author(_ values: [String]) -> Result<Mailbox, AuthorProblem> {
        guard let value = values.first else { return .failure(.missing) }
        guard values.count == 1 else { return .failure(.severalFields(values.count)) }
        return parse(value)
    }

    /// Exactly one mailbox: no list, no group, no route, and no address in the display
    /// name or comments other than the mailbox's own.
    public static func parse(_ value: String) -> Result<Mailbox, AuthorProblem> {
        var display = ""
        var comments = ""
        var bare = ""
        // Outside angle brackets and comments, as written (quotes kept): the addr-spec when there is no "<".
        var spec = ""
        var angle: String? = nil
        var angleClosed = false
        var inQuotes = false
        var commentDepth = 0
        var escaped = false
        for c in value {
            if escaped {
                escaped = false
                if angle != nil && !angleClosed { angle!.append(c) } else { display.append(c) }
                if commentDepth > 0 { comments.append(c) } else if angle == nil { spec += "\\" + String(c) }
                continue
            }
            if c == "\\" && (inQuotes || commentDepth > 0) {
                escaped = true
                continue
            }
            if commentDepth > 0 {
                if c == "(" { commentDepth += 1 }
                if c == ")" { commentDepth -= 1 }
                display.append(commentDepth > 0 ? c : " ")
                comments.append(commentDepth > 0 ? c : " ")
                continue
            }
            if inQuotes {
                if c == "\"" { inQuotes = false }
                if angle == nil { spec.append(c) }
                if angle != nil && !angleClosed { angle!.append(c) } else if c != "\"" { display.append(c) }
                continue
            }
            switch c {
            case "\"":
                inQuotes = true
                if angle != nil && !angleClosed { angle!.append(c) } else if angle == nil { spec.append(c) }
            case "(": commentDepth = 1
            case "<":
                if angle != nil { return .failure(.notAMailbox) }
                angle = ""
            case ">":
                guard angle != nil, !angleClosed else { return .failure(.notAMailbox) }
                angleClosed = true
            case ",": return .failure(.severalMailboxes(max(2, Address.parseList(value).count)))
            case ":", ";":
                return .failure(angle != nil && !angleClosed ? .route : .group)
            case " ", "\t", "\r", "\n":
                if angle == nil {
                    bare.append(" ")
                    spec.append(" ")
                }
            default:
                if angle != nil && !angleClosed {
                    angle!.append(c)
                } else if angleClosed {
                    return .failure(.notAMailbox)
                } else {
                    bare.append(c)
                    spec.append(c)
                }
            }
        }
        guard !inQuotes, commentDepth == 0, angle == nil || angleClosed else { return .failure(.notAMailbox) }
        let written: String
        if let angle {
            if angle.hasPrefix("@") { return .failure(.route) }
            written = angle.trimmingCharacters(in: " \t")
            display = bare + " " + display
        } else {
            written = spec.trimmingCharacters(in: " \t")
            display = comments
        }
        guard let address = unquoted(written), isAddrSpec(address) else { return .failure(.notAMailbox) }
        if let charset = EncodedWord.undecodableCharsets(in: display).first {
            return .failure(.undecodableDisplayName(charset))
        }
        let shown = EncodedWord.decode(display)
        if let other = addresses(in: shown).first(where: { !same($0, address) }) {
            return .failure(.displayNameAddress(other))
        }
        return .success(Mailbox(address: address, displayText: shown.trimmingCharacters(in: " \t")))
    }

    /// The addr-spec with a quoted local part that needs no quoting (`"alice"@example.com`)
    /// written as a dot-atom; nil when a quoted local part needs its quotes, since a reader's
    /// client may show it in ways that differ from the address a certificate names.
    private static func unquoted(_ text: String) -> String? {
        guard text.contains(where: { $0 == "\"" || $0 == "\\" }) else { return text }
        guard let at = text.lastIndex(of: "@"), text.first == "\"", text[..<at].count >= 2,
            text[text.index(before: at)] == "\""
        else { return nil }
        let atext = Set("!#$%&'*+-/=?^_`{|}~.")
        var local = ""
        var escaped = false
        for c in text[text.index(after: text.startIndex)..<text.index(before: at)] {
            if !escaped && c == "\\" {
                escaped = true
                continue
            }
            escaped = false
            local.append(c)
        }
        let dotAtom =
            !escaped && !local.isEmpty && !local.hasPrefix(".") && !local.hasSuffix(".") && !local.contains("..")
            && local.allSatisfy { !$0.isASCII || $0.isLetter || $0.isNumber || atext.contains($0) }
        let domain = text[text.index(after: at)...]
        guard dotAtom, !domain.contains(where: { $0 == "\"" || $0 == "\\" }) else { return nil }
        return local + "@" + domain
    }

    private static func isAddrSpec(_ text: String) -> Bool {
        guard let at = text.lastIndex(of: "@"), at != text.startIndex, text.index(after: at) != text.endIndex else {
            return false
        }
        return !text.contains { $0 == " " || $0 == "\t" || $0 == "<" || $0 == ">" }
    }

    /// Address-like words of displayed text: local@domain with a dot inside the domain, where
    /// a full-width or small "@" and a full-width or ideographic full stop count as "@" and ".",
    /// as a reader takes them, and white space around an "@" is ignored ("ceo @ example.org").
    /// An "@" that forms no such word ("Alice @ Home") is not an address.
    static func addresses(in text: String) -> [String] {
        // Most displayed text has no "@" of any kind: a scan of its scalars settles it (an "@" Character holds one).
        guard text.unicodeScalars.contains(where: { $0 == "@" || $0 == "\u{FF20}" || $0 == "\u{FE6B}" }) else {
            return []
        }
        let (ats, dots, spaces, separators) = (Self.ats, Self.dots, Self.spaces, Self.separators)
        var joined: [Character] = []
        for c in text.map({ ats.contains($0) ? "@" : dots.contains($0) ? "." : $0 }) {
            if c == "@" { while let last = joined.last, spaces.contains(last) { joined.removeLast() } }
            if spaces.contains(c), joined.last == "@" { continue }
            joined.append(c)
        }
        return joined.split(whereSeparator: { separators.contains($0) }).compactMap { word in
            guard let at = word.lastIndex(of: "@"), at != word.startIndex else { return nil }
            var domain = String(word[word.index(after: at)...])
            while domain.hasSuffix(".") { domain.removeLast() }
            guard let dot = domain.firstIndex(of: "."), dot != domain.startIndex else { return nil }
            return String(word[..<at]) + "@" + domain
        }
    }

    private static let ats: Set<Character> = ["@", "\u{FF20}", "\u{FE6B}"]
    private static let dots: Set<Character> = [".", "\u{FF0E}", "\u{3002}", "\u{FF61}", "\u{FE52}"]
    private static let spaces: Set<Character> = [" ", "\t", "\r", "\n", "\u{A0}", "\u{3000}"]
    private static let separators: Set<Character> = spaces.union([
        "\"", "'", "<", ">", "(", ")", ",", ";", ":", "[", "]",
    ])

    private static func same(_ a: String, _ b: String) -> Bool {
        func normal(_ s: String) -> String {
            var t = s.lowercased()
            while t.hasSuffix(".") { t.removeLast() }
            return t
        }
        return normal(a) == normal(b)
    }
}
