import CMS
import Foundation
import MIME
import Mailstore
import PKI
import Policy
import SMIME

/// The outgoing job (SPEC F1–F7): applies a sending profile to each message.
public struct OutgoingJob: Job {
    public let profile: SendingProfile
    public let signer: Signer?
    /// Why the profile's certificate cannot sign at all (checked once per run).
    public let signerProblems: [String]
    public let recipients: RecipientDirectory
    public let reportingHost: String

    public var direction: String { "outgoing" }
    public var profileName: String? { profile.name }
    public var folders: [Outcome] { [.signed, .encrypted, .split, .bounced, .passed, .failed] }

    public init(profile: SendingProfile, signer: Signer?, recipients: RecipientDirectory, reportingHost: String) {
        self.profile = profile
        self.signer = signer
        self.signerProblems = signer.map { Requirements.signingProblems($0.certificate, at: recipients.time) } ?? []
        self.recipients = recipients
        self.reportingHost = reportingHost
    }

    var signMode: SignMode { SignMode(rawValue: profile.signMode) ?? .detached }
    var cipher: ContentCipher { ContentCipher(rawValue: profile.cipher) ?? .aes256cbc }

    public func process(_ input: InputMessage) -> JobResult {
        let reading: ParsedMessage
        do {
            reading = try Entity.parseMessage(input.bytes)
        } catch {
            return .failed(input, "\(error)")
        }
        let parsed = reading.entity
        let id = parsed.messageID
        func run(_ irregularity: Irregularity?) throws -> JobResult {
            var result = try transform(parsed, input: input, irregularity: irregularity)
            result.warning = irregularity.map { warning(for: $0, outcome: result.outcome) }
            return result
        }
        do {
            do {
                return try run(reading.irregularity)
            } catch let irregularity as Irregularity {
                // A sloppy mailer's structure (issue 8): processed as one opaque leaf, not failed.
                return try run(irregularity)
            }
        } catch {
            return .failed(input, "\(error)", messageID: id)
        }
    }

    /// With an `irregularity`, the content is signed and encrypted as one leaf, its structure not walked.
    private func transform(_ parsed: Entity, input: InputMessage, irregularity: Irregularity?) throws -> JobResult {
        let envelope = Envelope(parsed)
        var message = parsed
        message.removeFields(named: "Bcc")  // DESIGN.md: Bcc is removed from every output
        let id = parsed.messageID
        // Only a mode that signs needs a sender (whose address the signature speaks for);
        // encrypt-only mail without one is still encrypted, and fails only if it must bounce.
        let sender = envelope.sender
        if profile.mode.signs && sender == nil {
            return .failed(input, "the message has no sender address", messageID: id)
        }

        // F5: a message that cannot be signed bounces.
        if profile.mode.signs, let sender {
            let authors = Envelope.authors(parsed)
            var problems = signerProblems
            if problems.isEmpty, let signer {
                let uncovered = (authors.isEmpty ? [sender] : authors).filter {
                    !AddressMatch.covers(signer.certificate, $0)
                }
                if !uncovered.isEmpty {
                    let which =
                        uncovered.count == 1
                        ? "the sender \(uncovered[0]) is" : "the senders \(uncovered.joined(separator: ", ")) are"
                    problems.append("\(which) not covered by certificate \(profile.certificate ?? "?")")
                }
            }
            if !problems.isEmpty {
                let reason = "signing failed: " + problems.joined(separator: "; ")
                return bounce(
                    parsed, input: input, sender: sender, reason: reason,
                    recipients: envelope.recipients.map { ($0, reason) })
            }
        }

        guard profile.mode.encrypts else {
            return JobResult(
                outcome: .signed,
                outputs: [
                    Output(
                        folder: .signed, bytes: try sign(message, asOneLeaf: irregularity != nil).serialized(),
                        recipients: envelope.recipients)
                ],
                signer: signerName(parsed), messageID: id)
        }
        if envelope.recipients.isEmpty {
            return JobResult(
                outcome: .passed, outputs: [Output(folder: .passed, bytes: message.serialized(), recipients: [])],
                reason: "no recipients to encrypt to", messageID: id)
        }
        var keyed: [(String, Certificate)] = []
        var missing: [String] = []
        for address in envelope.recipients {
            if let certificate = recipients.certificate(for: address) {
                keyed.append((address, certificate))
            } else {
                missing.append(address)
            }
        }
        let missingReason = "no usable S/MIME certificate for " + missing.joined(separator: ", ")
        if missing.isEmpty {
            let encrypted = try protect(message, for: keyed.map(\.1), asOneLeaf: irregularity != nil)
            return JobResult(
                outcome: .encrypted,
                outputs: [Output(folder: .encrypted, bytes: encrypted.serialized(), recipients: envelope.recipients)],
                signer: signerName(parsed), messageID: id)
        }
        switch profile.missingKey {
        case .bounce:
            let details = envelope.recipients.map { address in
                (
                    address,
                    missing.contains(address)
                        ? "no usable S/MIME certificate" : "not sent: other recipients have no usable certificate"
                )
            }
            guard let sender else {
                return .failed(input, missingReason + "; no sender address to bounce to", messageID: id)
            }
            return bounce(parsed, input: input, sender: sender, reason: missingReason, recipients: details)
        case .drop:
            return JobResult(outcome: .dropped, outputs: [], reason: missingReason, messageID: id)
        case .split:
            var outputs: [Output] = []
            if !keyed.isEmpty {
                let encrypted = try protect(message, for: keyed.map(\.1), asOneLeaf: irregularity != nil)
                outputs.append(Output(folder: .encrypted, bytes: encrypted.serialized(), recipients: keyed.map(\.0)))
            }
            // The clear copy: signed when the profile signs, unchanged otherwise.
            let clear = profile.mode.signs ? try sign(message, asOneLeaf: irregularity != nil) : message
            outputs.append(Output(folder: .split, bytes: clear.serialized(), recipients: missing))
            return JobResult(
                outcome: .split, outputs: outputs, reason: missingReason, signer: signerName(parsed), messageID: id)
        }
    }

