/// The weakest keys and certificate signatures a trusted chain may contain.
public enum AlgorithmFloor: Sendable, Equatable {
    /// OpenSSL's security level 2 (`X509_VERIFY_PARAM_set_auth_level`): 112-bit security,
    /// no MD5 or SHA-1 certificate signatures; and, checked on their own, RSA and DSA keys of
    /// at least 2,048 bits (level 2 rounds RSA-2000 up to 112 bits) and EC keys of at least
    /// 256 bits (level 2 would still let P-224 through).
    case standard
    /// No floor, for archives of old mail: the weaknesses found are reported instead.
    case legacy

    /// RFC 8551 §2.5.1 and NIST SP 800-131A: 112 bits of security.
    static let minimumSecurityBits: Int32 = 112
    static let minimumECBits = 256
    static let minimumRSABits = 2048
    static let authLevel: Int32 = 2
}
