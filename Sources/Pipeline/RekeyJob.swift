import CMS
import MIME
import Mailstore
import SMIME

/// `process rekey` (archives): mail encrypted to one of our keys — a retired one, typically — is
/// decrypted and its content encrypted again, byte for byte (inner signatures untouched), to new
/// recipients. The plaintext is never written: what cannot be re-keyed goes to failed/ as received.
public struct RekeyJob: Job {
    public let candidates: [(certificate: Certificate, key: PrivateKey)]
    public let recipients: [Certificate]
    /// nil: the envelope's own cipher when it is AES, else AES-256-CBC.
    public let cipher: ContentCipher?
    public let keyTransport: KeyTransport

    public var direction: Direction { .incoming }
    public var operation: String { "rekey" }
    public var profileName: String? { nil }
    public var outcomes: [Outcome] { [.rekeyed, .passed, .failed] }

    public init(
        candidates: [(certificate: Certificate, key: PrivateKey)], recipients: [Certificate], cipher: ContentCipher?,
        keyTransport: KeyTransport = .pkcs1v15
    ) {
        self.candidates = candidates
        self.recipients = recipients
        self.cipher = cipher
        self.keyTransport = keyTransport
    }

    public func process(_ input: InputMessage) -> JobResult {
        JobResult.reading(input) { rekey(input, $0) }
    }

    private func rekey(_ input: InputMessage, _ reading: ParsedMessage) -> JobResult {
        let message = reading.entity
        let id = message.messageID
        let form: SMIMEForm
        do {
            form = try SMIMEForm.classify(message)
        } catch {
            return .failed(input, .malformed("\(error)"), messageID: id)
        }
        switch form {
        case .enveloped: break
        case .signedOpaque, .signedDetached:
            // A signature around the envelope (triple wrap) covers the ciphertext: re-keying would break it.
            if SMIME.wrapsEnvelope(form) {
                return .failed(
                    input, .unsupported("the envelope is inside a signature: re-keying would break it"), messageID: id)
            }
            fallthrough
        default:
            return .unchanged(input, reading, .passed, .notEncrypted)
        }
        do {
            let rekeyed = try SMIME.rekey(
                message, form: form, candidates: candidates, recipients: recipients, cipher: cipher,
                keyTransport: keyTransport)
            var result = JobResult(
                outcome: .rekeyed,
                outputs: [Output(folder: .rekeyed, bytes: rekeyed.message.serialized(), recipients: [])],
                messageID: id)
            if rekeyed.from.name.lowercased() != rekeyed.to.rawValue {
                result.warning = "cipher changed from \(rekeyed.from.name) to \(rekeyed.to.rawValue.uppercased())"
            }
            return result
        } catch let error as SMIMEError where error.kind == .notAddressed {
            return .failed(input, .notAddressed, messageID: id)
        } catch {
            return .failed(input, .decryptionFailed("\(error)"), messageID: id)
        }
    }
}
