import CMS
import Foundation
import MIME
import Mailstore
import PKI
import SMIME

/// The incoming job (SPEC F10–F13): decrypts with whichever organisation key
/// a recipient info names, verifies every signature layer, and delivers every
/// message whatever the result, with an RFC 7281 Authentication-Results field.
/// Authentication-Results fields that claim our authserv-id are removed first
/// (RFC 8601 §5), so the only one carrying it on delivered mail is ours.
public struct IncomingJob: Job {
    /// What to do with HTML decrypted from ciphertext without integrity protection (CBC).
    public enum UnauthenticatedHTML: String, CaseIterable, Sendable {
        /// References that leave the message become `#blocked` (`HTMLNeutraliser`).
        case neutralise
        case keep
    }

    public struct Identity: Sendable {
        public let certificate: Certificate
        public let key: PrivateKey
        public init(certificate: Certificate, key: PrivateKey) {
            self.certificate = certificate
            self.key = key
        }
    }

    public let identities: [Identity]
    public let validation: SignerValidation
    /// F12: keep the (inner) signature on delivered mail instead of removing it.
    public let keepSignature: Bool
    /// The authserv-id of Authentication-Results (RFC 8601 §2.5): this host's name.
    public let authservID: String
    public let unauthenticatedHTML: UnauthenticatedHTML
    static let maxLayers = 8

    /// The organisation keys as decryption candidates, made once per run.
    private let candidates: [(certificate: Certificate, key: PrivateKey)]

    public var direction: String { "incoming" }
    public var profileName: String? { nil }
    public var folders: [Outcome] { [.verified, .decrypted, .unverified, .passed, .failed] }

    /// Each layer's signature must be valid and trusted; the message's From (or
    /// Sender) must be covered by at least one of the signers — so an outer
    /// signature by a forwarder or a gateway (RFC 2634 triple wrap) around the
    /// author's inner one is accepted, and so is a lone author signature.
    private var layerValidation: SignerValidation {
        var layer = validation
        layer.requireAddressMatch = false
        return layer
    }

    public init(
        identities: [Identity], validation: SignerValidation, keepSignature: Bool, authservID: String,
        unauthenticatedHTML: UnauthenticatedHTML = .neutralise
    ) {
        self.identities = identities
        self.candidates = identities.map { ($0.certificate, $0.key) }
        self.validation = validation
        self.keepSignature = keepSignature
        self.authservID = authservID
        self.unauthenticatedHTML = unauthenticatedHTML
    }

    public func process(_ input: InputMessage) -> JobResult {
        let reading: ParsedMessage
        do {
            reading = try Entity.parseMessage(input.bytes)
        } catch {
            // Delivered as received, but never with a result that claims to be ours.
            let (bytes, removed) = AuthenticationResults.removingOurs(fromRaw: input.bytes, authservID: authservID)
            var result = JobResult.failed(input, "\(error)")
            result.outputs = [Output(folder: .failed, bytes: bytes, recipients: [])]
            if removed > 0 { result.warning = removedRemark(removed) }
            return result
        }
        let (message, removed, cleaned) = AuthenticationResults.removingOurs(
            from: reading.entity, authservID: authservID)
        var result = examine(
            message, input: input, messageStart: reading.messageStart, changed: removed > 0 || cleaned > 0)
        var remarks: [String] = []
        if removed > 0 { remarks.append(removedRemark(removed)) }
        if cleaned > 0 { remarks.append("made stray CRs or NULs in \(cleaned) header field(s) spaces") }
        let forged = remarks.isEmpty ? nil : remarks.joined(separator: "; ")
        let warnings = [reading.irregularity.map { "\($0)" }, forged, result.warning].compactMap { $0 }
        result.warning = warnings.isEmpty ? nil : warnings.joined(separator: "; ")
        return result
    }

    private func removedRemark(_ count: Int) -> String {
        "removed \(count) Authentication-Results field(s) claiming \(authservID)"
    }

