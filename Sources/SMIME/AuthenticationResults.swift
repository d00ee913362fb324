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
    /// wherever they stand in the header, and how many were removed.
    public static func removingOurs(from message: Entity, authservID: String) -> (message: Entity, removed: Int) {
        var copy = message
        copy.fields.removeAll { isOurs($0, authservID: authservID) }
        return (copy, message.fields.count - copy.fields.count)
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
