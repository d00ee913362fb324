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
        JobResult.reading(input) { resign(input, $0) }
    }

    private func resign(_ input: InputMessage, _ reading: ParsedMessage) -> JobResult {
        // A result claiming our authserv-id is not ours until we write it (RFC 8601 §5).
        let message = AuthenticationResults.removingOurs(from: reading.entity, authservID: authservID).message
        let id = message.messageID
        do {
            var current = message
            var form = try SMIMEForm.classify(current)
            var encrypted = false
            if case .enveloped = form {
                do {
                    current = try SMIME.decryption(current, form: form, candidates: candidates).message
                } catch let error as SMIMEError where error.kind == .notAddressed {
                    return .failed(input, .notAddressed, messageID: id)
                } catch {
                    return .failed(input, .decryptionFailed("\(error)"), messageID: id)
                }
                encrypted = true
                form = try SMIMEForm.classify(current)
            }
            // What is not re-signed stays as it was.
            guard form.isSigned else { return .unchanged(input, reading, .passed, .notSigned) }
            let verification = try SMIME.verify(current, form: form, validation: validation)
            let signerName = verification.signer.map { $0.emailAddresses.first ?? $0.subject }
            var oldVerdict: Reason? = nil
            if let failure = verification.verdict.failure {
                oldVerdict = .signatureFailed(result: failure.result.rawValue, failure.reason)
                if !resignUnverified { return .unchanged(input, reading, .unverified, oldVerdict, signer: signerName) }
            }
            let content: Entity
            switch oldSignature {
            case .replace:
                guard let unwrapped = verification.unwrapped else {
                    return .failed(input, .malformed("the signed content cannot be read"), messageID: id)
                }
                content = unwrapped
            case .wrap:
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
                    return .failed(input, missing.isEmpty ? .noRecipients : .noCertificate(for: missing), messageID: id)
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
            return .failed(input, .processingFailed("\(error)"), messageID: id)
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
