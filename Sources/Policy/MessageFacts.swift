import MIME

/// What the conditions of one run of filters read about one copy of a message
/// (SPEC F8, F14). The header is read afresh for each condition, since header
/// actions of earlier filters change it and later conditions must see that; the
/// body is walked at most once, and only when a condition asks about it, since
/// decoding every text part for each of twenty filters would cost a run more than
/// its cryptography. Not Sendable: one instance serves one evaluation on one thread.
public final class MessageFacts {
    /// One attachment: a part the sender marked as a file (RFC 2183 `attachment`, or a
    /// file name given in Content-Disposition or, as older mailers do, in Content-Type).
    struct Attachment {
        /// Every decoded file name a reader may show ([""] when the part has none).
        let filenames: [String]
        /// `type/subtype`, lower-cased.
        let mediaType: String
    }

    /// The leaves of the MIME tree, walked once: text for `body-contains`, files for `attachment-*`.
    struct Body {
        var texts: [String] = []
        var attachments: [Attachment] = []
    }

    /// The walked body of one message, shared by every run of filters over it — its message
    /// filters and each copy's content filters — since header actions never change the body.
    /// Not Sendable: one message is evaluated on one thread.
    public final class BodyCache {
        var walked: Result<Body, ConditionFailure>?
        public init() {}
    }

    private var fields: [HeaderField]
    private let entity: Entity
    private let context: FilterContext
    /// The body, once a condition asked for it (or why it cannot be searched).
    private let cache: BodyCache
    private var budget: MatchingBudget
    /// The decoded Subject and the decoded values of each field asked about (by lower-cased
    /// name), until a header action changes the header.
    private var decodedSubject: String?
    private var decodedFields: [String: [String]] = [:]

    /// `matchingBudget`: the processor time all regular expressions of this evaluation may
    /// take together (`FilterEvaluator.matchingBudget` unless a test wants less); `body`: the
    /// walked body of the same message from an earlier evaluation, if any.
    public init(
        message: Entity, context: FilterContext, matchingBudget: Duration = FilterEvaluator.matchingBudget,
        body: BodyCache = BodyCache()
    ) {
        self.fields = message.fields
        self.entity = message
        self.context = context
        self.cache = body
        self.budget = MatchingBudget(limit: matchingBudget)
    }

    /// Header actions (`insert-header`, `strip-header`) changed the message's header.
    /// The body facts stay as they were: header actions do not change the body, and even a
    /// stripped Content-Type leaves the parts a reader of the original message was sent.
    public func headersChanged(_ message: Entity) {
        fields = message.fields
        decodedSubject = nil
        decodedFields = [:]
    }

    /// Whether the condition holds. `and` and `or` run over their terms in a loop, so a
    /// chain of any length costs no stack; only `not` and parentheses recurse, and the parser
    /// bounds their nesting (`FilterParser.maxNesting`). Throws when it cannot be decided.
    public func holds(_ condition: Condition) throws(ConditionFailure) -> Bool {
        switch condition {
        case .constant(let value): return value
        case .subject(let test): return try holds(test, forOne: subject)
        case .header(let name, let test):
            let values = decoded(name)
            guard let test else { return !values.isEmpty }
            return try holds(test, for: values)
        case .bodyContains(let pattern): return try anyMatches(pattern, try body().texts)
        case .attachmentFilename(let test):
            return try holds(test, for: try body().attachments.lazy.flatMap(\.filenames))
        case .attachmentType(let test): return test.holds(for: try body().attachments.lazy.map(\.mediaType))
        case .mailFrom(let test): return try holds(test, forOne: context.mailFrom ?? "")
        case .rcptTo(let test): return try holds(test, for: context.recipients)
        case .bodySize(let comparison, let limit): return comparison.holds(context.size, limit)
        case .encrypted: return context.encrypted
        case .smimeGatewayMessage: return context.smimeMessage
        case .smimeGatewayVerified: return context.smimeVerified
        case .smimeGatewayAuthenticated: return context.smimeAuthenticated
        case .not(let inner): return try !holds(inner)
        case .and(let terms):
            for term in terms where try !holds(term) { return false }
            return true
        case .or(let terms):
            for term in terms where try holds(term) { return true }
            return false
        }
    }

