import Foundation

/// Whether revocation is a condition of trust (RFC 8550 §2.3, SPEC F25): with `soft`, a certificate
/// whose revocation cannot be decided (no CRL, an expired one, no OCSP answer) is trusted and the
/// result says so; with `hard` it is not trusted.
public enum RevocationChecking: String, Sendable, CaseIterable {
    case soft, hard
}

/// A certificate of the path found revoked at the validation time.
public struct Revocation: Sendable, Equatable, CustomStringConvertible {
    public let subject: String
    public let date: Date?
    public let reason: RevocationReason?
    /// "CRL" or "OCSP".
    public let source: String

    public var description: String {
        let when = date.map { " on \(ISO8601DateFormatter().string(from: $0))" } ?? ""
        let why = reason.map { " (\($0))" } ?? ""
        return "certificate revoked\(when)\(why): \(subject) (\(source))"
    }
}

/// A certificate of the path whose revocation could not be decided, and why.
public struct UnknownRevocation: Sendable, Equatable, CustomStringConvertible {
    public let subject: String
    public let why: String

    public var description: String { "\(why) for \(subject)" }
}

/// What is known of the revocation of a valid path's certificates.
public enum RevocationStatus: Sendable, Equatable, CustomStringConvertible {
    /// Every certificate of the path was checked (CRL or OCSP) and none is revoked.
    case good
    case unknown([UnknownRevocation])

    public var description: String {
        switch self {
        case .good: "good"
        case .unknown(let list): "unknown: " + list.map(\.description).joined(separator: "; ")
        }
    }
}

/// The verdict on a certificate path (RFC 5280 §6) from a leaf to a trusted anchor.
public enum ChainVerdict: Sendable, Equatable, CustomStringConvertible {
    /// A valid path (leaf first, the anchor last); `weaknesses` a `.legacy` floor let through; what is
    /// known of revocation.
    case valid(weaknesses: [AlgorithmWeakness], revocation: RevocationStatus, path: [Certificate])
    /// No valid path (OpenSSL's reason, such as "unable to get local issuer certificate").
    case invalid(String)
    /// The path is valid but a key or a signature in it is below the `AlgorithmFloor`.
    case weakAlgorithms([AlgorithmWeakness])
    case revoked(Revocation)
    /// `RevocationChecking.hard`: a certificate's revocation could not be decided.
    case revocationUnknown([UnknownRevocation])

    public var description: String {
        switch self {
        case .valid(_, let revocation, _): "valid (revocation \(revocation))"
        case .invalid(let reason): reason
        case .weakAlgorithms(let weaknesses):
            "weak algorithms: \(weaknesses.map(\.description).joined(separator: ", "))"
        case .revoked(let revocation): revocation.description
        case .revocationUnknown(let list):
            "revocation unknown: " + list.map(\.description).joined(separator: "; ")
        }
    }
}
