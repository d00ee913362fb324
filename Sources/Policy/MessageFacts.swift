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
        /// The decoded file name ("" when the part has none).
        let filename: String
        /// `type/subtype`, lower-cased.
        let mediaType: String
    }

    /// The leaves of the MIME tree, walked once: text for `body-contains`, files for `attachment-*`.
    private struct Body {
        var texts: [String] = []
        var attachments: [Attachment] = []
    }

    private var fields: [HeaderField]
    private let entity: Entity
    private let context: FilterContext
    private lazy var body: Body = Self.walk(entity)

    public init(message: Entity, context: FilterContext) {
        self.fields = message.fields
        self.entity = message
        self.context = context
    }

    /// Header actions (`insert-header`, `strip-header`) changed the message's header.
    /// The body facts stay as they were: header actions do not change the body, and even a
    /// stripped Content-Type leaves the parts a reader of the original message was sent.
    public func headersChanged(_ message: Entity) {
        fields = message.fields
    }

    public func holds(_ condition: Condition) -> Bool {
        switch condition {
        case .constant(let value): return value
        case .subject(let test): return test.holds(for: [subject])
        case .header(let name, let test):
            let values = fields.lazy.filter { $0.hasName(name) }.map { EncodedWord.decode($0.value) }
            guard let test else { return !values.isEmpty }
            return test.holds(for: values)
        case .bodyContains(let pattern): return body.texts.contains { pattern.matches($0) }
        case .attachmentFilename(let test): return test.holds(for: body.attachments.lazy.map(\.filename))
        case .attachmentType(let test): return test.holds(for: body.attachments.lazy.map(\.mediaType))
        case .mailFrom(let test): return test.holds(for: [context.mailFrom ?? ""])
        case .rcptTo(let test): return test.holds(for: context.recipients)
        case .bodySize(let comparison, let limit): return comparison.holds(context.size, limit)
        case .encrypted: return context.encrypted
        case .smimeGatewayMessage: return context.smimeMessage
        case .smimeGatewayVerified: return context.smimeVerified
        case .smimeGatewayAuthenticated: return context.smimeAuthenticated
        case .not(let inner): return !holds(inner)
        case .and(let left, let right): return holds(left) && holds(right)
        case .or(let left, let right): return holds(left) || holds(right)
        }
    }

    /// The first Subject, RFC 2047-decoded as a client shows it ("" when there is none).
    private var subject: String {
        fields.first { $0.hasName("Subject") }.map { EncodedWord.decode($0.value) } ?? ""
    }

    // MARK: The body

    private static func walk(_ message: Entity) -> Body {
        var body = Body()
        collect(message, into: &body, depth: 0, inDigest: false)
        return body
    }

    /// Visits every leaf below `entity`: multiparts are split, attached messages opened.
    /// Hostile or broken MIME must not stop the filters, so a part that does not parse or
    /// decode is passed over, and nesting deeper than `MIMELimits.maxDepth` is not read.
    private static func collect(_ entity: Entity, into body: inout Body, depth: Int, inDigest: Bool) {
        guard depth <= MIMELimits.standard.maxDepth else { return }
        // RFC 2046 §5.1.5: in a multipart/digest, a part without a Content-Type is a message.
        let type =
            inDigest && entity.field("Content-Type") == nil
            ? ContentType(type: "message", subtype: "rfc822") : entity.contentType
        if type.isMultipart {
            guard let boundary = type["boundary"], let multipart = try? Multipart.parse(entity.body, boundary: boundary)
            else { return }
            for part in multipart.parts where !part.isEmpty {
                guard let child = try? Entity.parse(part, allowEmptyHeader: true) else { continue }
                collect(child, into: &body, depth: depth + 1, inDigest: type.subtype == "digest")
            }
            return
        }
        // A forwarded message is itself an attachment (`attachment-type == "message/*"`) and
        // is opened too, so its text and its own attachments count as the reader sees them.
        if let attachment = attachment(entity, type) { body.attachments.append(attachment) }
        if type.type == "message" && (type.subtype == "rfc822" || type.subtype == "global") {
            guard let bytes = try? entity.decodedBody(), let inner = try? Entity.parse(bytes) else { return }
            collect(inner, into: &body, depth: depth + 1, inDigest: false)
        } else if type.type == "text", let bytes = try? entity.decodedBody(),
            let text = Charset.decode(bytes, charset: type["charset"] ?? "us-ascii")
        {
            body.texts.append(text)
        }
    }

    /// The part as an attachment, or nil when it is inline content without a file name.
    private static func attachment(_ entity: Entity, _ type: ContentType) -> Attachment? {
        // Content-Disposition has Content-Type's parameter syntax (RFC 2183 §2) but no
        // subtype: read behind a dummy type, its disposition is the subtype and RFC 2231
        // file names (`filename*0*=utf-8''...`) come joined and decoded.
        let disposition = entity.field("Content-Disposition").flatMap { ContentType(parsing: "x/" + $0) }
        let name = disposition?["filename"] ?? type["name"]
        guard disposition?.subtype == "attachment" || name != nil else { return nil }
        // Many mailers put RFC 2047 encoded-words in file names, against RFC 2047 §5; clients show them decoded.
        return Attachment(filename: name.map(EncodedWord.decode) ?? "", mediaType: type.mediaType)
    }
}

extension TextTest {
    /// `==`: some value matches; `!=`: none does (so `!=` holds when there is no value at all).
    func holds(for values: some Sequence<String>) -> Bool {
        values.contains { pattern.matches($0) } != negated
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
