import MIME

/// Authentication-Results fields (RFC 8601) and the authserv-id that says whose
/// results they are. A receiver trusts only the fields its own border added,
/// so fields that claim our authserv-id on incoming mail are forgeries and are
/// removed before anything else is done (RFC 8601 §5).
public enum AuthenticationResults {
    public static let fieldName = "Authentication-Results"

    /// The authserv-id of an Authentication-Results field (RFC 8601 §2.2: the first
    /// `value` after optional CFWS, a token or a quoted-string), nil when there is none.
    public static func authservID(of field: HeaderField) -> String? {
        guard field.hasName(fieldName) else { return nil }
        var scanner = Array(field.value.utf8)[...]
        skipCFWS(&scanner)
        guard let first = scanner.first else { return nil }
        var id: [UInt8] = []
        if first == UInt8(ascii: "\"") {
            scanner = scanner.dropFirst()
            while let byte = scanner.popFirst(), byte != UInt8(ascii: "\"") {
                if byte == UInt8(ascii: "\\"), let escaped = scanner.popFirst() {
                    id.append(escaped)
                } else {
                    id.append(byte)
                }
            }
        } else {
            while let byte = scanner.first, isTokenByte(byte) {
                id.append(byte)
                scanner = scanner.dropFirst()
            }
        }
        return id.isEmpty ? nil : String(decoding: id, as: UTF8.self)
    }

    /// True when `field` is an Authentication-Results field carrying `authservID`
    /// (ASCII case-insensitive, as domain names compare; a trailing dot is ignored).
    public static func isOurs(_ field: HeaderField, authservID ours: String) -> Bool {
        guard let id = authservID(of: field) else { return false }
        return normalized(id) == normalized(ours)
    }

    /// `message` without the Authentication-Results fields that carry `authservID`,
    /// wherever they stand in the header; how many were removed, and how many fields
    /// had stray line breaks cleaned. Stray CRs and
    /// NULs in the header's fields are made spaces first, so a field hidden behind a
    /// lone CR (`Subject: x<CR>Authentication-Results: ours; smime=pass`) is no field
    /// for any reader.
    public static func removingOurs(from message: Entity, authservID: String)
        -> (message: Entity, removed: Int, cleaned: Int)
    {
        var (copy, cleaned) = message.withoutStrayLineBreaks()
        let count = copy.fields.count
        copy.fields.removeAll { isOurs($0, authservID: authservID) }
        return (copy, count - copy.fields.count, cleaned)
    }

    /// The same for bytes that are no parseable message (they go to `failed/` as
    /// received, and must not carry a forged result there either): in the header
    /// section — up to the first empty line — stray CRs and NULs become spaces, and
    /// every field named Authentication-Results (white space before its colon
    /// allowed, as obsolete syntax does) that carries `authservID` is cut out with
    /// its continuation lines. Everything else is left byte for byte.
    public static func removingOurs(fromRaw bytes: [UInt8], authservID: String) -> (bytes: [UInt8], removed: Int) {
        var header: [UInt8] = []
        var index = 0
        while index < bytes.count {  // the header section, line by line
            let end = bytes[index...].firstIndex(of: 10).map { $0 + 1 } ?? bytes.count
            let line = bytes[index..<end]
            index = end
            header += line
            if line.first == 10 || line.starts(with: [13, 10]) { break }
        }
        for i in header.indices
        where header[i] == 0 || (header[i] == 13 && (i + 1 == header.count || header[i + 1] != 10)) {
            header[i] = 32
        }
        var out: [UInt8] = []
        var removed = 0
        var start = 0
        while start < header.count {  // one field: a line and its continuation lines
            var end = header[start...].firstIndex(of: 10).map { $0 + 1 } ?? header.count
            while end < header.count, header[end] == 32 || header[end] == 9 {
                end = header[end...].firstIndex(of: 10).map { $0 + 1 } ?? header.count
            }
            let field = header[start..<end]
            start = end
            if let colon = field.firstIndex(of: UInt8(ascii: ":")),
                String(decoding: field[..<colon], as: UTF8.self).trimmingWhitespace().lowercased()
                    == fieldName.lowercased(),
                let parsed = try? Entity.parse(Array("\(fieldName):".utf8) + field[(colon + 1)...] + [10, 10]),
                let candidate = parsed.fields.first, isOurs(candidate, authservID: authservID)
            {
                removed += 1
                continue
            }
            out += field
        }
        return (out + bytes[index...], removed)
    }

    static func normalized(_ id: String) -> String {
        var lower = id.lowercased()
        while lower.hasSuffix(".") { lower.removeLast() }
        return lower
    }

    /// RFC 2045 token: any printable ASCII except space and tspecials.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        byte > 32 && byte < 127 && !Array("()<>@,;:\\\"/[]?=".utf8).contains(byte)
    }

    /// Skips white space and (nested) comments with quoted-pairs (RFC 5322 §3.2.2).
    static func skipCFWS(_ scanner: inout ArraySlice<UInt8>) {
        var depth = 0
        while let byte = scanner.first {
            if depth > 0 {
                scanner = scanner.dropFirst()
                switch byte {
                case UInt8(ascii: "\\"): scanner = scanner.dropFirst()
                case UInt8(ascii: "("): depth += 1
                case UInt8(ascii: ")"): depth -= 1
                default: break
                }
            } else if byte == UInt8(ascii: "(") {
                depth = 1
                scanner = scanner.dropFirst()
            } else if byte == 32 || byte == 9 || byte == 13 || byte == 10 {
                scanner = scanner.dropFirst()
            } else {
                return
            }
        }
    }
}

extension String {
    /// Without leading and trailing spaces and tabs.
    fileprivate func trimmingWhitespace() -> String {
        String(drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
