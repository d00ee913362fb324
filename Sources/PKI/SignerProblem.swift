import CMS

/// Why a signer's certificate is not trusted for a signature (SPEC F10).
public struct SignerProblem: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        /// Outside its validity period at the validation time.
        case expired
        /// No valid path to a trusted CA.
        case untrusted
        /// A key or a certificate signature of the path is below the algorithm floor.
        case weakAlgorithms
        /// Key usage or extended key usage does not allow signing mail.
        case unusable
        /// The signer's certificate or a CA of its path was revoked at the validation time.
        case revoked(Revocation)
        /// `revocation = hard`, and no CRL or OCSP answer decided a certificate of the path.
        case revocationUnknown
        /// `--validation-time signing-time`, and no usable time: no signingTime attribute and no valid
        /// time-stamp token, or a signingTime outside the signer certificate's validity or in the future.
        case signingTime
    }

    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var description: String { reason }
}
