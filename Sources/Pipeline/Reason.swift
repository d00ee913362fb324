import Policy

/// Why a message got its outcome — a decision as a type (STYLE.md; the shape of
/// swift-certificates' `PolicyFailureReason`): `code` is stable for scripts (the
/// manifest's `reason_code`), `description` is the line an operator reads (the
/// manifest's `reason`). Callers switch on the case, never on the words.
public indirect enum Reason: Sendable, Equatable, CustomStringConvertible {
    // Any direction.
    /// The input is not a message that can be read (MIME, limits).
    case unreadable(String)
    /// A transform or the cryptography underneath it failed.
    case processingFailed(String)
    // Outgoing (SPEC F4–F6).
    case noSender
    /// The profile's certificate cannot sign this message (F5): each problem.
    case signingFailed([String])
    /// These recipients have no usable certificate (F6).
    case noCertificate(for: [String])
    case noRecipients
    /// What the bounce would have been for, when there is no sender to bounce to.
    case noBounceAddress(Reason)
    /// What the bounce would have been for, when the message has a null reverse-path (itself a
    /// notification: RFC 5321 §4.5.5 forbids answering it): dropped instead.
    case nullReversePath(Reason)
    case alreadyEncrypted
    /// No content filter of this mail policy chose a sending profile.
    case noProfileChosen(policy: String)
    // Incoming (SPEC F10–F12).
    case tooManyLayers(Int)
    case unsupported(String)
    /// No recipient info names an organisation certificate.
    case notAddressed
    /// Archives: `process rekey` of a message that is not encrypted, `process resign` of one not signed.
    case notEncrypted, notSigned
    case decryptionFailed(String)
    /// The MIME around or inside the protected content is ambiguous or looks tampered with.
    case malformed(String)
    /// A signature did not verify, was not trusted, or does not cover the author (an
    /// RFC 8551 result, `fail`/`permerror`/`temperror`, and why).
    case signatureFailed(result: String, String)
    /// An incoming policy said not to decrypt or not to verify.
    case notDecrypted(policy: String)
    case notVerified(policy: String)
    // Policies (SPEC F8, F14).
    /// A filter quarantined, dropped or bounced the message (`filter`: the one whose action decided).
    case filtered(FilterDecision.Disposition, filter: String?)
    /// A filter's condition could not be decided on this message (failed closed).
    case filterFailed(FilterError)
    /// Recipients of these mail policies got separate copies (splintering).
    case splintered(policies: [String])
    /// Several reasons: the copies of a splintered message, or a filter's decision and the result it saw.
    case all([Reason])

    /// A short stable identifier.
    public var code: String {
        switch self {
        case .unreadable: "unreadable"
        case .processingFailed: "processing-failed"
        case .noSender: "no-sender"
        case .signingFailed: "signing-failed"
        case .noCertificate: "no-certificate"
        case .noRecipients: "no-recipients"
        case .noBounceAddress: "no-bounce-address"
        case .nullReversePath: "null-reverse-path"
        case .alreadyEncrypted: "already-encrypted"
        case .noProfileChosen: "no-profile-chosen"
        case .tooManyLayers: "too-many-layers"
        case .unsupported: "unsupported"
        case .notAddressed: "not-addressed"
        case .notEncrypted: "not-encrypted"
        case .notSigned: "not-signed"
        case .decryptionFailed: "decryption-failed"
        case .malformed: "malformed"
        case .signatureFailed: "signature-failed"
        case .notDecrypted: "not-decrypted"
        case .notVerified: "not-verified"
        case .filtered(.quarantine, _): "quarantined"
        case .filtered(.drop, _), .filtered(.deliver, _): "dropped"
        case .filtered(.bounce, _): "bounced"
        case .splintered: "splintered"
        case .filterFailed: "filter-failed"
        case .all(let reasons): reasons.first?.code ?? "none"
        }
    }

    public var description: String {
        switch self {
        case .unreadable(let detail), .processingFailed(let detail), .unsupported(let detail): detail
        case .noSender: "the message has no sender address"
        case .signingFailed(let problems): "signing failed: " + problems.joined(separator: "; ")
        case .noCertificate(let addresses): "no usable S/MIME certificate for " + addresses.joined(separator: ", ")
        case .noRecipients: "no recipients to encrypt to"
        case .noBounceAddress(let reason): "\(reason); no sender address to bounce to"
        case .nullReversePath(let reason): "\(reason); not returned: the message has a null reverse-path"
        case .alreadyEncrypted: "already S/MIME-encrypted"
        case .noProfileChosen(let policy): "no content filter of policy \(policy) chose a profile"
        case .tooManyLayers(let count): "more than \(count) S/MIME layers"
        case .notAddressed: "not encrypted to any organisation certificate"
        case .notEncrypted: "not S/MIME-encrypted"
        case .notSigned: "not S/MIME-signed"
        case .decryptionFailed(let detail): "decryption failed: \(detail)"
        case .malformed(let detail), .signatureFailed(_, let detail): detail
        case .notDecrypted(let policy): "not decrypted: incoming policy \(policy) has decrypt = no"
        case .notVerified(let policy): "not verified: incoming policy \(policy) has verify = no"
        case .filtered(let disposition, let filter): Self.filtered(disposition, by: filter)
        case .filterFailed(let error): "\(error)"
        case .splintered(let policies):
            "recipients of policies \(policies.joined(separator: ", ")) got separate copies"
        case .all(let reasons): Self.unique(reasons.map(\.description)).joined(separator: "; ")
        }
    }

    private static func filtered(_ disposition: FilterDecision.Disposition, by filter: String?) -> String {
        let by = filter.map { "filter \($0)" } ?? "a filter"
        switch disposition {
        case .quarantine(let name): return "quarantined in \(name) by \(by)"
        case .drop, .deliver: return "dropped by \(by)"
        case .bounce: return "bounced by \(by)"
        }
    }

    private static func unique(_ texts: [String]) -> [String] {
        var seen = Set<String>()
        return texts.filter { seen.insert($0).inserted }
    }

    /// `reasons` as one: nil when empty, the reason itself when alone.
    static func joined(_ reasons: [Reason?]) -> Reason? {
        let present = reasons.compactMap { $0 }.flatMap { reason -> [Reason] in
            if case .all(let inner) = reason { return inner }
            return [reason]
        }
        return present.isEmpty ? nil : present.count == 1 ? present[0] : .all(present)
    }
}
