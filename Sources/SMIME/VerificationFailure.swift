import CMS
import MIME
import PKI

/// Why a signed message did not pass, and the RFC 7281 result that reports it.
public struct VerificationFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: Equatable, Sendable {
        case badSignature
        case signerCertificateMissing
        case weakDigest
        case signer(SignerProblem.Kind)
        /// The From field is not one plain mailbox (RFC 5322 §3.6.2).
        case author(AuthorProblem)
        /// No signer covers the From address (RFC 8550 §3), nor Sender where that is accepted.
        case authorNotCovered
        /// A SignedData that is not signed mail.
        case structure(SignedDataViolation)
    }

    /// RFC 7281 §2.3: `fail` when the signature or its signer is not good enough,
    /// `permerror` when the message's structure cannot be accepted at all.
    public enum Result: String, Sendable {
        case fail, permerror
    }

    public let kind: Kind
    public let reason: String

    public init(_ kind: Kind, _ reason: String) {
        self.kind = kind
        self.reason = reason
    }

    public var result: Result {
        if case .structure = kind { return .permerror }
        return .fail
    }

    public var description: String { reason }
}
