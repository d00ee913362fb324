import CMS
import MIME
import Mailstore
import PKI
import Policy
import SMIME

/// `process resign` (archives): each signed message is verified (at the validation time asked for), then
/// signed again with a sending profile's certificate. *replace* removes the old signature and signs its
/// content; *wrap* signs the old signed message as it is. Either way an Authentication-Results field with
/// the old verdict goes into the header of the newly signed entity, so the new signature attests what
/// the gateway checked. Encrypted input is decrypted first and, when the profile encrypts, encrypted
/// again to its recipients' current certificates.
public struct ResignJob: Job {
    public enum OldSignature: String, Sendable, CaseIterable {
        case replace, wrap
    }

    public let profile: SendingProfile
    public let signer: Signer
    public let oldSignature: OldSignature
    public let validation: SignerValidation
    /// Re-sign messages whose old signature does not verify too (their verdict recorded as fail).
    public let resignUnverified: Bool
    /// Organisation keys (retired ones included) to decrypt with.
    public let candidates: [(certificate: Certificate, key: PrivateKey)]
    /// The current certificate for a recipient address, to encrypt to again.
    public let recipientCertificate: @Sendable (String) -> Certificate?
    public let authservID: String

    public var direction: Direction { .incoming }
    public var operation: String { "resign" }
    public var profileName: String? { profile.name }
    public var outcomes: [Outcome] { [.resigned, .unverified, .passed, .failed] }

    public init(
        profile: SendingProfile, signer: Signer, oldSignature: OldSignature, validation: SignerValidation,
        resignUnverified: Bool, candidates: [(certificate: Certificate, key: PrivateKey)],
        recipientCertificate: @escaping @Sendable (String) -> Certificate?, authservID: String
    ) {
        self.profile = profile
        self.signer = signer
        self.oldSignature = oldSignature
        self.validation = validation
        self.resignUnverified = resignUnverified
        self.candidates = candidates
        self.recipientCertificate = recipientCertificate
        self.authservID = authservID
    }

    public func process(_ input: InputMessage) -> JobResult {
        let reading: ParsedMessage
        do {
            reading = try Entity.parseMessage(input.bytes)
        } catch {
            // Left as received, but never with a result that claims to be ours.
            var result = JobResult.failed(input, .unreadable("\(error)"))
            let bytes = AuthenticationResults.removingOurs(fromRaw: input.bytes, authservID: authservID).bytes
            result.outputs = [Output(folder: .failed, bytes: bytes, recipients: [])]
            return result
        }
        return resign(input, reading)
    }

