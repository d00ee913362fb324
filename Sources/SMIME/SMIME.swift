import CMS
import Foundation
import MIME
import PKI

/// Opaque (application/pkcs7-mime) or detached (multipart/signed) signatures (SPEC F2).
public enum SignMode: String, CaseIterable, Sendable {
    case opaque, detached
}

/// The verdict on a signed message (SPEC F10) and what was unwrapped.
public struct Verification: Sendable {
    public enum Verdict: Sendable, Equatable {
        case pass
        case fail(VerificationFailure)

        public var failure: VerificationFailure? {
            if case .fail(let failure) = self { return failure }
            return nil
        }
    }

    public let verdict: Verdict
    public let signer: Certificate?
    public let signingTime: Date?
    public let digestAlgorithm: String?
    /// The message with the signature removed (outer fields + signed entity), when available.
    public let unwrapped: Entity?
    /// The signed entity's own fields other than Content-* (never promoted by `unwrapped`; RFC 9788's
    /// protected fields when its Content-Type says `hp=`: `HeaderProtection.promote`).
    public var innerFields: [HeaderField] = []
    /// Keys and certificate signatures below the floor that `SignerValidation.allowWeak` let pass.
    public var acceptedWeaknesses: [AlgorithmWeakness] = []
    /// What is known of the revocation of the trusted signer's path (nil when it did not pass).
    public var revocation: RevocationStatus? = nil
    /// The trusted signer's validated path, the signer first (empty when it did not pass).
    public var path: [Certificate] = []
    /// The content ciphers the signer announced (`SignatureCheck.capabilities`).
    public var capabilities: [String] = []
    /// The time the signer was judged at and where it came from (nil when no signer was judged).
    public var moment: ValidationMoment? = nil

    public var passed: Bool { verdict == .pass }
}

/// S/MIME transforms of whole messages (RFC 8551). Signatures and envelopes are
/// computed over the canonical CRLF form; the output keeps the input's line endings.
public enum SMIME {
    static let p7mFields = [
        HeaderField(name: "Content-Transfer-Encoding", value: "base64"),
        HeaderField(name: "Content-Disposition", value: "attachment; filename=\"smime.p7m\""),
    ]

    // MARK: Sign (F1, F2)

