/// Header protection (RFC 9788, SPEC F36): the header fields a reader sees, carried inside the
/// signature or the envelope on the Cryptographic Payload's root entity, marked `hp="clear"` (signed
/// only) or `hp="cipher"` (encrypted); for an encrypted message, what stayed visible outside recorded
/// in `HP-Outer` fields. Pure header work: the SMIME layer signs or encrypts what this prepares, and
/// hands back what it unwrapped for `promote`.
public enum HeaderProtection: String, CaseIterable, Codable, Sendable {
    /// Nothing inside but the Content-* fields (RFC 8551 as before).
    case none
    /// The fields inside, the outer header left as it is (RFC 9788's `hcp_no_confidentiality`).
    case sign
    /// The fields inside and, when the message is encrypted, the outer header obscured by RFC 9788's
    /// baseline policy (`hcp_baseline`): Subject `[...]`, Comments and Keywords removed, the rest kept
    /// (From, To, Cc and Date are what the mail system routes and shows by; Message-ID threads).
    case encrypt

    /// The fields protected, in this order of preference for listings: RFC 9788's user-facing fields
    /// and those that thread a conversation, and the two `hcp_baseline` removes from outside (so that
    /// nothing it removes is lost).
    public static let names = [
        "From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
        "Followup-To", "Comments", "Keywords",
    ]
    static let outerRecord = "HP-Outer"
    /// What `hcp_baseline` makes of an obscured Subject.
    public static let obscuredSubject = "[...]"

    static func isProtected(_ field: HeaderField) -> Bool { names.contains { field.hasName($0) } }

    // MARK: Outgoing

    /// A message prepared for signing (`encrypted: false`) or encryption (`encrypted: true`, also when
    /// a signature inside the envelope comes first): its Content-Type carries `hp=`, its outer fields
    /// are obscured when the policy says so, and `inner` are the fields to put on the payload's root
    /// entity, under the signature or inside the envelope (the protected fields, then `HP-Outer`).
    /// nil with `.none`.
    public func prepare(_ message: Entity, encrypted: Bool, legacyDisplay: Bool = false)
        -> (message: Entity, inner: [HeaderField])?
    {
        guard self != .none else { return nil }
        var prepared = message
        // A composer never takes HP-Outer from its input (RFC 9788 §2.2): only we say what went outside.
        prepared.removeFields(named: Self.outerRecord)
        let protected = prepared.fields.filter(Self.isProtected)
        if encrypted && self == .encrypt {
            prepared.fields = prepared.fields.compactMap { field in
                if field.hasName("Comments") || field.hasName("Keywords") { return nil }
                if field.hasName("Subject") { return HeaderField(name: "Subject", value: Self.obscuredSubject) }
                return field
            }
        }
        var inner = protected
        if encrypted {
            inner += prepared.fields.filter(Self.isProtected).map {
                HeaderField(name: Self.outerRecord, value: "\($0.name): \($0.value)")
            }
        }
        Self.mark(&prepared, hp: encrypted ? "cipher" : "clear")
        if legacyDisplay && encrypted {
            let hidden = protected.filter { field in
                field.hasName("Subject")
                    && !prepared.fields.contains { $0.hasName("Subject") && $0.value == field.value }
            }
            if !hidden.isEmpty { prepared = LegacyDisplay.add(hidden, to: prepared) }
        }
        return (prepared, inner)
    }

    /// Sets `hp=VALUE` on the message's Content-Type (the payload's root once split), replacing any `hp`
    /// the input had.
    static func mark(_ entity: inout Entity, hp value: String) {
        let parameter = "hp=\"\(value)\""
        guard let written = entity.field("Content-Type") else {
            entity.fields.append(HeaderField(name: "Content-Type", value: "text/plain; charset=us-ascii; \(parameter)"))
            return
        }
        var kept = written
        if var type = ContentType.parsingAsWritten(written), type["hp"] != nil {
            type.parameters.removeAll { $0.name.lowercased() == "hp" }
            kept = type.headerValue
        }
        entity.setField("Content-Type", kept + "; " + parameter)
    }

    // MARK: Incoming

    /// What `promote` did.
    public struct Promotion: Sendable, Equatable {
        /// The delivered message, its top-level header carrying the protected fields.
        public var entity: Entity
        /// "clear" or "cipher", as the payload said; "v1" for the draft's `protected-headers="v1"`.
        public var mode: String
        /// The names of the fields promoted (list order, lower case).
        public var promoted: [String] = []
        /// Fields whose outer form is not what the sender sent (changed, added or removed in transit).
        public var changed: [String] = []
        /// Protected fields not promoted because nothing authenticates them (no valid signature).
        public var withheld: [String] = []

