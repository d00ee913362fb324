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

    /// The signer of a verified signature a message is shown as coming from: of `signers`, the
    /// trusted ones (`SignerValidation.assess`), and among them the first covering the author,
    /// so a message signed by two people may come from either (RFC 5652 §5.1 allows several
    /// SignerInfos). A signer that is not trusted covers nothing; when none is trusted, the
    /// first one's problem is the failure. With `requireAddressMatch` the author must be covered.
    /// `signers` is not empty.
    static func trustedSigner(
        of message: Entity, among signers: [Certificate], intermediates: [Certificate], validation: SignerValidation
    ) -> (signer: Certificate, failure: VerificationFailure?, trusted: SignerValidation.Trusted?) {
        var trusted: [(certificate: Certificate, trusted: SignerValidation.Trusted)] = []
        var problem: (certificate: Certificate, problem: SignerProblem)? = nil
        for signer in signers {
            switch validation.assess(signer: signer, intermediates: intermediates) {
            case .success(let found): trusted.append((signer, found))
            case .failure(let found): problem = problem ?? (signer, found)
            }
        }
        guard let first = trusted.first else {
            let (signer, found) = problem!
            return (signer, VerificationFailure(.signer(found.kind), found.reason), nil)
        }
        switch authorIdentity(
            of: message, signers: trusted.map(\.certificate), acceptSenderMatch: validation.acceptSenderMatch)
        {
        case .success(let address):
            let chosen = trusted.first { AddressMatch.covers($0.certificate, address) } ?? first
            return (chosen.certificate, nil, chosen.trusted)
        case .failure(let failure):
            return validation.requireAddressMatch
                ? (first.certificate, failure, nil) : (first.certificate, nil, first.trusted)
        }
    }
}