    /// `==`: some value matches; `!=`: none does (so `!=` holds when there is no value at all).
    private func holds(_ test: TextTest, for values: some Sequence<String>) throws(ConditionFailure) -> Bool {
        try anyMatches(test.pattern, values) != test.negated
    }

    /// `holds(_:for:)` for one value, without an array a call (this runs per condition per message).
    private func holds(_ test: TextTest, forOne value: String) throws(ConditionFailure) -> Bool {
        try budget.match(test.pattern, value) != test.negated
    }

    /// Whether the pattern matches one of the texts, every match paid from the budget.
    private func anyMatches(_ pattern: Pattern, _ texts: some Sequence<String>) throws(ConditionFailure) -> Bool {
        for text in texts where try budget.match(pattern, text) { return true }
        return false
    }

    /// The first Subject, RFC 2047-decoded as a client shows it ("" when there is none).
    private var subject: String {
        if let decodedSubject { return decodedSubject }
        let subject = fields.first { $0.hasName("Subject") }.map { EncodedWord.decode($0.value) } ?? ""
        decodedSubject = subject
        return subject
    }

    /// The decoded, unfolded value of every instance of the field `name`.
    private func decoded(_ name: String) -> [String] {
        let key = name.lowercased()
        if let values = decodedFields[key] { return values }
        let values = fields.filter { $0.hasName(name) }.map { EncodedWord.decode($0.value) }
        decodedFields[key] = values
        return values
    }

    // MARK: The body

    private func body() throws(ConditionFailure) -> Body {
        let body = cache.walked ?? Self.walk(entity)
        cache.walked = body
        return try body.get()
    }

    private static func walk(_ message: Entity) -> Result<Body, ConditionFailure> {
        var body = Body()
        do {
            try collect(message, into: &body, depth: 0, inDigest: false)
            return .success(body)
        } catch {
            return .failure(error)
        }
    }

    /// Visits every leaf below `entity`: multiparts are split, attached messages opened.
    /// Nothing a reader may see is passed over: what does not parse as MIME is searched as
    /// the bytes it is, an unknown transfer encoding as the raw body, broken base64 as far as
    /// it decodes, text in any charset as `Charset.scannableText` reads it. Only nesting
    /// deeper than `MIMELimits.maxDepth` is not read, and that throws: the filter cannot decide.
    private static func collect(_ entity: Entity, into body: inout Body, depth: Int, inDigest: Bool)
        throws(ConditionFailure)
    {
        let limit = MIMELimits.standard.maxDepth
        guard depth <= limit else { throw .nestedTooDeep(limit: limit) }
        // RFC 2046 §5.1.5: in a multipart/digest, a part without a Content-Type is a message.
        let type =
            inDigest && entity.field("Content-Type") == nil
            ? ContentType(type: "message", subtype: "rfc822") : entity.contentType
        if type.isMultipart {
            guard let boundary = type["boundary"], let multipart = try? Multipart.parse(entity.body, boundary: boundary)
            else { return body.texts.append(String(decoding: entity.body, as: UTF8.self)) }
            for part in multipart.parts where !part.isEmpty {
                guard let child = try? Entity.parse(part, allowEmptyHeader: true) else {
                    body.texts.append(String(decoding: part, as: UTF8.self))
                    continue
                }
                try collect(child, into: &body, depth: depth + 1, inDigest: type.subtype == "digest")
            }
            return
        }
        // A forwarded message is itself an attachment (`attachment-type == "message/*"`) and
        // is opened too, so its text and its own attachments count as the reader sees them.
        if let attachment = attachment(entity, type) { body.attachments.append(attachment) }
        if type.type == "message" && (type.subtype == "rfc822" || type.subtype == "global") {
            let bytes = decodedBody(entity)
            guard let inner = try? Entity.parse(bytes) else {
                return body.texts.append(String(decoding: bytes, as: UTF8.self))
            }
            try collect(inner, into: &body, depth: depth + 1, inDigest: false)
        } else if type.type == "text" {
            body.texts.append(Charset.scannableText(decodedBody(entity), charset: type["charset"] ?? "us-ascii"))
        }
    }

