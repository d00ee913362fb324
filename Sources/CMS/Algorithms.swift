import COpenSSL

/// Message digests for signing (RFC 8551 §2.1: SHA-256 must, SHA-384/512 should).
public enum DigestAlgorithm: String, CaseIterable, Sendable {
    case sha256, sha384, sha512

    /// The `micalg` parameter of multipart/signed (RFC 8551 §3.5.3.2).
    public var micalg: String {
        switch self {
        case .sha256: "sha-256"
        case .sha384: "sha-384"
        case .sha512: "sha-512"
        }
    }

    var evp: OpaquePointer? {
        switch self {
        case .sha256: EVP_sha256()
        case .sha384: EVP_sha384()
        case .sha512: EVP_sha512()
        }
    }
}

/// RSA signature schemes. PKCS #1 v1.5 is what every client verifies; PSS is RFC 4056.
public enum SignaturePadding: String, CaseIterable, Sendable {
    case pkcs1v15 = "pkcs1"
    case pss
}

/// Content-encryption algorithms (RFC 8551 §2.7). The GCM modes produce
/// AuthEnvelopedData (RFC 5083/5084), never EnvelopedData.
public enum ContentCipher: String, CaseIterable, Sendable {
    case aes256cbc = "aes-256-cbc"
    case aes128cbc = "aes-128-cbc"
    case aes128gcm = "aes-128-gcm"
    case aes256gcm = "aes-256-gcm"

    public var isAuthenticated: Bool { self == .aes128gcm || self == .aes256gcm }

    var evp: OpaquePointer? {
        switch self {
        case .aes256cbc: EVP_aes_256_cbc()
        case .aes128cbc: EVP_aes_128_cbc()
        case .aes128gcm: EVP_aes_128_gcm()
        case .aes256gcm: EVP_aes_256_gcm()
        }
    }
}

/// RSA key transport: PKCS #1 v1.5 (most compatible) or RSAES-OAEP with SHA-256 (RFC 8017, RFC 4055).
public enum KeyTransport: String, CaseIterable, Sendable {
    case pkcs1v15 = "pkcs1"
    case oaep
}

/// The outer content type of a CMS ContentInfo (RFC 5652 §3, RFC 5083).
public enum CMSContentType: Sendable, Equatable {
    case signedData, envelopedData, authEnvelopedData, compressedData, data
    case other(String)
}
