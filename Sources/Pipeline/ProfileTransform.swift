import CMS
import Foundation
import MIME
import Mailstore
import PKI
import Policy
import SMIME

/// A sending profile ready to apply (SPEC F1–F7): its signer and the reasons its
/// certificate cannot sign at all, found once per run and shared by every worker.
public struct ProfileTransform: Sendable {
    public let profile: SendingProfile
    public let signer: Signer?
    /// Why the profile's certificate cannot sign at all (checked once per run).
    public let signerProblems: [String]

    public init(profile: SendingProfile, signer: Signer?, at time: Date) {
        self.profile = profile
        self.signer = signer
        self.signerProblems = signer.map { Requirements.signingProblems($0.certificate, at: time) } ?? []
    }

    var signMode: SignMode { SignMode(rawValue: profile.signMode) ?? .detached }
    /// The profile's cipher; with `auto`, the strongest every recipient's owner announced (harvested
    /// certificates' SMIMECapabilities), and AES-256-CBC when any recipient announced nothing.
    func cipher(for certificates: [Certificate], job: OutgoingJob) -> ContentCipher {
        ContentCipher(rawValue: profile.cipher) ?? job.recipients.announcedGCM(for: certificates) ?? .aes256cbc
    }

    /// One copy of a message for `recipients`, per the profile: signed, encrypted, split or bounced.
    /// `original` is the message as received (its authors are checked against the signer; bounces quote it).
    /// With an `irregularity`, the content is signed and encrypted as one leaf, its structure not walked.
    func apply(
        to message: Entity, original: Entity, recipients addresses: [String], sender: String?, job: OutgoingJob,
        input: InputMessage, copy: Int, irregularity: Irregularity?
    ) throws -> JobResult {
        let id = original.messageID
        // Only a mode that signs needs a sender (whose address the signature speaks for);
        // encrypt-only mail without one is still encrypted, and fails only if it must bounce.
        if profile.mode.signs && sender == nil {
            return .failed(input, .noSender, messageID: id)
        }

        // F5: a message that cannot be signed bounces.
        if profile.mode.signs, let sender {
            // The authors of the copy that is signed: a filter's insert-header("From", ...) counts.
            let authors = Envelope.authors(message)
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
                let reason = Reason.signingFailed(problems)
                return job.bounce(
                    original, input: input, sender: sender, reason: reason,
                    recipients: addresses.map { ($0, reason.description) }, copy: copy)
            }
        }

