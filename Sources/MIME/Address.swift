/// RFC 5322 §3.4 addresses: extracts the addr-specs of an address-list
/// ("Alice <alice@example.com>, bob@example.org, group: c@d;").
public enum Address {
    public static func parseList(_ value: String) -> [String] {
        var result: [String] = []
        var current: [Character] = []
        var angle: [Character]? = nil
        var inQuotes = false
        var commentDepth = 0
        var escaped = false

        func finish() {
            let candidate = String(angle ?? current).trimmingCharacters(in: " \t")
            if let address = normalise(candidate) { result.append(address) }
            current = []
            angle = nil
        }

        for c in value {
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
                if angle != nil { angle!.append(c) }
                continue
            }
            switch c {
            case "\"": inQuotes = true
            case "(": commentDepth = 1
            case "<": angle = []
            case ">": if let a = angle { current = a; angle = nil; current.append("\u{0}") }
            case ",", ";": finish()
            case ":": current = []  // a group's display name
            default:
                if angle != nil { angle!.append(c) } else { current.append(c) }
            }
        }
        finish()
        return result
    }

    /// The first address of a field value, or nil.
    public static func first(_ value: String?) -> String? { value.flatMap { parseList($0).first } }

    private static func normalise(_ raw: String) -> String? {
        let text = raw.split(separator: "\u{0}").first.map(String.init) ?? raw
        let trimmed = text.filter { $0 != " " && $0 != "\t" }
        guard let at = trimmed.lastIndex(of: "@"), at != trimmed.startIndex, trimmed.index(after: at) != trimmed.endIndex
        else { return nil }
        // A fully qualified domain's trailing dot ("example.com.") names the same domain.
        var address = trimmed
        while address.hasSuffix("."), address.index(before: address.endIndex) > address.index(after: at) {
            address.removeLast()
        }
        return address
    }

    /// The domain of an address, lower-cased.
    public static func domain(_ address: String) -> String? {
        address.lastIndex(of: "@").map { address[address.index(after: $0)...].lowercased() }
    }
}
