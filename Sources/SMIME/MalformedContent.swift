import MIME

/// Why decrypted content is not the well-formed MIME a mailer writes. CBC
/// ciphertext can be changed without the key, but every changed block turns the
/// block before it into 16 random bytes (EFAIL's CBC gadgets, a chosen IV, a
/// flipped bit): a header line that is no field, invalid UTF-8 in a text part,
/// control characters, a Content-Type or parameter given twice. Content from unauthenticated ciphertext with such marks
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
    /// A field (Content-Type, Content-Transfer-Encoding) or a Content-Type parameter given
    /// twice, which parsers resolve differently.
    case ambiguous(String)

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
        case .ambiguous(let name): "\(name.prefix(40)) is given twice"
        }
    }

    /// The first mark of tampering in `plaintext`, nil when it looks like a mailer wrote it.
    /// Bare text without a header (RFC 4134 §5.3) is checked as US-ASCII text. Content that is
    /// itself signed is left to its signature, which covers it.
    public static func find(in plaintext: [UInt8]) -> MalformedContent? {
        let (mark, signed) = marks(in: plaintext)
        return signed ? nil : mark
    }

    /// The first mark of tampering in `plaintext`, signed content included, and whether the content
    /// is signed (a signature that then fails no longer vouches for it).
    public static func marks(in plaintext: [UInt8]) -> (mark: MalformedContent?, signed: Bool) {
        if plaintext.isEmpty { return (nil, false) }
        let entity: Entity
        do {
            entity = try Entity.parse(plaintext, allowEmptyHeader: true)
        } catch {
            return (startsWithField(plaintext) ? .header : checkText(plaintext, charset: "us-ascii"), false)
        }
        return (check(entity, depth: 0), (try? SMIMEForm.classify(entity))?.isSigned == true)
    }

    /// A Content-Type or Content-Transfer-Encoding field, or a Content-Type parameter,
    /// given twice in `entity`'s own header: readers pick different ones, so what a
    /// signature was checked against need not be what a client shows.
    public static func ambiguity(in entity: Entity) -> MalformedContent? {
        for name in ["Content-Type", "Content-Transfer-Encoding"] where entity.fields(named: name).count > 1 {
            return .ambiguous(name)
        }
        return entity.field("Content-Type").flatMap(repeatedParameter(in:)).map { .ambiguous($0) }
    }

    static func check(_ entity: Entity, depth: Int, inDigest: Bool = false) -> MalformedContent? {
        guard depth < MIMELimits.standard.maxDepth else { return nil }
        for field in entity.fields where !isFieldText(field.raw) { return .headerBytes(field: field.name) }
        if let ambiguity = ambiguity(in: entity) { return ambiguity }
        if let value = entity.field("Content-Type"), ContentType(parsing: value) == nil { return .contentType(value) }
        let type = HTMLNeutraliser.contentType(of: entity, inDigest: inDigest)
        if type.isMultipart {
            guard let boundary = type["boundary"], let multipart = try? Multipart.parse(entity.body, boundary: boundary)
            else { return .multipart }
            for part in multipart.parts {
                if part.isEmpty { continue }
                guard let parsed = try? Entity.parse(part, allowEmptyHeader: true) else { return .header }
                let digest = type.mediaType == "multipart/digest"
                if let problem = check(parsed, depth: depth + 1, inDigest: digest) { return problem }
            }
            return nil
        }
        if type.mediaType == "message/rfc822" {
            guard let inner = try? Entity.parse(entity.body) else { return .header }
            return check(inner, depth: depth + 1)
        }
        // Markup outside text/ (SVG, XHTML) is checked too, but its charset may be declared
        // inside (`<?xml encoding=…?>`), so only a labelled one is held to it.
        let markup = HTMLNeutraliser.markupTypes.contains(type.mediaType)
        guard type.type == "text" || markup else { return nil }
        guard let decoded = try? entity.decodedBody() else { return .transferEncoding(entity.transferEncoding) }
        let charset = type["charset"] ?? (type.type == "text" ? "us-ascii" : "unlabelled")
        return checkText(decoded, charset: charset.lowercased(), markup: markup)
    }

    /// The name of a parameter that `value` (a Content-Type) gives twice, lower-cased: the
    /// same name, or a name both plain and in RFC 2231 form (`charset` and `charset*`).
    /// RFC 2231 sections (`name*0`, `name*1`) are one parameter.
    static func repeatedParameter(in value: String) -> String? {
        var seen: Set<String> = []
        var forms: [String: Set<String>] = [:]
        for name in parameterNames(in: Array(value.utf8)) {
            if !seen.insert(name).inserted { return name }
            let base = String(name.prefix { $0 != "*" })
            let section = name.dropFirst(base.count)
            let form = section.isEmpty ? "plain" : section == "*" ? "extended" : "sections"
            forms[base, default: []].insert(form)
            if forms[base, default: []].count > 1 { return base }
        }
        return nil
    }

    /// The lower-cased names before `=` after each `;` outside quoted strings and comments.
    static func parameterNames(in bytes: [UInt8]) -> [String] {
        var names: [String] = []
        var i = 0
        var depth = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 92 {
                i += 2
                continue
            }
            if depth > 0 {
                depth += byte == UInt8(ascii: "(") ? 1 : byte == UInt8(ascii: ")") ? -1 : 0
            } else if byte == UInt8(ascii: "(") {
                depth = 1
            } else if byte == 34 {
                i += 1
                while i < bytes.count, bytes[i] != 34 { i += bytes[i] == 92 ? 2 : 1 }
            } else if byte == UInt8(ascii: ";"), let equals = bytes[(i + 1)...].firstIndex(of: UInt8(ascii: "=")) {
                let name = bytes[(i + 1)..<equals].filter { $0 > 32 }.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
                if !name.isEmpty, !name.contains(UInt8(ascii: ";")) {
                    names.append(String(decoding: name, as: UTF8.self))
                }
            }
            i += 1
        }
        return names
    }

    /// Text in `charset` has no C0 controls but tab, line ends and form feed (ESC only in
    /// ISO-2022 text that is not markup: an escape sequence inside a name or URL hides it
    /// from the neutraliser's scan, and browsers drop it), and no DEL; in UTF-8 or US-ASCII
    /// (which sloppy mailers use for UTF-8) it must be valid UTF-8. UTF-16 and UTF-32 are not judged.
    static func checkText(_ text: [UInt8], charset: String, markup: Bool = false) -> MalformedContent? {
        if charset.hasPrefix("utf-16") || charset.hasPrefix("utf-32") || charset.hasPrefix("ucs-") { return nil }
        let allowsEscape = charset.hasPrefix("iso-2022") && !markup
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