    /// The body without its transfer encoding, as a forgiving reader decodes it: base64
    /// skipping what is not base64, and an encoding nobody knows read as no encoding.
    private static func decodedBody(_ entity: Entity) -> [UInt8] {
        // The first word: "base64 (by a mailer)" is base64.
        switch entity.transferEncoding.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "(" }).first {
        case "base64": return Base64.decodeLeniently(entity.body)
        case "quoted-printable": return QuotedPrintable.decode(entity.body)
        default: return entity.body
        }
    }

    /// The part as an attachment, or nil when it is inline content without a file name.
    /// Readers differ in which name they show when a part has several — the first or last
    /// Content-Disposition, the first or last `filename`, RFC 2231 `filename*` or the plain
    /// one beside it, Content-Type's `name` — so every one of them is a name of the file.
    private static func attachment(_ entity: Entity, _ type: ContentType) -> Attachment? {
        // Most parts are inline text with neither a disposition nor a name: no parameters to parse again.
        let dispositions = entity.fields(named: "Content-Disposition")
        if dispositions.isEmpty
            && !entity.fields(named: "Content-Type").contains(where: { Self.mentionsName($0.raw) })
        {
            return nil
        }
        var names: [String] = []
        var isAttachment = false
        // Content-Disposition has Content-Type's parameter syntax (RFC 2183 §2) but no
        // subtype: read behind a dummy type, its disposition is the subtype and RFC 2231
        // file names (`filename*0*=utf-8''...`) come joined and decoded; read as written
        // too, for the plain name an RFC 2231 value hides from RFC 2231 readers.
        for field in dispositions {
            guard let joined = ContentType(parsing: "x/" + field.value) else { continue }
            isAttachment = isAttachment || joined.subtype == "attachment"
            names += parameters("filename", of: joined)
            names += ContentType.parsingAsWritten("x/" + field.value).map { parameters("filename", of: $0) } ?? []
        }
        for field in entity.fields(named: "Content-Type") {
            guard let joined = ContentType(parsing: field.value) else { continue }
            names += parameters("name", of: joined)
            names += ContentType.parsingAsWritten(field.value).map { parameters("name", of: $0) } ?? []
        }
        guard isAttachment || !names.isEmpty else { return nil }
        // Many mailers put RFC 2047 encoded-words in file names, against RFC 2047 §5; clients show them decoded.
        var unique: [String] = []
        for name in names.map(EncodedWord.decode) where !unique.contains(name) { unique.append(name) }
        return Attachment(filenames: unique.isEmpty ? [""] : unique, mediaType: type.mediaType)
    }

    /// Whether the raw field holds "name" in any case (a `name` or `filename` parameter, maybe).
    private static func mentionsName(_ raw: [UInt8]) -> Bool {
        let word = Array("name".utf8)
        guard raw.count >= word.count else { return false }
        for start in 0...(raw.count - word.count)
        where (0..<word.count).allSatisfy({ raw[start + $0] | 0x20 == word[$0] }) {
            return true
        }
        return false
    }

    /// Every value of the parameter `name` (ignoring case), in order.
    private static func parameters(_ name: String, of type: ContentType) -> [String] {
        type.parameters.filter { $0.name.lowercased() == name }.map(\.value)
    }
}

extension TypeTest {
    /// `==`: some media type matches the glob; `!=`: none does.
    func holds(for mediaTypes: some Sequence<String>) -> Bool {
        mediaTypes.contains { matches($0) } != negated
    }

    /// A shell-style glob over a lower-cased `type/subtype`: `*` stands for any run of
    /// characters (so `*` alone matches every type), `?` for any one character.
    func matches(_ mediaType: String) -> Bool {
        Self.glob(Array(glob.utf8)[...], matches: Array(mediaType.lowercased().utf8)[...])
    }

    private static func glob(_ pattern: ArraySlice<UInt8>, matches text: ArraySlice<UInt8>) -> Bool {
        var p = pattern.startIndex
        var t = text.startIndex
        // Where the last `*` was, and the text position it is currently taken to reach.
        var star: (pattern: Int, text: Int)? = nil
        while t < text.endIndex {
            if p < pattern.endIndex && (pattern[p] == UInt8(ascii: "?") || pattern[p] == text[t]) {
                p += 1
                t += 1
            } else if p < pattern.endIndex && pattern[p] == UInt8(ascii: "*") {
                star = (p, t)
                p += 1
            } else if let last = star {
                star = (last.pattern, last.text + 1)
                p = last.pattern + 1
                t = last.text + 1
            } else {
                return false
            }
        }
        return pattern[p...].allSatisfy { $0 == UInt8(ascii: "*") }
    }
}
