import COpenSSL
import Foundation

/// A private key. Owns an OpenSSL `EVP_PKEY`, frees it in `deinit`.
///
/// Unchecked Sendable, because OpenSSL 3 `EVP_PKEY` objects are safe for concurrent
/// use once built; every signing/decryption makes its own `EVP_PKEY_CTX`.
/// Keys are parsed once per run and shared by the workers (NOTES-openssl.md:
/// parsing per message costs 3.6× throughput).
public final class PrivateKey: @unchecked Sendable {
    let pkey: OpaquePointer

    init(taking pkey: OpaquePointer) { self.pkey = pkey }
    init(retaining pkey: OpaquePointer) {
        EVP_PKEY_up_ref(pkey)
        self.pkey = pkey
    }
    deinit { EVP_PKEY_free(pkey) }

    /// Parses a PEM key (PKCS #8, traditional, or encrypted PKCS #8 with
    /// `passphrase`) or a DER key (PKCS #8 or traditional).
    public convenience init(bytes: [UInt8], passphrase: [UInt8]? = nil) throws {
        OpenSSLError.clear()
        guard !bytes.isEmpty else { throw OpenSSLError(operation: "read private key", reasons: ["empty input"]) }
        let bio = try MemoryBIO(bytes)
        let key: OpaquePointer?
        if bytes.firstRange(of: Array("-----BEGIN".utf8)) != nil {
            // With no callback, OpenSSL takes `u` as a NUL-terminated passphrase.
            // An empty one stops OpenSSL from prompting on the terminal.
            var pass = (passphrase ?? []).map { CChar(bitPattern: $0) } + [0]
            key = PEM_read_bio_PrivateKey(bio.bio, nil, nil, &pass)
            for i in pass.indices { pass[i] = 0 }
        } else {
            key = d2i_PrivateKey_bio(bio.bio, nil)
        }
        guard let key else { throw OpenSSLError.drain("read private key") }
        self.init(taking: key)
    }

    /// Generates an RSA key of `bits` bits.
    public static func generateRSA(bits: Int) throws -> PrivateKey {
        try generate(type: "RSA") { EVP_PKEY_CTX_set_rsa_keygen_bits($0, Int32(bits)) }
    }

    /// Generates an EC key on a named curve ("P-256", "P-384").
    public static func generateEC(curve: String) throws -> PrivateKey {
        try generate(type: "EC") { EVP_PKEY_CTX_set_group_name($0, curve) }
    }

    private static func generate(type: String, configure: (OpaquePointer) -> Int32) throws -> PrivateKey {
        OpenSSLError.clear()
        guard let ctx = EVP_PKEY_CTX_new_from_name(nil, type, nil) else { throw OpenSSLError.drain("generate \(type) key") }
        defer { EVP_PKEY_CTX_free(ctx) }
        var key: OpaquePointer? = nil
        guard EVP_PKEY_keygen_init(ctx) == 1, configure(ctx) == 1, EVP_PKEY_generate(ctx, &key) == 1, let key else {
            throw OpenSSLError.drain("generate \(type) key")
        }
        return PrivateKey(taking: key)
    }

    public func withUnsafePKey<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T { try body(pkey) }

    /// PKCS #8 PEM; encrypted with AES-256-CBC when a passphrase is given.
    public func pkcs8PEM(passphrase: [UInt8]? = nil) throws -> [UInt8] {
        OpenSSLError.clear()
        let bio = try MemoryBIO()
        let ok: Int32
        if let passphrase {
            var pass = passphrase.map { CChar(bitPattern: $0) }
            ok = PEM_write_bio_PKCS8PrivateKey(bio.bio, pkey, EVP_aes_256_cbc(), &pass, Int32(pass.count), nil, nil)
            for i in pass.indices { pass[i] = 0 }
        } else {
            ok = PEM_write_bio_PKCS8PrivateKey(bio.bio, pkey, nil, nil, 0, nil, nil)
        }
        guard ok == 1 else { throw OpenSSLError.drain("write private key") }
        return bio.bytes
    }

    /// True when this key is the private half of `certificate`'s public key.
    public func matches(_ certificate: Certificate) -> Bool {
        let result = X509_check_private_key(certificate.x509, pkey) == 1
        ERR_clear_error()
        return result
    }

    public var algorithm: String { PrivateKey.algorithmName(pkey) }
    public var bits: Int { Int(EVP_PKEY_get_bits(pkey)) }

    static func algorithmName(_ key: OpaquePointer) -> String {
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA: "RSA"
        case EVP_PKEY_RSA_PSS: "RSA-PSS"
        case EVP_PKEY_EC: "EC"
        case EVP_PKEY_ED25519: "Ed25519"
        case EVP_PKEY_DSA: "DSA"
        default: "unknown"
        }
    }
}

/// The contents of a PKCS #12 file (RFC 7292): a key, its certificate, and any chain.
public struct PKCS12Contents: Sendable {
    public let key: PrivateKey
    public let certificate: Certificate
    public let chain: [Certificate]

    /// Opens a PKCS #12 file. A wrong passphrase fails with OpenSSL's "mac verify failure".
    public init(bytes: [UInt8], passphrase: [UInt8]) throws {
        OpenSSLError.clear()
        let bio = try MemoryBIO(bytes)
        guard let p12 = d2i_PKCS12_bio(bio.bio, nil) else {
            throw OpenSSLError(operation: "read PKCS #12", reasons: ["not a PKCS #12 file"])
        }
        defer { PKCS12_free(p12) }
        var pkey: OpaquePointer? = nil
        var cert: OpaquePointer? = nil
        var ca: OpaquePointer? = nil
        var pass = passphrase.map { CChar(bitPattern: $0) } + [0]
        defer { for i in pass.indices { pass[i] = 0 } }
        guard PKCS12_parse(p12, &pass, &pkey, &cert, &ca) == 1 else {
            let error = OpenSSLError.drain("open PKCS #12")
            if error.reasons.contains(where: { $0.contains("mac verify") }) {
                throw OpenSSLError(operation: "open PKCS #12", reasons: ["wrong passphrase (mac verify failure)"])
            }
            throw error
        }
        guard let pkey, let cert else {
            if let pkey { EVP_PKEY_free(pkey) }
            if let cert { X509_free(cert) }
            if let ca { OPENSSL_sk_pop_free(ca, { X509_free(OpaquePointer($0)) }) }
            throw OpenSSLError(operation: "open PKCS #12", reasons: ["the file holds no private key with its certificate"])
        }
        var chain: [Certificate] = []
        if let ca {
            for i in 0..<OPENSSL_sk_num(ca) {
                if let x = OPENSSL_sk_value(ca, i) { chain.append(Certificate(taking: OpaquePointer(x))) }
            }
            OPENSSL_sk_free(ca)  // the certificates now belong to `chain`
        }
        self.key = PrivateKey(taking: pkey)
        self.certificate = Certificate(taking: cert)
        self.chain = chain
    }
}