    /// `messageStart`: where the message begins in the input (after an mbox envelope line);
    /// `changed`: the message is no longer the input's bytes (fields were removed).
    private func examine(_ message: Entity, input: InputMessage, messageStart: Int, changed: Bool) -> JobResult {
        var current = message
        var innermostSigned: Entity? = nil
        var decrypted = false
        /// The first envelope whose cipher does not protect integrity (CBC).
        var unprotected: ContentEncryption? = nil
        var signers: [Certificate] = []
        var weaknesses: [AlgorithmWeakness] = []
        var layers = 0
        let recipients = Envelope(message).recipients

        func unverified(_ result: String, _ reason: String, detail: String? = nil) -> JobResult {
            let field = "\(authservID); smime=\(result) (\(Self.comment(detail.map { "\(reason); \($0)" } ?? reason)))"
            return JobResult(
                outcome: .unverified,
                outputs: [Output(folder: .unverified, bytes: Self.adding(field, to: message), recipients: recipients)],
                reason: reason, signer: signers.last.map { $0.emailAddresses.first ?? $0.subject },
                messageID: message.messageID, authenticated: false)
        }

        var done = false
        while !done {
            if layers == Self.maxLayers { return unverified("permerror", "more than \(Self.maxLayers) S/MIME layers") }
            let form: SMIMEForm
            do {
                form = try SMIMEForm.classify(current)
            } catch {
                return unverified("permerror", "\(error)")
            }
            switch form {
            case .notSMIME:
                done = true
                continue
            case .certsOnly, .unsupported:
                return unverified("permerror", "unsupported S/MIME content")
            case .enveloped:
                do {
                    let decryption = try SMIME.decryption(current, form: form, candidates: candidates)
                    current = decryption.message
                    decrypted = true
                    // A signature already verified covers this ciphertext; otherwise CBC's lack of
                    // integrity shows in the result, and tampered-looking plaintext is not delivered.
                    if !decryption.encryption.authenticated && innermostSigned == nil {
                        unprotected = unprotected ?? decryption.encryption
                        if let malformation = decryption.malformation {
                            return unverified(
                                "permerror", MalformedContent.reason,
                                detail: "\(malformation); \(decryption.encryption.name) has no integrity protection")
                        }
                    }
                } catch let error as SMIMEError where error.kind == .notAddressed {
                    return unverified("permerror", "not encrypted to any organisation certificate")
                } catch {
                    return unverified("permerror", "decryption failed: \(error)")
                }
            case .signedOpaque, .signedDetached:
                // The signed layer's own header is not signed: two Content-Types or boundaries there
                // would let a client show other content next to the pass than the one verified.
                if let ambiguity = MalformedContent.ambiguity(in: current) {
                    return unverified("permerror", "ambiguous MIME around the signature: \(ambiguity)")
                }
                let verification: Verification
                do {
                    verification = try SMIME.verify(current, form: form, validation: layerValidation)
                } catch {
                    return unverified("permerror", "\(error)")
                }
                if let certificate = verification.signer { signers.append(certificate) }
                guard verification.passed, let unwrapped = verification.unwrapped else {
                    if let failure = verification.verdict.failure {
                        return unverified(failure.result.rawValue, failure.reason)
                    }
                    return unverified("fail", "signature not verified")
                }
                weaknesses += verification.acceptedWeaknesses
                innermostSigned = current
                current = unwrapped
            }
            layers += 1
        }
        if layers == 0 {  // not S/MIME: delivered unchanged (but for forged results)
            let unchanged =
                changed ? message.serialized() : messageStart == 0 ? input.bytes : Array(input.bytes[messageStart...])
            return JobResult(
                outcome: .passed, outputs: [Output(folder: .passed, bytes: unchanged, recipients: recipients)],
                messageID: message.messageID, authenticated: false)
        }
        if let signed = innermostSigned, !signers.isEmpty {
            let identifier: String
            let author = SMIME.authorIdentity(
                of: message, signers: signers, acceptSenderMatch: validation.acceptSenderMatch)
            switch author {
            case .failure(let failure): return unverified(failure.result.rawValue, failure.reason)
            case .success(let address): identifier = address
            }
            let delivered = keepSignature ? signed : current
            let weak = Self.comment(weaknesses.map(\.description).joined(separator: ", "))
            let accepted = weaknesses.isEmpty ? "" : " (weak algorithms accepted: \(weak))"
            let field = "\(authservID); smime=pass\(accepted) body.smime-identifier=\(identifier)"
            return JobResult(
                outcome: .verified,
                outputs: [Output(folder: .verified, bytes: Self.adding(field, to: delivered), recipients: recipients)],
                signer: identifier, messageID: message.messageID, authenticated: true)
        }
        guard decrypted else { return unverified("permerror", "no signature or envelope could be processed") }
        guard let unprotected else {
            let field = "\(authservID); smime=neutral (encrypted, not signed)"
            return JobResult(
                outcome: .decrypted,
                outputs: [Output(folder: .decrypted, bytes: Self.adding(field, to: current), recipients: recipients)],
                messageID: message.messageID, authenticated: true)
        }
        let field = "\(authservID); smime=neutral (encrypted without integrity protection, \(unprotected.name))"
        var delivered = current
        var warning: String? = nil
        if unauthenticatedHTML == .neutralise {
            let (neutralised, count) = HTMLNeutraliser.neutraliseParts(of: current)
            if count > 0 {
                delivered = neutralised
                warning = "neutralised \(count) remote reference(s) in HTML decrypted without integrity protection"
            }
        }
        return JobResult(
            outcome: .decrypted,
            outputs: [Output(folder: .decrypted, bytes: Self.adding(field, to: delivered), recipients: recipients)],
            messageID: message.messageID, warning: warning, authenticated: false)
    }

    /// The message with an Authentication-Results field on top (RFC 8601 §5: added fields go first).
    static func adding(_ value: String, to message: Entity) -> [UInt8] {
        var copy = message
        copy.fields.insert(HeaderField(name: "Authentication-Results", value: value), at: 0)
        return copy.serialized()
    }

    /// A reason made safe for a header comment: one line, no parentheses or backslashes.
    static func comment(_ reason: String) -> String {
        String(reason.map { "()\\\r\n".contains($0) ? " " : $0 }.prefix(300))
    }
}
