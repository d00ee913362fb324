/// RFC 9788's Legacy Display Element: for a reader that can decrypt but knows nothing of header
/// protection, the fields it would otherwise not see (an obscured Subject) written at the top of each
/// main body part — `Subject: …` and a blank line in text/plain, a
/// `<div class="header-protection-legacy-display">` in text/html — which carries `hp-legacy-display="1"`
/// so that a reader who knows hides it again. Main body parts (RFC 9787 §7.1): the root when it is text,
/// the first part of a multipart, every part of a multipart/alternative; attachments never.
enum LegacyDisplay {
    static let htmlClass = "header-protection-legacy-display"

    static func add(_ fields: [HeaderField], to entity: Entity) -> Entity {
        let type = entity.contentType
        if type.isMultipart {
            guard let boundary = type["boundary"],
                var multipart = try? Multipart.parse(entity.body, boundary: boundary),
                !multipart.parts.isEmpty
            else { return entity }
            for index in type.subtype == "alternative" ? Array(multipart.parts.indices) : [0] {
                guard let part = try? Entity.parse(multipart.parts[index], allowEmptyHeader: true) else { continue }
                multipart.parts[index] = add(fields, to: part).serialized()
            }
            var copy = entity
            copy.body = multipart.serialized(entity.lineEnding)
            return copy
        }
        let disposition = entity.field("Content-Disposition")?.lowercased() ?? ""
        guard type.type == "text", type.subtype == "plain" || type.subtype == "html",
            !disposition.hasPrefix("attachment"), let body = try? entity.decodedBody()
        else { return entity }
        let unicode = (type["charset"] ?? "us-ascii").lowercased().filter { $0 != "-" } == "utf8"
        let lines = fields.map { field -> String in
            let decoded = EncodedWord.decode(field.value)
            return "\(field.name): " + (unicode || decoded.utf8.allSatisfy { $0 < 128 } ? decoded : field.value)
        }
        let newline = String(decoding: LineEnding.detect(body).bytes, as: UTF8.self)
        var text: [UInt8]
        if type.subtype == "plain" {
            text = Array((lines.joined(separator: newline) + newline + newline).utf8) + body
        } else {
            let element =
                "<div class=\"\(htmlClass)\">\(newline)<pre>"
                + lines.map(escaped).joined(separator: newline) + "</pre>\(newline)</div>\(newline)"
            text = body
            let at = bodyStart(body) ?? 0
            text.insert(contentsOf: Array(element.utf8), at: at)
        }
        var copy = entity
        switch entity.transferEncoding {
        case "base64": copy.body = Base64.encode(text, ending: entity.lineEnding)
        case "quoted-printable": copy.body = QuotedPrintable.encode(text, ending: entity.lineEnding)
        default: copy.body = text
        }
        copy.setField("Content-Type", (entity.field("Content-Type") ?? "text/plain") + "; hp-legacy-display=\"1\"")
        return copy
    }

    /// Just after the `<body …>` tag, where the element goes; nil when there is none.
    static func bodyStart(_ html: [UInt8]) -> Int? {
        let lower = html.map { $0 >= 65 && $0 <= 90 ? $0 + 32 : $0 }
        let tag = Array("<body".utf8)
        guard lower.count >= tag.count else { return nil }
        for start in 0...(lower.count - tag.count) where lower[start..<(start + tag.count)].elementsEqual(tag) {
            let next = start + tag.count
            guard next < lower.count, [62, 32, 9, 10, 13].contains(lower[next]) else { continue }
            return lower[next...].firstIndex(of: 62).map { $0 + 1 }
        }
        return nil
    }

    static func escaped(_ text: String) -> String {
        var out = ""
        for c in text {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