    /// The address the signature speaks for (the author, covered by the certificate).
    private func signerName(_ message: Entity) -> String? {
        guard profile.mode.signs else { return nil }
        return Envelope.author(message) ?? signer?.certificate.emailAddresses.first
    }

    /// Content taken as one leaf is signed opaque whatever the profile says: a
    /// detached signature over a structure that cannot be walked breaks as soon
    /// as a relay "repairs" it; inside the CMS no relay can alter it.
    private func sign(_ message: Entity, asOneLeaf: Bool) throws -> Entity {
        guard let signer else { throw SMIMEError("the profile has no signing certificate") }
        return try SMIME.sign(message, signer: signer, mode: asOneLeaf ? .opaque : signMode, asOneLeaf: asOneLeaf)
    }

    /// F4: encrypt · sign, then encrypt · sign, encrypt, sign again (RFC 2634 §1.1).
    /// `asOneLeaf` applies to the layer around the message; the layers around it are well formed.
    private func protect(_ message: Entity, for certificates: [Certificate], asOneLeaf: Bool) throws -> Entity {
        let transport: KeyTransport = profile.oaep ? .oaep : .pkcs1v15
        func encrypt(_ entity: Entity, asOneLeaf: Bool) throws -> Entity {
            try SMIME.encrypt(
                entity, recipients: certificates, cipher: cipher, keyTransport: transport, asOneLeaf: asOneLeaf)
        }
        switch profile.mode {
        case .sign: return try sign(message, asOneLeaf: asOneLeaf)
        case .encrypt: return try encrypt(message, asOneLeaf: asOneLeaf)
        case .signEncrypt: return try encrypt(try sign(message, asOneLeaf: asOneLeaf), asOneLeaf: false)
        case .triple:
            return try sign(try encrypt(try sign(message, asOneLeaf: asOneLeaf), asOneLeaf: false), asOneLeaf: false)
        }
    }

    /// The manifest's warning for a message sent as one leaf: why, and what was done instead.
    private func warning(for irregularity: Irregularity, outcome: Outcome) -> String {
        guard [.signed, .encrypted, .split].contains(outcome) else { return "\(irregularity)" }
        guard profile.mode.signs else { return "\(irregularity): encrypted as one part" }
        return "\(irregularity): " + (signMode == .detached ? "signed opaque" : "signed as one part")
    }

    private func bounce(
        _ original: Entity, input: InputMessage, sender: String, reason: String, recipients: [(String, String)]
    )
        -> JobResult
    {
        let id = CMS.sha256(Array(input.key.utf8), input.bytes).prefix(12).map { String(format: "%02x", $0) }.joined()
        let dsn = DeliveryStatus(reportingHost: reportingHost).bounce(
            original: original, sender: sender, reason: reason,
            recipients: recipients.map { DeliveryStatus.Recipient(address: $0.0, reason: $0.1) }, id: id)
        return JobResult(
            outcome: .bounced, outputs: [Output(folder: .bounced, bytes: dsn.serialized(), recipients: [sender])],
            reason: reason,
            messageID: original.messageID)
    }
}