        let asOneLeaf = irregularity != nil
        guard profile.mode.encrypts else {
            return JobResult(
                outcome: .signed,
                outputs: [
                    Output(
                        folder: .signed, bytes: try signClear(message, asOneLeaf: asOneLeaf).serialized(),
                        recipients: addresses)
                ],
                signer: signerName(original), messageID: id)
        }
        if addresses.isEmpty {
            return JobResult(
                outcome: .passed, outputs: [Output(folder: .passed, bytes: message.serialized(), recipients: [])],
                reason: .noRecipients, messageID: id)
        }
        var keyed: [(String, Certificate)] = []
        var missing: [String] = []
        for address in addresses {
            if let certificate = job.recipients.certificate(for: address) {
                keyed.append((address, certificate))
            } else {
                missing.append(address)
            }
        }
        let missingReason = Reason.noCertificate(for: missing)
        /// One envelope for the visible recipients, one alone for each Bcc recipient.
        func envelopes(_ keyed: [(String, Certificate)]) throws -> [Output] {
            let hasBcc = original.fields.contains { $0.hasName("Bcc") }  // most mail has none: no second envelope read
            let blind = hasBcc ? Envelope(original).blindRecipients : []
            let groups = [keyed.filter { !blind.contains($0.0) }] + keyed.filter { blind.contains($0.0) }.map { [$0] }
            return try groups.filter { !$0.isEmpty }.map { group in
                let encrypted = try protect(message, for: group.map(\.1), job: job, asOneLeaf: asOneLeaf)
                return Output(folder: .encrypted, bytes: encrypted.serialized(), recipients: group.map(\.0))
            }
        }
        if missing.isEmpty {
            return JobResult(
                outcome: .encrypted, outputs: try envelopes(keyed), signer: signerName(original), messageID: id)
        }
        switch profile.missingKey {
        case .bounce:
            let details = addresses.map { address in
                (
                    address,
                    missing.contains(address)
                        ? "no usable S/MIME certificate" : "not sent: other recipients have no usable certificate"
                )
            }
            guard let sender else {
                return .failed(input, .noBounceAddress(missingReason), messageID: id)
            }
            return job.bounce(
                original, input: input, sender: sender, reason: missingReason, recipients: details, copy: copy)
        case .drop:
            return JobResult(outcome: .dropped, outputs: [], reason: missingReason, messageID: id)
        case .split:
            var outputs = try envelopes(keyed)
            // The clear copy: signed when the profile signs, unchanged otherwise.
            let clear = profile.mode.signs ? try signClear(message, asOneLeaf: asOneLeaf) : message
            outputs.append(Output(folder: .split, bytes: clear.serialized(), recipients: missing))
            return JobResult(
                outcome: .split, outputs: outputs, reason: missingReason, signer: signerName(original), messageID: id)
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
    private func sign(_ message: Entity, asOneLeaf: Bool, inner: [HeaderField] = []) throws -> Entity {
        guard let signer else { throw SMIMEError("the profile has no signing certificate") }
        return try SMIME.sign(
            message, signer: signer, mode: asOneLeaf ? .opaque : signMode, asOneLeaf: asOneLeaf, innerFields: inner)
    }

    /// A copy that is signed, not encrypted: its header protected under the signature (`hp="clear"`).
    private func signClear(_ message: Entity, asOneLeaf: Bool) throws -> Entity {
        let prepared = profile.headerProtection.prepare(message, encrypted: false)
        return try sign(prepared?.message ?? message, asOneLeaf: asOneLeaf, inner: prepared?.inner ?? [])
    }

    /// F4: encrypt · sign, then encrypt · sign, encrypt, sign again (RFC 2634 §1.1).
    /// `asOneLeaf` applies to the layer around the message; the layers around it are well formed.
    private func protect(_ message: Entity, for certificates: [Certificate], job: OutgoingJob, asOneLeaf: Bool)
        throws -> Entity
    {
        let transport: KeyTransport = profile.oaep ? .oaep : .pkcs1v15
        let cipher = cipher(for: certificates, job: job)
        func encrypt(_ entity: Entity, asOneLeaf: Bool, inner: [HeaderField] = []) throws -> Entity {
            try SMIME.encrypt(
                entity, recipients: certificates, cipher: cipher, keyTransport: transport, asOneLeaf: asOneLeaf,
                innerFields: inner)
        }
        // F36: the protected fields go on the innermost entity (the Cryptographic Payload's root, inside the
        // envelope and under the first signature); the outer header is obscured before any layer copies it.
        guard profile.mode.encrypts else { return try signClear(message, asOneLeaf: asOneLeaf) }
        let prepared = profile.headerProtection.prepare(
            message, encrypted: true, legacyDisplay: profile.legacyDisplay && !asOneLeaf)
        let payload = prepared?.message ?? message
        let inner = prepared?.inner ?? []
        switch profile.mode {
        case .sign, .encrypt: return try encrypt(payload, asOneLeaf: asOneLeaf, inner: inner)
        case .signEncrypt: return try encrypt(try sign(payload, asOneLeaf: asOneLeaf, inner: inner), asOneLeaf: false)
        case .triple:
            return try sign(
                try encrypt(try sign(payload, asOneLeaf: asOneLeaf, inner: inner), asOneLeaf: false),
                asOneLeaf: false)
        }
    }

    /// The manifest's warning for a message sent as one leaf: why, and what was done instead.
    func warning(for irregularity: Irregularity, outcome: Outcome) -> String {
        guard [.signed, .encrypted, .split].contains(outcome) else { return "\(irregularity)" }
        guard profile.mode.signs else { return "\(irregularity): encrypted as one part" }
        return "\(irregularity): " + (signMode == .detached ? "signed opaque" : "signed as one part")
    }
}