    private func resign(_ input: InputMessage, _ reading: ParsedMessage) -> JobResult {
        // A result claiming our authserv-id is not ours until we write it (RFC 8601 §5), on no output.
        let (message, removed, cleaned) = AuthenticationResults.removingOurs(
            from: reading.entity, authservID: authservID)
        let id = message.messageID
        /// What is not re-signed stays as it was received, but for results claiming our authserv-id.
        func keep(_ outcome: Outcome, _ reason: Reason?, signer: String? = nil) -> JobResult {
            let bytes =
                removed > 0 || cleaned > 0
                ? message.serialized()
                : reading.messageStart == 0 ? input.bytes : Array(input.bytes[reading.messageStart...])
            return JobResult(
                outcome: outcome, outputs: [Output(folder: outcome, bytes: bytes, recipients: [])], reason: reason,
                signer: signer, messageID: id)
        }
        func failed(_ reason: Reason) -> JobResult { keep(.failed, reason) }
        do {
            var current = message
            var form = try SMIMEForm.classify(current)
            var encrypted = false
            if case .enveloped = form {
                do {
                    current = try SMIME.decryption(current, form: form, candidates: candidates).message
                } catch let error as SMIMEError where error.kind == .notAddressed {
                    return failed(.notAddressed)
                } catch {
                    return failed(.decryptionFailed("\(error)"))
                }
                encrypted = true
                form = try SMIMEForm.classify(current)
            }
            guard form.isSigned else { return keep(.passed, .notSigned) }
            // As for incoming mail: the signed layer's own header is not signed, and two Content-Types or
            // boundaries there let readers see other content than the one verified (and wrapped).
            if let ambiguity = MalformedContent.ambiguity(in: current) {
                return keep(.unverified, .malformed("ambiguous MIME around the signature: \(ambiguity)"))
            }
            let verification = try SMIME.verify(current, form: form, validation: validation)
            let signerName = verification.signer.map { $0.emailAddresses.first ?? $0.subject }
            var oldVerdict: Reason? = nil
            if let failure = verification.verdict.failure {
                oldVerdict = .signatureFailed(result: failure.result.rawValue, failure.reason)
                if !resignUnverified { return keep(.unverified, oldVerdict, signer: signerName) }
            }
            let content: Entity
            switch oldSignature {
            case .replace:
                guard let unwrapped = verification.unwrapped else {
                    return failed(.malformed("the signed content cannot be read"))
                }
                content = unwrapped
            case .wrap:
                // The old signed entity is kept whole: a result claiming our authserv-id inside it would sit
                // under our new signature, beside the verdict we attest.
                let inner = SMIME.signedContent(form)?.fields ?? []
                if inner.contains(where: { AuthenticationResults.isOurs($0, authservID: authservID) }) {
                    return failed(
                        .unsupported(
                            "the signed content carries an Authentication-Results field claiming \(authservID): "
                                + "wrapping would attest it (--old-signature replace drops it)"))
                }
                content = current
            }
            let field = HeaderField(name: AuthenticationResults.fieldName, value: attestation(verification))
            let mode = SignMode(rawValue: profile.signMode) ?? .detached
            var output = try SMIME.sign(content, signer: signer, mode: mode, innerFields: [field])
            if encrypted && profile.mode.encrypts {
                let addresses = Envelope(message).recipients
                let found = addresses.map { ($0, recipientCertificate($0)) }
                let missing = found.filter { $0.1 == nil }.map(\.0)
                guard missing.isEmpty, !found.isEmpty else {
                    return failed(missing.isEmpty ? .noRecipients : .noCertificate(for: missing))
                }
                let certificates = found.compactMap(\.1)
                output = try SMIME.encrypt(
                    output, recipients: certificates, cipher: ContentCipher(rawValue: profile.cipher) ?? .aes256cbc,
                    keyTransport: profile.oaep ? .oaep : .pkcs1v15)
                if profile.mode == .triple { output = try SMIME.sign(output, signer: signer, mode: mode) }
            }
            var result = JobResult(
                outcome: .resigned, outputs: [Output(folder: .resigned, bytes: output.serialized(), recipients: [])],
                reason: oldVerdict, signer: signerName, messageID: id)
            result.moment = verification.moment
            if encrypted && !profile.mode.encrypts {
                result.warning = "decrypted: profile \(profile.name) does not encrypt, so the output is in clear"
            }
            return result
        } catch {
            return failed(.processingFailed("\(error)"))
        }
    }

    /// The old signature's verdict as RFC 8601/7281 report it, with the time it was judged at.
    private func attestation(_ verification: Verification) -> String {
        let moment = verification.moment.map { IncomingJob.comment("validated at \($0)") }
        guard let failure = verification.verdict.failure else {
            let identifier = verification.signer.flatMap { $0.emailAddresses.first }
            return "\(authservID); smime=pass" + (moment.map { " (\($0))" } ?? "")
                + (identifier.map { " body.smime-identifier=\($0)" } ?? "")
        }
        let text = [failure.reason, moment].compactMap { $0 }.joined(separator: "; ")
        return "\(authservID); smime=\(failure.result.rawValue) (\(IncomingJob.comment(text)))"
    }
}
