import MIME

/// Why decrypted content is not the well-formed MIME a mailer writes. CBC
/// ciphertext can be changed without the key, but every changed block turns the
/// block before it into 16 random bytes (EFAIL's CBC gadgets, a chosen IV, a
/// flipped bit): a header line that is no field, invalid UTF-8 in a text part,
/// control characters. Content from unauthenticated ciphertext with such marks
/// is treated as tampered with.
public enum MalformedContent: Sendable, Equatable, CustomStringConvertible {
    /// The header section does not parse (a line that is no field, a NUL byte, ...).
    case header
    /// A header field holds control characters or bytes that are not UTF-8.
    case headerBytes(field: String)
    case contentType(String)
    case transferEncoding(String)
    case multipart
    /// A text part whose bytes are not text in its charset.
    case text(charset: String)

    /// The reason recorded for every kind (the details are in `description`).
    public static let reason = "decrypted content is malformed: possible ciphertext tampering"

    public var description: String {
        switch self {
        case .header: "the header does not parse"
        case .headerBytes(let field): "the \(field) field holds control characters or invalid UTF-8"
        case .contentType(let value): "unparseable Content-Type \"\(value.prefix(60))\""
        case .transferEncoding(let value): "Content-Transfer-Encoding \"\(value.prefix(30))\" does not decode"
        case .multipart: "a multipart body does not parse"
        case .text(let charset): "a text part is not valid \(charset)"
        }
    }

    /// The first mark of tampering in `plaintext`, nil when it looks like a mailer wrote it.
    /// Bare text without a header (RFC 4134 §5.3) is checked as US-ASCII text. Content that is
    /// itself signed is left to its signature, which covers it.
    public static func find(in plaintext: [UInt8]) -> MalformedContent? {
        if plaintext.isEmpty { return nil }
        let entity: Entity
        do {
            entity = try Entity.parse(plaintext, allowEmptyHeader: true)
        } catch {
            return startsWithField(plaintext) ? .header : checkText(plaintext, charset: "us-ascii")
        }
        if (try? SMIMEForm.classify(entity))?.isSigned == true { return nil }
        return check(entity, depth: 0)
    }

    static func check(_ entity: Entity, depth: Int) -> MalformedContent? {
        guard depth < MIMELimits.standard.maxDepth else { return nil }
        for field in entity.fields where !isFieldText(field.raw) { return .headerBytes(field: field.name) }
        if let value = entity.field("Content-Type"), ContentType(parsing: value) == nil { return .contentType(value) }
        let type = entity.contentType
        if type.isMultipart {
            guard let boundary = type["boundary"], let multipart = try? Multipart.parse(entity.body, boundary: boundary)
            else { return .multipart }
            for part in multipart.parts {
                if part.isEmpty { continue }
                guard let parsed = try? Entity.parse(part, allowEmptyHeader: true) else { return .header }
                if let problem = check(parsed, depth: depth + 1) { return problem }
            }
            return nil
        }
        if type.mediaType == "message/rfc822" {
            guard let inner = try? Entity.parse(entity.body) else { return .header }
            return check(inner, depth: depth + 1)
        }
        guard type.type == "text" else { return nil }
        guard let decoded = try? entity.decodedBody() else { return .transferEncoding(entity.transferEncoding) }
        return checkText(decoded, charset: (type["charset"] ?? "us-ascii").lowercased())
    }

    /// Text in `charset` has no C0 controls but tab, line ends and form feed (ESC only in
    /// ISO-2022), and no DEL; in UTF-8 or US-ASCII (which sloppy mailers use for UTF-8) it must
    /// be valid UTF-8. UTF-16 and UTF-32 are not judged.
    static func checkText(_ text: [UInt8], charset: String) -> MalformedContent? {
        if charset.hasPrefix("utf-16") || charset.hasPrefix("utf-32") || charset.hasPrefix("ucs-") { return nil }
        let allowsEscape = charset.hasPrefix("iso-2022")
        for byte in text where (byte < 32 && !allowed.contains(byte) && !(allowsEscape && byte == 27)) || byte == 127 {
            return .text(charset: charset)
        }
        if ["utf-8", "utf8", "us-ascii", "ascii"].contains(charset), !isUTF8(text) { return .text(charset: charset) }
        return nil
    }

    static let allowed: Set<UInt8> = [9, 10, 12, 13]

    static func isFieldText(_ raw: [UInt8]) -> Bool {
        raw.allSatisfy { $0 >= 32 && $0 != 127 || $0 == 9 || $0 == 10 || $0 == 13 } && isUTF8(raw)
    }

    static func isUTF8(_ bytes: [UInt8]) -> Bool {
        if bytes.allSatisfy({ $0 < 128 }) { return true }
        return Array(String(decoding: bytes, as: UTF8.self).utf8) == bytes
    }

    /// True when the first line begins like a header field ("Name:").
    static func startsWithField(_ bytes: [UInt8]) -> Bool {
        guard let colon = bytes.prefix(200).firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
        return bytes[..<colon].allSatisfy { $0 > 32 && $0 < 127 }
    }
}
