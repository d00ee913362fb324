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
        var bare = ""
        var angle: String? = nil
        var angleClosed = false
        var inQuotes = false
        var commentDepth = 0
        var escaped = false
        for c in value {
            if escaped {
                escaped = false
                if angle != nil && !angleClosed { angle!.append(c) } else { display.append(c) }
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
                continue
            }
            if inQuotes {
                if c == "\"" { inQuotes = false }
                if angle != nil && !angleClosed { angle!.append(c) } else if c != "\"" { display.append(c) }
                continue
            }
            switch c {
            case "\"":
                inQuotes = true
                if angle != nil && !angleClosed { angle!.append(c) }
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
                if angle == nil { bare.append(" ") }
            default:
                if angle != nil && !angleClosed {
                    angle!.append(c)
                } else if angleClosed {
                    return .failure(.notAMailbox)
                } else {
                    bare.append(c)
                }
            }
        }
        guard !inQuotes, commentDepth == 0, angle == nil || angleClosed else { return .failure(.notAMailbox) }
        let address: String
        if let angle {
            if angle.hasPrefix("@") { return .failure(.route) }
            address = angle.trimmingCharacters(in: " \t")
            display = bare + " " + display
        } else {
            address = bare.trimmingCharacters(in: " \t")
        }
        guard isAddrSpec(address) else { return .failure(.notAMailbox) }
        let shown = EncodedWord.decode(display)
        if let other = addresses(in: shown).first(where: { !same($0, address) }) {
            return .failure(.displayNameAddress(other))
        }
        return .success(Mailbox(address: address, displayText: shown.trimmingCharacters(in: " \t")))
    }

    private static func isAddrSpec(_ text: String) -> Bool {
        guard let at = text.lastIndex(of: "@"), at != text.startIndex, text.index(after: at) != text.endIndex else {
            return false
        }
        return !text.contains { $0 == " " || $0 == "\t" || $0 == "<" || $0 == ">" }
    }

    /// Address-like words of displayed text: anything around an "@" (or a full-width
    /// or small "@", which a reader takes for one).
    static func addresses(in text: String) -> [String] {
        let ats: Set<Character> = ["@", "\u{FF20}", "\u{FE6B}"]
        let separators: Set<Character> = [
            " ", "\t", "\r", "\n", "\"", "'", "<", ">", "(", ")", ",", ";", ":", "[", "]",
        ]
        return text.split(whereSeparator: { separators.contains($0) })
            .filter { $0.contains(where: { ats.contains($0) }) }
            .map { String($0.map { ats.contains($0) ? "@" : $0 }) }
    }

    private static func same(_ a: String, _ b: String) -> Bool {
        func normal(_ s: String) -> String {
            var t = s.lowercased()
            while t.hasSuffix(".") { t.removeLast() }
            return t
        }
        return normal(a) == normal(b)
    }
}
