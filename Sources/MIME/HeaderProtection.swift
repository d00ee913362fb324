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

    /// The fields protected, in this order for listings: RFC 9788's user-facing fields (Sender too: it
    /// can speak for a message) and those that thread a conversation, and the two `hcp_baseline` removes
    /// from outside (so that nothing it removes is lost).
    public static let names = [
        "From", "Sender", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID", "In-Reply-To", "References",
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
                Self.folded(Self.outerRecord, "\($0.name): \($0.value)", ending: message.lineEnding)
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

    /// "Name: value", folded at spaces before 78 columns where it can be (RFC 5322 §2.1.1: a copied References
    /// of many ids would otherwise pass the 998 limit on one line).
    static func folded(_ name: String, _ value: String, ending: LineEnding) -> HeaderField {
        let line = "\(name): \(value)"
        guard line.utf8.count > 78 else { return HeaderField(name: name, value: value) }
        var out: [UInt8] = []
        var width = 0
        for (index, word) in line.split(separator: " ", omittingEmptySubsequences: false).enumerated() {
            if index > 0 {
                if width > 1 && width + 1 + word.utf8.count > 78 && !word.isEmpty {
                    out += ending.bytes
                    width = 0
                }
                out.append(32)
                width += 1
            }
            out += Array(word.utf8)
            width += word.utf8.count
        }
        return HeaderField(name: name, raw: out, terminator: [])
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
        // Every form of the parameter goes (`hp*=`, `hp*0=`, ... too): a reader must find ours alone.
        func isOurs(_ name: String) -> Bool {
            let name = name.lowercased()
            return name == "hp" || name.hasPrefix("hp*") || name == "hp-legacy-display"
                || name.hasPrefix("hp-legacy-display*")
        }
        if var type = ContentType.parsingAsWritten(written), type.parameters.contains(where: { isOurs($0.name) }) {
            type.parameters.removeAll { isOurs($0.name) }
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
        /// Whether a valid signature covers the payload (else nothing vouches for its fields).
        public var signed: Bool
        /// The names of the fields promoted (list order, lower case): under a signature, every protected
        /// field; without one, what the sender hid (restored).
        public var promoted: [String] = []
        /// Signed: fields whose outer form is not what the sender sent (changed, added or removed in transit).
        public var changed: [String] = []
        /// Signed: outer fields of protected names the payload does not have (added in transit), removed.
        public var removed: [String] = []
        /// Unsigned: protected fields that differ from the outer ones and are not promoted.
        public var withheld: [String] = []

        /// For the result field's comment: `header.protected=from,to,subject` and what else was done,
        /// separated by "; " (a header comment holds no parentheses).
        public var note: String {
            func list(_ names: [String]) -> String { names.joined(separator: ",") }
            var parts: [String]
            if signed {
                parts = ["header.protected=" + (promoted.isEmpty ? "none" : list(promoted))]
            } else {
                parts = ["header.protected=none"]
                if !promoted.isEmpty { parts.append("restored without a signature: \(list(promoted))") }
                if !withheld.isEmpty { parts.append("not promoted without a signature: \(list(withheld))") }
            }
            if !changed.isEmpty { parts.append("outer field changed in transit: \(list(changed))") }
            if !removed.isEmpty { parts.append("outer-only field removed: \(list(removed))") }
            if mode == "v1" { parts.append("protected-headers=v1") }
            return parts.joined(separator: "; ")
        }

        /// For the manifest: what the sender signed and the transport changed, or nil.
        public var warning: String? {
            guard !changed.isEmpty else { return nil }
            return "protected header: the outer \(changed.joined(separator: ", ")) differed from what the sender "
                + "signed (changed in transit); the protected header is delivered"
                + (removed.isEmpty ? "" : ", without the outer-only \(removed.joined(separator: ", "))")
        }
    }

    /// Fields a transport may add to a message that lacked them (RFC 5321 §6.4), kept when only outside.
    static let addedByTransport = ["Message-ID", "Date"]
    /// What an RFC 9788 policy hides from outside (`hcp_baseline`): all that a payload nothing vouches for
    /// may restore.
    static let confidential = ["Subject", "Comments", "Keywords"]

    /// The protected fields of an unwrapped payload promoted to `delivered`'s top-level header.
    /// `payloadType` is the Cryptographic Payload's root Content-Type as written: it must carry one `hp`
    /// parameter, `clear` or `cipher` (else nil: no header protection; two, or an RFC 2231 form, would let
    /// readers disagree). The draft's `protected-headers="v1"` (Thunderbird and Autocrypt clients before
    /// RFC 9788) is read as `clear`, or as `cipher` without an HP-Outer record when the message was
    /// `encrypted`. `inner` are the root's fields other than Content-*.
    /// - `signed`, a valid signature covers the payload: its protected fields are the header. Each replaces
    ///   the outer fields of its name (the caller checks the protected From against the signer); outer fields
    ///   of those names that the payload lacks were added in transit and are removed (but Message-ID and
    ///   Date); what differs from what the sender sent (the protected value for `clear`, the HP-Outer record
    ///   for `cipher`) is in `changed`.
    /// - Not signed: anyone can encrypt to us. Only what the sender hid is restored — Subject, Comments or
    ///   Keywords whose HP-Outer record shows another value outside — and nothing else, a From least of all.
    public static func promote(
        into delivered: Entity, payloadType: String?, inner: [HeaderField], signed: Bool, encrypted: Bool
    ) -> Promotion? {
        guard let payloadType, let written = ContentType.parsingAsWritten(payloadType) else { return nil }
        let stated = written.parameters.filter {
            let name = $0.name.lowercased()
            return name == "hp" || name.hasPrefix("hp*")
        }
        let draft = stated.isEmpty && ContentType(parsing: payloadType)?["protected-headers"]?.lowercased() == "v1"
        let mode: String
        if draft {
            mode = encrypted ? "cipher" : "clear"
        } else {
            guard stated.count == 1, stated[0].name.lowercased() == "hp" else { return nil }
            mode = stated[0].value.lowercased()
            guard mode == "clear" || mode == "cipher" else { return nil }
        }
        var promotion = Promotion(entity: delivered, mode: draft ? "v1" : mode, signed: signed)
        promotion.entity.removeFields(named: outerRecord)  // HP-Outer outside is nobody's record
        let protected = inner.filter(isProtected)
        var record: [(name: String, value: String)] = []
        for field in inner where field.hasName(outerRecord) {
            let value = field.value
            guard let colon = value.firstIndex(of: ":") else { continue }
            record.append(
                (
                    String(value[..<colon]).trimmingCharacters(in: " \t"),
                    String(value[value.index(after: colon)...]).trimmingCharacters(in: " \t")
                ))
        }
        for name in names {
            let inside = protected.filter { $0.hasName(name) }.map(\.value)
            let outside = promotion.entity.fields(named: name).map(\.value)
            let recorded = record.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
            let same = normalised(inside) == normalised(outside)
            guard signed else {
                // Nothing vouches for the payload: restore only what its sender hid, as its record says.
                guard !inside.isEmpty, !same else { continue }
                let hidden = mode == "cipher" && normalised(recorded) != normalised(inside)
                if hidden && confidential.contains(name) {
                    promotion.entity.replaceFields(named: name, with: protected.filter { $0.hasName(name) })
                    promotion.promoted.append(name.lowercased())
                } else {
                    promotion.withheld.append(name.lowercased())
                }
                continue
            }
            let sent = mode == "cipher" ? recorded : inside
            if (mode == "clear" || !record.isEmpty) && normalised(outside) != normalised(sent) {
                promotion.changed.append(name)
            }
            if inside.isEmpty {
                if !outside.isEmpty && !addedByTransport.contains(name) {
                    promotion.entity.removeFields(named: name)
                    promotion.removed.append(name.lowercased())
                }
                continue
            }
            if !same { promotion.entity.replaceFields(named: name, with: protected.filter { $0.hasName(name) }) }
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
