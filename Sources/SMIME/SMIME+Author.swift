import CMS
import MIME
import PKI

extension SMIME {
    /// The address a signed message may be shown as coming from (RFC 8550 §3): the one
    /// mailbox of its one From field, covered by one of `signers`; or, only with
    /// `acceptSenderMatch`, the one mailbox of Sender. Display names and comments must not
    /// show another address, even after RFC 2047 decoding.
    public static func authorIdentity(
        of message: Entity, signers: [Certificate], acceptSenderMatch: Bool
    ) -> Result<String, VerificationFailure> {
        let from: Mailbox
        switch Mailbox.author(message.fields(named: "From").map(\.value)) {
        case .failure(let problem): return .failure(VerificationFailure(.author(problem), "\(problem)"))
        case .success(let mailbox): from = mailbox
        }
        if signers.contains(where: { AddressMatch.covers($0, from.address) }) { return .success(from.address) }
        let senders = message.fields(named: "Sender").map(\.value)
        if acceptSenderMatch, !senders.isEmpty, case .success(let sender) = Mailbox.author(senders),
            signers.contains(where: { AddressMatch.covers($0, sender.address) })
        {
            return .success(sender.address)
        }
        let all = Set(signers.flatMap { $0.emailAddresses + $0.dnsNames }).sorted().joined(separator: ", ")
        let names = all.isEmpty ? "no e-mail or domain names" : all
        let whom = signers.count == 1 ? "the signer certificate" : "any signer certificate"
        let reason = "From address \(from.address) is not covered by \(whom) (\(names))"
        return .failure(VerificationFailure(.authorNotCovered, reason))
    }
}
