/// RFC 2231 parameter values: `name*=charset'language'percent-encoded`, and
/// values split over sections `name*0`, `name*1*`, ... (plain or encoded, mixed).
/// Mailers use them for non-ASCII file names and long boundaries.
enum ExtendedParameters {
    /// The parameters with every RFC 2231 value joined and decoded under its
    /// plain name, in the place of its first section. An extended value wins
    /// over a plain one of the same name (the plain one is the fallback for
    /// readers that do not know RFC 2231). Malformed escapes are kept as written.
    static func decode(_ parameters: [(name: String, value: String)]) -> [(name: String, value: String)] {
        // On UTF-8 bytes: String.contains(String) is Foundation's, ~20k instructions a call (callgrind).
        guard parameters.contains(where: { $0.name.utf8.contains(UInt8(ascii: "*")) }) else { return parameters }
        var slots: [(name: String, value: String, extendedKey: String?)] = []
        var sections: [String: [Section]] = [:]
        for (name, value) in parameters {
            guard let section = Section(name: name, value: value) else {
                slots.append((name, value, nil))
                continue
            }
            let key = section.baseName.lowercased()
            if sections[key] == nil { slots.append((section.baseName, "", key)) }
            sections[key, default: []].append(section)
        }
        var out: [(name: String, value: String)] = []
        for slot in slots {
            if let key = slot.extendedKey {
                out.append((slot.name, joined(sections[key] ?? [])))
            } else if sections[slot.name.lowercased()] == nil {
                out.append((slot.name, slot.value))
            }
        }
        return out
    }

    /// One `name*N*=value` parameter.
    struct Section {
        let baseName: String
        let number: Int
        let encoded: Bool
        let value: String

        /// nil for a name without "*" or with a section that is not a number.
        init?(name: String, value: String) {
            guard let star = name.firstIndex(of: "*"), star > name.startIndex else { return nil }
            var rest = name[name.index(after: star)...]
            encoded = rest.isEmpty || rest.hasSuffix("*")
            if rest.hasSuffix("*") { rest = rest.dropLast() }
            if rest.isEmpty {
                number = 0
            } else {
                guard rest.count <= 3, rest.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(rest) else {
                    return nil
                }
                number = n
            }
            baseName = String(name[..<star])
            self.value = value
        }
    }

    /// The sections in order, joined: the charset of section 0 decodes the whole value.
    static func joined(_ sections: [Section]) -> String {
        var seen = Set<Int>()
        let ordered = sections.sorted { $0.number < $1.number }.filter { seen.insert($0.number).inserted }
        var charset = ""
        var bytes: [UInt8] = []
        for section in ordered {
            guard section.encoded else {
                bytes += Array(section.value.utf8)
                continue
            }
            var value = Substring(section.value)
            if section.number == 0, let first = value.firstIndex(of: "'"),
                let second = value[value.index(after: first)...].firstIndex(of: "'")
            {
                charset = value[..<first].lowercased()
                value = value[value.index(after: second)...]
            }
            bytes += percentDecoded(Array(value.utf8))
        }
        return text(bytes, charset: charset)
    }

    static func percentDecoded(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "%"), i + 2 < bytes.count, let high = hexValue(bytes[i + 1]),
                let low = hexValue(bytes[i + 2])
            {
                out.append(high << 4 | low)
                i += 3
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        return out
    }

    static func hexValue(_ b: UInt8) -> UInt8? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): b - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): b - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): b - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    /// UTF-8 (and its subset US-ASCII) or ISO-8859-1; any other charset is read
    /// as UTF-8 when that is valid, else byte for byte as ISO-8859-1.
    static func text(_ bytes: [UInt8], charset: String) -> String {
        let latin1 = ["iso-8859-1", "iso_8859-1", "latin1", "l1", "windows-1252", "cp1252"].contains(charset)
        if !latin1, let utf8 = String(validating: bytes, as: UTF8.self) { return utf8 }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}
