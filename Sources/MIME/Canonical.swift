/// Canonical form of a MIME entity for S/MIME (RFC 8551 §3.1): CRLF line
/// endings everywhere and, for detached signatures (§3.1.1–3.1.2), a 7-bit
/// transfer encoding for any part that would not survive a 7-bit relay, a
/// line-length limit, a trailing-white-space stripper or an mbox "From " escaper.
public enum Canonical {
    public struct Options: Sendable {
        /// Re-encode 8-bit, binary, long-line, trailing-white-space and "From " parts.
        public var sevenBitSafe: Bool
        /// Take the entity as one leaf whatever its type: line endings made CRLF, the
        /// body neither parsed nor re-encoded. For a structure that cannot be walked
        /// (an `Irregularity`), which then only travels safely inside an opaque signature.
        public var asOneLeaf: Bool
        public var limits: MIMELimits
        public init(sevenBitSafe: Bool, asOneLeaf: Bool = false, limits: MIMELimits = .standard) {
            self.sevenBitSafe = sevenBitSafe
            self.asOneLeaf = asOneLeaf
            self.limits = limits
        }
    }

    /// The entity in canonical form, ready to be signed or encrypted. An entity
    /// that already is canonical comes back as it is (no copy of its body).
    /// A multipart structure that cannot be walked throws its `Irregularity`.
    public static func prepare(_ entity: Entity, options: Options) throws -> Entity {
        if options.asOneLeaf { return entity.isCRLF ? entity : entity.converted(to: .crlf) }
        return try prepare(entity, options: options, depth: 0).entity
    }

    private static func prepare(_ entity: Entity, options: Options, depth: Int) throws -> (entity: Entity, changed: Bool) {
        if depth > options.limits.maxDepth {
            throw MIMEError("MIME nesting deeper than \(options.limits.maxDepth) levels")
        }
        let isCRLF = entity.isCRLF
        var result = isCRLF ? entity : entity.converted(to: .crlf)
        let type = entity.contentType
        if type.isMultipart {
            guard let boundary = type["boundary"], !boundary.isEmpty else {
                throw Irregularity.missingBoundary(mediaType: type.mediaType)
            }
            var multipart = try Multipart.parse(result.body, boundary: boundary)
            var changed = !isCRLF
            if !(type.subtype == "signed" && options.sevenBitSafe) {
                // (An inner signature covers its first part byte for byte: never re-encode inside it.)
                multipart.parts = try multipart.parts.map { part in
                    if part.isEmpty { return part }
                    let child = try Entity.parsePart(part, limits: options.limits)
                    let prepared = try prepare(child, options: options, depth: depth + 1)
                    if !prepared.changed { return part }
                    changed = true
                    return prepared.entity.serialized()
                }
            }
            guard changed else { return (entity, false) }
            result.body = multipart.serialized(.crlf)
            return (result, true)
        }
        if type.type == "message" && (type.subtype == "rfc822" || type.subtype == "global") {
            let inner = try Entity.parsePart(result.body, limits: options.limits)
            let prepared = try prepare(inner, options: options, depth: depth + 1)
            guard prepared.changed || !isCRLF else { return (entity, false) }
            result.body = prepared.changed ? prepared.entity.serialized() : result.body
            return (result, true)
        }
        let encoding = entity.transferEncoding
        guard options.sevenBitSafe, encoding != "base64", encoding != "quoted-printable",
            needsEncoding(entity.body, binary: encoding == "binary")
        else { return (result, !isCRLF) }
        if type.type == "text" && encoding != "binary" {
            result.body = QuotedPrintable.encode(entity.body, ending: .crlf)
            result.setField("Content-Transfer-Encoding", "quoted-printable")
        } else {
            result.body = Base64.encode(entity.body, ending: .crlf)
            result.setField("Content-Transfer-Encoding", "base64")
        }
        return (result, true)
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