        /// For the result field's comment: `header.protected=from,to,subject`, what was not promoted and
        /// what changed, separated by "; " (a header comment holds no parentheses).
        public var note: String {
            var parts = ["header.protected=" + (promoted.isEmpty ? "none" : promoted.joined(separator: ","))]
            if !withheld.isEmpty { parts.append("unsigned, not promoted: \(withheld.joined(separator: ","))") }
            if !changed.isEmpty { parts.append("outer field changed in transit: \(changed.joined(separator: ","))") }
            if mode == "v1" { parts.append("protected-headers=v1") }
            return parts.joined(separator: "; ")
        }

        /// For the manifest: what differs between the protected and the outer header, or nil.
        public var warning: String? {
            changed.isEmpty
                ? nil
                : "protected header: the outer \(changed.joined(separator: ", ")) differed from what the sender "
                    + "protected (changed in transit); the protected value is delivered"
        }
    }

    /// The protected fields of an unwrapped payload promoted to `delivered`'s top-level header.
    /// `payload` is the Cryptographic Payload's root Content-Type (it must carry `hp="clear"` or
    /// `hp="cipher"`, else nil: no header protection), `inner` the root's fields other than Content-*.
    /// The draft's `protected-headers="v1"` (Thunderbird and Autocrypt clients before RFC 9788) is read as
    /// `clear`, or as `cipher` without an HP-Outer record when the message was `encrypted`.
    /// `signed`: a valid signature covers the payload. Then every protected field replaces the outer
    /// fields of its name (the caller checks the protected From against the signer). Without one, only
    /// what the sender hid from outside (Subject `[...]`, fields removed) is restored, as the HP-Outer
    /// record shows, and never a From: anyone can make an envelope. Outer fields that are not what the
    /// sender sent (the protected value for `clear`, the HP-Outer record for `cipher`) are in `changed`.
    public static func promote(
        into delivered: Entity, payload: ContentType, inner: [HeaderField], signed: Bool, encrypted: Bool
    ) -> Promotion? {
        let draft = payload["hp"] == nil && payload["protected-headers"]?.lowercased() == "v1"
        guard let stated = draft ? (encrypted ? "cipher" : "clear") : payload["hp"]?.lowercased(),
            stated == "clear" || stated == "cipher"
        else { return nil }
        let mode = stated
        var promotion = Promotion(entity: delivered, mode: draft ? "v1" : mode)
        promotion.entity.removeFields(named: outerRecord)  // HP-Outer outside is nobody's record
        let protected = inner.filter(isProtected)
        var record: [(name: String, value: String)] = []
        for field in inner where field.hasName(outerRecord) {
            let value = field.value
            guard let colon = value.firstIndex(of: ":") else { continue }
            record.append((String(value[..<colon]).trimmed, String(value[value.index(after: colon)...]).trimmed))
        }
        for name in names {
            let inside = protected.filter { $0.hasName(name) }
            let outside = promotion.entity.fields(named: name)
            let recorded = record.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
            let sent = mode == "cipher" ? recorded : inside.map(\.value)
            let checkable = mode == "clear" || !record.isEmpty
            if checkable && normalised(outside.map(\.value)) != normalised(sent) {
                promotion.changed.append(name)
            }
            guard !inside.isEmpty else { continue }
            let same = normalised(inside.map(\.value)) == normalised(outside.map(\.value))
            if !signed {
                // Nothing vouches for the payload: restore only what its sender hid, never a From.
                let hidden = mode == "cipher" && normalised(recorded) != normalised(inside.map(\.value))
                if same { continue }
                if name == "From" || !hidden {
                    promotion.withheld.append(name.lowercased())
                    continue
                }
            }
            if !same { promotion.entity.replaceFields(named: name, with: inside) }
            promotion.promoted.append(name.lowercased())
        }
        return promotion
    }

    static func normalised(_ values: [String]) -> [String] {
        values.map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }.sorted()
    }
}

extension Entity {
    /// Replaces every field named `name` by `fields`, where the first of them was (else before the
    /// first Content-* field or MIME-Version, else at the end).
    mutating func replaceFields(named name: String, with new: [HeaderField]) {
        let at =
            fields.firstIndex { $0.hasName(name) }
            ?? fields.firstIndex { $0.isContentField || $0.hasName("MIME-Version") } ?? fields.count
        let before = fields[..<at].filter { !$0.hasName(name) }
        let after = fields[at...].filter { !$0.hasName(name) }
        fields = before + new + after
    }
}

extension String {
    fileprivate var trimmed: String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