    /// `asOneLeaf` signs the content as it is, its structure not walked (a sloppy
    /// mailer's `Irregularity`); such content belongs inside an opaque signature,
    /// where no relay can alter it.
    /// `innerFields` go into the signed entity's own header, under the signature (an archive's
    /// Authentication-Results that the new signature attests, or the protected fields that
    /// `HeaderProtection.prepare` gives).
    public static func sign(
        _ message: Entity, signer: Signer, mode: SignMode, asOneLeaf: Bool = false, innerFields: [HeaderField] = []
    ) throws -> Entity {
        var parts = MessageParts(splitting: message)
        parts.content.fields.insert(contentsOf: innerFields, at: 0)
        let ending = message.lineEnding
        let options = Canonical.Options(sevenBitSafe: mode == .detached, asOneLeaf: asOneLeaf)
        let canonical = try Canonical.prepare(parts.content, options: options).serialized()
        let der = try CMS.sign(canonical, signer: signer, detached: mode == .detached)
        switch mode {
        case .opaque:
            let type = HeaderField(
                name: "Content-Type", value: "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"")
            return MessageParts.join(
                outer: parts.outer, entityFields: [type] + p7mFields, body: Base64.encode(der, ending: ending),
                ending: ending)
        case .detached:
            let boundary = newBoundary()
            let signaturePart = Entity(
                fields: [
                    HeaderField(name: "Content-Type", value: "application/pkcs7-signature; name=\"smime.p7s\""),
                    HeaderField(name: "Content-Transfer-Encoding", value: "base64"),
                    HeaderField(name: "Content-Disposition", value: "attachment; filename=\"smime.p7s\""),
                ], body: Base64.encode(der, ending: .crlf), lineEnding: .crlf)
            let body = Multipart(
                boundary: boundary, parts: [canonical, signaturePart.serialized()],
                preamble: Array("This is an S/MIME signed message".utf8)
            ).serialized(.crlf)
            let type = HeaderField(
                name: "Content-Type",
                value: "multipart/signed; protocol=\"application/pkcs7-signature\"; "
                    + "micalg=\(signer.digest.micalg); boundary=\"\(boundary)\"")
            return MessageParts.join(
                outer: parts.outer, entityFields: [type], body: body.converted(to: ending), ending: ending)
        }
    }

    // MARK: Encrypt (F3)

    /// `asOneLeaf` encrypts the content as it is, its structure not walked. `innerFields` go into the
    /// encrypted entity's own header (the protected fields that `HeaderProtection.prepare` gives).
    public static func encrypt(
        _ message: Entity, recipients: [Certificate], cipher: ContentCipher = .aes256cbc,
        keyTransport: KeyTransport = .pkcs1v15, asOneLeaf: Bool = false, innerFields: [HeaderField] = []
    ) throws -> Entity {
        var parts = MessageParts(splitting: message)
        parts.content.fields.insert(contentsOf: innerFields, at: 0)
        let ending = message.lineEnding
        let options = Canonical.Options(sevenBitSafe: false, asOneLeaf: asOneLeaf)
        let canonical = try Canonical.prepare(parts.content, options: options).serialized()
        let der = try CMS.encrypt(canonical, recipients: recipients, cipher: cipher, keyTransport: keyTransport)
        let smimeType = cipher.isAuthenticated ? "authEnveloped-data" : "enveloped-data"
        let type = HeaderField(
            name: "Content-Type", value: "application/pkcs7-mime; smime-type=\(smimeType); name=\"smime.p7m\"")
        return MessageParts.join(
            outer: parts.outer, entityFields: [type] + p7mFields, body: Base64.encode(der, ending: ending),
            ending: ending)
    }

    // MARK: Re-key (archives)

    /// Decrypts with whichever of `candidates` the envelope names and encrypts the plaintext, byte for
    /// byte (inner signatures untouched), to `recipients`; the outer header stays. Without a `cipher`,
    /// the envelope's own when it is one of ours (AES), else AES-256-CBC.
    public static func rekey(
        _ message: Entity, form known: SMIMEForm? = nil, candidates: [(certificate: Certificate, key: PrivateKey)],
        recipients: [Certificate], cipher: ContentCipher?, keyTransport: KeyTransport = .pkcs1v15
    ) throws -> (message: Entity, from: ContentEncryption, to: ContentCipher) {
        let (plain, encryption, _) = try open(try known ?? SMIMEForm.classify(message), candidates: candidates)
        let chosen = cipher ?? ContentCipher(rawValue: encryption.name.lowercased()) ?? .aes256cbc
        let sealed = try CMS.encrypt(plain, recipients: recipients, cipher: chosen, keyTransport: keyTransport)
        let smimeType = chosen.isAuthenticated ? "authEnveloped-data" : "enveloped-data"
        let type = HeaderField(
            name: "Content-Type", value: "application/pkcs7-mime; smime-type=\(smimeType); name=\"smime.p7m\"")
        let ending = message.lineEnding
        let joined = MessageParts.join(
            outer: MessageParts(splitting: message).outer, entityFields: [type] + p7mFields,
            body: Base64.encode(sealed, ending: ending), ending: ending)
        return (joined, encryption, chosen)
    }

    /// Whether a signed layer wraps an envelope (RFC 2634 triple wrap), its signature unchecked.
    public static func wrapsEnvelope(_ form: SMIMEForm) -> Bool {
        signedContent(form).map(SMIMEForm.isEncrypted) ?? false
    }

    /// The entity a signed layer signs, its own header included, its signature unchecked; nil when unreadable.
    public static func signedContent(_ form: SMIMEForm) -> Entity? {
        let content: [UInt8]
        switch form {
        case .signedDetached(let signed, _): content = signed
        case .signedOpaque(let der):
            guard let check = try? CMS.verifySignature(der) else { return nil }
            content = check.content
        default: return nil
        }
        return try? Entity.parse(content, allowEmptyHeader: true)
    }

    // MARK: Verify (F10)

    /// Verifies one layer of signature. Throws only when the message is not a
    /// signed S/MIME message or cannot be parsed; a signature that is wrong or
    /// untrusted is a `.fail` verdict with its reason.
    /// `form` is the message's classification when the caller already has it (no second decoding).
    public static func verify(_ message: Entity, form known: SMIMEForm? = nil, validation: SignerValidation) throws
        -> Verification
    {
        let form = try known ?? SMIMEForm.classify(message)
        let der: [UInt8]
        var detached: [UInt8]? = nil
        switch form {
        case .signedOpaque(let d): der = d
        case .signedDetached(let content, let signature):
            der = signature
            detached = content.toCRLF()
        case .enveloped(_, let authenticated):
            throw SMIMEError(
                "the message is encrypted (\(authenticated ? "authEnveloped" : "enveloped")-data): decrypt it first")
        case .certsOnly: throw SMIMEError("a certificates-only message carries no signature")
        case .unsupported(let reason): throw SMIMEError(reason)
        case .notSMIME(let type): throw SMIMEError("not an S/MIME signed message (\(type))")
        }
        let outer = MessageParts(splitting: message).outer
        let check: SignatureCheck
        do {
            check = try CMS.verifySignature(der, detachedContent: detached)
        } catch let violation as SignedDataViolation {
            return Verification(
                verdict: .fail(VerificationFailure(.structure(violation), "\(violation)")), signer: nil,
                signingTime: nil, digestAlgorithm: nil, unwrapped: nil)
        } catch let mismatch as SignatureMismatch {
            let unwrapped = try detached.map {
                try unwrapping(outer: outer, content: $0, ending: message.lineEnding).message
            }
            return Verification(
                verdict: .fail(VerificationFailure(.badSignature, "\(mismatch)")), signer: nil, signingTime: nil,
                digestAlgorithm: nil, unwrapped: unwrapped)
        } catch let error as OpenSSLError {
            throw SMIMEError(error.reasons.isEmpty ? error.description : error.reasons.joined(separator: "; "))
        }
        let (unwrapped, innerFields) = try unwrapping(
            outer: outer, content: check.content, ending: message.lineEnding)
        func verdict(_ failure: VerificationFailure?, signer: Certificate?) -> Verification {
            var result = Verification(
                verdict: failure.map { .fail($0) } ?? .pass, signer: signer, signingTime: check.signingTime,
                digestAlgorithm: check.digestAlgorithm, unwrapped: unwrapped)
            result.capabilities = check.capabilities
            result.innerFields = innerFields
            return result
        }
        guard let signer = check.signers.first else {
            let missing = VerificationFailure(
                .signerCertificateMissing, "the signer's certificate is not in the message")
            return verdict(missing, signer: nil)
        }
        if let weak = validation.digestProblem(check.digestAlgorithm) {
            return verdict(VerificationFailure(.weakDigest, weak), signer: signer)
        }
        var judged = validation
        let moment: ValidationMoment
        if validation.validationTime == .signingTime && check.signerInfos > 1 {
            // Each SignerInfo claims its own time; the first need not be the signer that is trusted.
            let several = SignerProblem(.signingTime, "several signers: signing-time validation takes one")
            return verdict(VerificationFailure(.signer(several.kind), several.reason), signer: signer)
        }
        switch validation.moment(signingTime: check.signingTime, timestamp: check.timestamp, signer: signer) {
        case .success(let chosen): moment = chosen
        case .failure(let problem):
            return verdict(VerificationFailure(.signer(problem.kind), problem.reason), signer: signer)
        }
        judged.time = moment.time
        judged.timeClaimedBySigner = moment.source == .signingTime
        let trusted = trustedSigner(
            of: message, among: check.signers, intermediates: check.certificates, validation: judged)
        var result = verdict(trusted.failure, signer: trusted.signer)
        result.moment = moment
        result.acceptedWeaknesses = trusted.trusted?.weaknesses ?? []
        result.revocation = trusted.trusted?.revocation
        result.path = trusted.trusted?.path ?? []
        return result
    }

    // MARK: Decrypt (F11)

    public static func decrypt(
        _ message: Entity, form known: SMIMEForm? = nil, certificate: Certificate, key: PrivateKey
    ) throws -> Entity {
        try decrypt(message, form: known, candidates: [(certificate, key)])
    }

    /// Decrypts with whichever of `candidates` the envelope names (one CMS parse for all of them).
    public static func decrypt(
        _ message: Entity, form known: SMIMEForm? = nil, candidates: [(certificate: Certificate, key: PrivateKey)]
    ) throws -> Entity {
        try decryption(message, form: known, candidates: candidates).message
    }

    /// Decrypts, saying which cipher the envelope used and, when it does not protect
    /// integrity (CBC), whether the plaintext bears the marks of tampering.
    public static func decryption(
        _ message: Entity, form known: SMIMEForm? = nil, candidates: [(certificate: Certificate, key: PrivateKey)]
    ) throws -> Decryption {
        let (plain, encryption, authenticated) = try open(
            try known ?? SMIMEForm.classify(message), candidates: candidates)
        let (mark, signed) = authenticated ? (nil, false) : MalformedContent.marks(in: plain)
        let (unwrapped, innerFields) = try unwrapping(
            outer: MessageParts(splitting: message).outer, content: plain, ending: message.lineEnding)
        var decryption = Decryption(message: unwrapped, encryption: encryption, malformation: signed ? nil : mark)
        decryption.malformationUnderSignature = signed ? mark : nil
        decryption.innerFields = innerFields
        return decryption
    }

    // MARK: Helpers

    /// The plaintext of an enveloped form, decrypted with whichever of `candidates` it names.
    private static func open(_ form: SMIMEForm, candidates: [(certificate: Certificate, key: PrivateKey)]) throws
        -> (plain: [UInt8], encryption: ContentEncryption, authenticated: Bool)
    {
        guard case .enveloped(let der, let authenticated) = form else {
            if case .notSMIME(let type) = form { throw SMIMEError("not an S/MIME encrypted message (\(type))") }
            if form.isSigned { throw SMIMEError("the message is signed, not encrypted: verify it instead") }
            throw SMIMEError("not an S/MIME encrypted message")
        }
        do {
            let (plain, _, encryption) = try CMS.decrypt(der, candidates: candidates)
            return (plain, encryption, authenticated)
        } catch let error as EnvelopeNotAddressed {
            throw SMIMEError("cannot decrypt: \(error)", kind: .notAddressed)
        } catch let error as OpenSSLError {
            throw SMIMEError("cannot decrypt: \(error.reasons.joined(separator: "; "))")
        }
    }

    /// Joins the outer fields with the unwrapped content. Content that is not a
    /// MIME entity (RFC 4134 §5.3 encrypts bare text) becomes a text/plain body.
    /// Only the inner Content-* fields are kept: the outer header is the one the
    /// transport saw, and inner From, Subject or Authentication-Results fields would
    /// be whatever the signer or an attacker of the ciphertext put there. They are returned
    /// apart, for header protection (RFC 9788) to promote on purpose: `HeaderProtection.promote`.
    static func unwrapping(outer: [HeaderField], content: [UInt8], ending: LineEnding) throws
        -> (message: Entity, inner: [HeaderField])
    {
        var entity: Entity
        var inner: [HeaderField] = []
        if content.isEmpty {
            entity = Entity(fields: [], body: [], lineEnding: .crlf)
        } else if let parsed = try? Entity.parse(content, allowEmptyHeader: true) {
            // Kept inner fields reach the top: a stray CR in one must not smuggle in a field.
            entity = parsed.withoutStrayLineBreaks().entity
            inner = entity.fields.filter { !$0.isContentField }
            entity.fields.removeAll { !$0.isContentField }
        } else {
            entity = Entity(fields: [], body: content, lineEnding: LineEnding.detect(content))
        }
        return (MessageParts.join(outer: outer, content: entity, ending: ending), inner)
    }

    static func newBoundary() -> String {
        var bytes = [UInt8](repeating: 0, count: 12)
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255) }
        return "----=_smimegate_"
            + bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }
            .joined()
    }
}
