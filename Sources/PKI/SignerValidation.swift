import CMS
import Foundation

/// Decides whether a cryptographically valid signature is also trustworthy
/// (SPEC F10): the signer's certificate chains to a trusted CA, is valid now,
/// allows signing, and speaks for the message's From (or Sender) address.
public struct SignerValidation: Sendable {
    public var anchors: [Certificate]
    public var time: Date
    public var requireAddressMatch: Bool
    /// SHA-1 (and MD5) signatures are not trusted by default: collisions are
    /// practical, and Thunderbird rejects them too. Archives of old mail may allow SHA-1.
    public var allowSHA1: Bool

    public init(anchors: [Certificate], time: Date = Date(), requireAddressMatch: Bool = true, allowSHA1: Bool = false) {
        self.anchors = anchors
        self.time = time
        self.requireAddressMatch = requireAddressMatch
        self.allowSHA1 = allowSHA1
    }

    /// The reason a signature's digest algorithm is not acceptable, or nil.
    public func digestProblem(_ digest: String?) -> String? {
        guard let digest = digest?.lowercased() else { return nil }
        if digest == "md5" || (digest == "sha1" && !allowSHA1) {
            return "weak digest algorithm \(digest): the signature is not trusted"
        }
        return nil
    }

    /// The first reason the signer is not acceptable, or nil when it is.
    public func problem(signer: Certificate, intermediates: [Certificate], from address: String?) -> String? {
        if let expired = Requirements.validityProblems(signer, at: time).first {
            return "signer \(expired)"
        }
        do {
            try ChainVerifier(anchors: anchors).verify(signer, intermediates: intermediates, at: time)
        } catch let error as OpenSSLError {
            return "untrusted signer certificate: \(error.reasons.joined(separator: "; "))"
        } catch {
            return "untrusted signer certificate: \(error)"
        }
        if let usage = Requirements.signerProblems(signer, at: time).first {
            return "signer certificate \(usage)"
        }
        if requireAddressMatch {
            guard let address else { return "the message has no From address to match the signer certificate" }
            if !AddressMatch.covers(signer, address) {
                let names = (signer.emailAddresses + signer.dnsNames).joined(separator: ", ")
                return
                    "From address \(address) is not covered by the signer certificate (\(names.isEmpty ? "no e-mail or domain names" : names))"
            }
        }
        return nil
    }
}

/// Chooses a recipient certificate for an address (SPEC F18/F19): exact SAN
/// e-mail first, then SAN domain; only certificates valid now and usable for
/// encryption; among several, the one with the latest notAfter (key rotation).
public enum RecipientSelection {
    public static func choose(for address: String, among candidates: [Certificate], at time: Date = Date()) -> Certificate? {
        let usable = candidates.filter { Requirements.encryptionProblems($0, at: time).isEmpty }
        let byEmail = usable.filter { AddressMatch.emailCovers($0, address) }
        let pool = byEmail.isEmpty ? usable.filter { AddressMatch.domainCovers($0, address) } : byEmail
        return pool.max { $0.notAfter < $1.notAfter }
    }
}
