import CMS
import Foundation

/// Decides whether a cryptographically valid signature is also trustworthy
/// (SPEC F10): the signer's certificate chains to a trusted CA, is valid now,
/// allows signing, uses algorithms above the floor, and (in the SMIME layer)
/// speaks for the message's From address.
public struct SignerValidation: Sendable {
    /// The run's anchors, known intermediates and CRLs, and how revocation is judged.
    public var trust: TrustStore
    /// The time the signer is judged at: the run's time, or the one `moment` chose for a signature.
    public var time: Date
    /// Which time each signature is judged at (`--validation-time`); `moment` turns it into `time`.
    public var validationTime: ValidationTime = .now
    /// `time` is the signer's own signingTime claim: a key compromise revokes whatever its date.
    public var timeClaimedBySigner = false
    public var requireAddressMatch: Bool
    /// SHA-1 (and MD5) signatures are not trusted by default: collisions are
    /// practical, and Thunderbird rejects them too. Archives of old mail may allow SHA-1.
    public var allowSHA1: Bool
    /// Keys and certificate signatures below `AlgorithmFloor.standard` (RSA under 2,048
    /// bits, MD5 or SHA-1 certificates) are not trusted by default; archives may allow
    /// them, and the result then names what was accepted.
    public var allowWeak: Bool
    /// RFC 8550 §3: a signer who covers the Sender address but not From is accepted only
    /// with this setting (`accept-sender-match = yes`); the reader sees From, not Sender.
    public var acceptSenderMatch: Bool

    public init(
        trust: TrustStore, time: Date = Date(), requireAddressMatch: Bool = true, allowSHA1: Bool = false,
        allowWeak: Bool = false, acceptSenderMatch: Bool = false
    ) {
        self.trust = trust
        self.time = time
        self.requireAddressMatch = requireAddressMatch
        self.allowSHA1 = allowSHA1
        self.allowWeak = allowWeak
        self.acceptSenderMatch = acceptSenderMatch
    }

    /// The reason a signature's digest algorithm is not acceptable, or nil.
    public func digestProblem(_ digest: String?) -> String? {
        guard let digest = digest?.lowercased() else { return nil }
        if digest == "md5" || (digest == "sha1" && !allowSHA1) {
            return "weak digest algorithm \(digest): the signature is not trusted"
        }
        return nil
    }

    /// What a trusted signer's certificate brings: the weaknesses `allowWeak` let through, and
    /// what is known of the revocation of its path.
    public struct Trusted: Sendable, Equatable {
        public var weaknesses: [AlgorithmWeakness]
        public var revocation: RevocationStatus
        /// The validated path, the signer first and the anchor last.
        public var path: [Certificate]
    }

    /// Judges the signer's certificate (not its address): validity, a path to an anchor above
    /// the algorithm floor, revocation, key usage.
    public func assess(signer: Certificate, intermediates: [Certificate]) -> Result<Trusted, SignerProblem> {
        if let expired = Requirements.validityProblems(signer, at: time).first {
            return .failure(SignerProblem(.expired, "signer \(expired)"))
        }
        let trusted: Trusted
        let floor: AlgorithmFloor = allowWeak ? .legacy : .standard
        switch trust.validate(
            signer, untrusted: intermediates, at: time, floor: floor, claimedTime: timeClaimedBySigner)
        {
        case .valid(let weaknesses, let revocation, let path):
            trusted = Trusted(weaknesses: weaknesses, revocation: revocation, path: path)
        case .weakAlgorithms(let weak):
            let names = weak.map(\.description).joined(separator: ", ")
            return .failure(SignerProblem(.weakAlgorithms, "signer certificate below the algorithm floor: \(names)"))
        case .revoked(let revocation): return .failure(SignerProblem(.revoked(revocation), "\(revocation)"))
        case .revocationUnknown(let unknown):
            let list = unknown.map(\.description).joined(separator: "; ")
            return .failure(SignerProblem(.revocationUnknown, "revocation unknown (revocation = hard): \(list)"))
        case .invalid(let reason): return .failure(SignerProblem(.untrusted, "untrusted signer certificate: \(reason)"))
        }
        if let usage = Requirements.signerProblems(signer, at: time).first {
            return .failure(SignerProblem(.unusable, "signer certificate \(usage)"))
        }
        return .success(trusted)
    }
}

/// Chooses a recipient certificate for an address (SPEC F18/F19): exact SAN
/// e-mail first, then SAN domain; only certificates valid now and usable for
/// encryption; among several, the one with the latest notAfter (key rotation).
public enum RecipientSelection {
    public static func choose(for address: String, among candidates: [Certificate], at time: Date = Date())
        -> Certificate?
    {
        let usable = candidates.filter { Requirements.encryptionProblems($0, at: time).isEmpty }
        let byEmail = usable.filter { AddressMatch.emailCovers($0, address) }
        let pool = byEmail.isEmpty ? usable.filter { AddressMatch.domainCovers($0, address) } : byEmail
        return pool.max { $0.notAfter < $1.notAfter }
    }
}
