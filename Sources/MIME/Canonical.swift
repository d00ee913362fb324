/// Canonical form of a MIME entity for S/MIME (RFC 8551 §3.1): CRLF line
/// endings everywhere and, for detached signatures (§3.1.1–3.1.2), a 7-bit
/// transfer encoding for any part that would not survive a 7-bit relay, a
/// line-length limit, a trailing-white-space stripper or an mbox "From " escaper.
public enum Canonical {
    public struct Options: Sendable {
        /// Re-encode 8-bit, binary, long-line, trailing-white-space and "From " parts.
        public var sevenBitSafe: Bool
        public var limits: MIMELimits
        public init(sevenBitSafe: Bool, limits: MIMELimits = .standard) {
            self.sevenBitSafe = sevenBitSafe
            self.limits = limits
        }
    }

    /// The entity in canonical form, ready to be signed or encrypted.
    public static func prepare(_ entity: Entity, options: Options) throws -> Entity {
        try prepare(entity, options: options, depth: 0)
    }

    private static func prepare(_ entity: Entity, options: Options, depth: Int) throws -> Entity {
        if depth > options.limits.maxDepth {
            throw MIMEError("MIME nesting deeper than \(options.limits.maxDepth) levels")
        }
        var result = entity.converted(to: .crlf)
        let type = entity.contentType
        if type.isMultipart {
            guard let boundary = type["boundary"] else { throw MIMEError("\(type.mediaType) without a boundary parameter") }
            var multipart = try Multipart.parse(entity.body, boundary: boundary)
            if type.subtype == "signed" && options.sevenBitSafe {
                // An inner signature covers its first part byte for byte: never re-encode inside it.
                multipart.parts = multipart.parts.map { $0.toCRLF() }
            } else {
                multipart.parts = try multipart.parts.map { part in
                    let child = try Entity.parse(part, limits: options.limits, allowEmptyHeader: true)
                    return try prepare(child, options: options, depth: depth + 1).serialized()
                }
            }
            multipart.preamble = multipart.preamble?.toCRLF()
            multipart.epilogue = multipart.epilogue.toCRLF()
            result.body = multipart.serialized(.crlf)
            return result
        }
        if type.type == "message" && (type.subtype == "rfc822" || type.subtype == "global") {
            let inner = try Entity.parse(entity.body, limits: options.limits, allowEmptyHeader: true)
            result.body = try prepare(inner, options: options, depth: depth + 1).serialized()
            return result
        }
        let encoding = entity.transferEncoding
        guard options.sevenBitSafe, encoding != "base64", encoding != "quoted-printable",
            needsEncoding(entity.body, binary: encoding == "binary")
        else { return result }
        if type.type == "text" && encoding != "binary" {
            result.body = QuotedPrintable.encode(entity.body, ending: .crlf)
            result.setField("Content-Transfer-Encoding", "quoted-printable")
        } else {
            result.body = Base64.encode(entity.body, ending: .crlf)
            result.setField("Content-Transfer-Encoding", "base64")
        }
        return result
    }

    /// True when a 7bit/8bit/binary body would not travel unchanged through
    /// 7-bit SMTP and mbox delivery.
    static func needsEncoding(_ body: [UInt8], binary: Bool) -> Bool {
        if binary { return true }
        let from = ascii("From ")
        var lines = Lines(body)
        while let line = lines.next() {
            let content = body[line.start..<line.contentEnd]
            if content.count > 998 { return true }
            if content.starts(with: from) { return true }
            if let last = content.last, last == 32 || last == 9 { return true }
            for b in content where b >= 128 || b == 0 || b == 13 { return true }
        }
        return false
    }
}

/// The two halves of a message for S/MIME (RFC 8551 §3.1): the RFC 5322 fields
/// that stay outside (From, To, Subject, Date, Received, ...), and the MIME
/// entity (Content-* fields and body) that is signed or encrypted.
public struct MessageParts: Sendable {
    public var outer: [HeaderField]
    public var content: Entity

    public init(splitting message: Entity) {
        outer = message.fields.filter { !$0.isContentField }
        var fields = message.fields.filter(\.isContentField)
        if fields.isEmpty {
            // RFC 2045 §5.2 default, made explicit so the signed entity has a header.
            fields = [HeaderField(name: "Content-Type", value: "text/plain; charset=us-ascii")]
        }
        var content = message
        content.fields = fields
        if content.separator.isEmpty { content.separator = message.lineEnding.bytes }
        self.content = content
    }

    /// A message: the outer fields followed by `entityFields`, then `body`;
    /// MIME-Version: 1.0 is ensured. Line endings follow `ending`.
    public static func join(outer: [HeaderField], entityFields: [HeaderField], body: [UInt8], ending: LineEnding) -> Entity {
        var fields = outer
        if !fields.contains(where: { $0.hasName("MIME-Version") }) {
            fields.append(HeaderField(name: "MIME-Version", value: "1.0"))
        }
        fields += entityFields
        return Entity(fields: fields, body: body, lineEnding: ending)
    }

    /// Joins the outer fields with an unwrapped entity (after verify/decrypt),
    /// converting everything to `ending`.
    public static func join(outer: [HeaderField], content: Entity, ending: LineEnding) -> Entity {
        let converted = content.converted(to: ending)
        return join(outer: outer, entityFields: converted.fields, body: converted.body, ending: ending)
    }
}
