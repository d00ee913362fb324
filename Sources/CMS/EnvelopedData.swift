import COpenSSL
import Foundation

extension CMS {
    /// RFC 5652 §6 EnvelopedData (CBC ciphers) or RFC 5083 AuthEnvelopedData (GCM):
    /// a random content-encryption key, wrapped for every recipient — RSA key
    /// transport (PKCS #1 v1.5, or OAEP with SHA-256, RFC 8017/RFC 4055) or, for EC
    /// recipients, ECDH key agreement (RFC 5753). `content` must be canonical.
    public static func encrypt(
        _ content: [UInt8], recipients: [Certificate], cipher: ContentCipher = .aes256cbc,
        keyTransport: KeyTransport = .pkcs1v15
    ) throws -> [UInt8] {
        guard !recipients.isEmpty else { throw OpenSSLError(operation: "encrypt", reasons: ["no recipients"]) }
        OpenSSLError.clear()
        let flags = UInt32(CMS_PARTIAL | CMS_BINARY)
        guard let raw = CMS_encrypt(nil, nil, cipher.evp, flags) else { throw OpenSSLError.drain("encrypt") }
        let cms = ContentInfo(taking: raw)
        for recipient in recipients {
            let isRSA = recipient.publicKey.algorithm == "RSA"
            let useOAEP = keyTransport == .oaep && isRSA
            let riFlags = useOAEP ? flags | UInt32(CMS_KEY_PARAM) : flags
            guard let ri = CMS_add1_recipient_cert(cms.cms, recipient.x509, riFlags) else {
                let error = OpenSSLError.drain("encrypt")
                throw OpenSSLError(operation: "encrypt to \(recipient.subject)", reasons: error.reasons)
            }
            if useOAEP {
                guard let pctx = CMS_RecipientInfo_get0_pkey_ctx(ri),
                    smg_EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_OAEP_PADDING) > 0,
                    smg_EVP_PKEY_CTX_set_rsa_oaep_md(pctx, EVP_sha256()) > 0,
                    smg_EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, EVP_sha256()) > 0
                else { throw OpenSSLError.drain("encrypt (RSA-OAEP)") }
            }
        }
        guard try MemoryBIO.reading(content, { CMS_final(cms.cms, $0.bio, nil, flags) }) == 1 else {
            throw OpenSSLError.drain("encrypt")
        }
        return try cms.der
    }

    /// Decrypts EnvelopedData or AuthEnvelopedData with `key`. The recipient info is
    /// found by `certificate` (issuer-and-serial or subject key identifier).
    public static func decrypt(_ der: [UInt8], certificate: Certificate, key: PrivateKey) throws -> [UInt8] {
        try decrypt(der, candidates: [(certificate, key)]).plaintext
    }

    /// Decrypts with the first of `candidates` that a recipient info names, parsing
    /// the message once however many organisation keys there are. Returns the
    /// plaintext, the index of the candidate used, and the content encryption. An AuthEnvelopedData whose GCM
    /// tag is shorter than RFC 5084 allows, or does not match, throws
    /// `AuthenticatedDecryptionFailure` (no plaintext is returned).
    public static func decrypt(_ der: [UInt8], candidates: [(certificate: Certificate, key: PrivateKey)]) throws
        -> (plaintext: [UInt8], index: Int, encryption: ContentEncryption)
    {
        let cms = try ContentInfo(der: der)
        switch cms.contentType {
        case .envelopedData, .authEnvelopedData: break
        case let other: throw OpenSSLError(operation: "decrypt", reasons: ["not an enveloped message (\(other))"])
        }
        guard let index = candidates.firstIndex(where: { addressedTo(cms, $0.certificate) }) else {
            let whom =
                candidates.count == 1
                ? candidates[0].certificate.subject : "any of \(candidates.count) organisation certificates"
            throw EnvelopeNotAddressed(recipient: whom)
        }
        let (certificate, key) = candidates[index]
        let authenticated = cms.contentType == .authEnvelopedData
        // One DER encoding and walk per message serves the tag check and the cipher's name.
        let structure: EnvelopeStructure
        do {
            structure = try EnvelopeStructure(contentInfo: cms.der)
        } catch is DERReader.Malformed where authenticated {
            throw AuthenticatedDecryptionFailure.malformed
        }
        if authenticated, let problem = try AuthenticationTag(structure).problem { throw problem }
        OpenSSLError.clear()
        let out = try MemoryBIO()
        guard CMS_decrypt(cms.cms, key.pkey, certificate.x509, nil, out.bio, UInt32(CMS_BINARY)) == 1 else {
            let error = OpenSSLError.drain("decrypt")
            if error.reasons.contains(where: { $0.contains("no matching recipient") }) {
                throw EnvelopeNotAddressed(recipient: certificate.subject)
            }
            if error.reasons.isEmpty && authenticated { throw AuthenticatedDecryptionFailure.tagCheckFailed }
            if error.reasons.isEmpty {
                throw OpenSSLError(
                    operation: "decrypt", reasons: ["the private key does not decrypt the content-encryption key"])
            }
            throw error
        }
        return (out.bytes, index, ContentEncryption(structure, authenticated: authenticated))
    }

    /// True when a recipient info names `certificate` (issuer-and-serial or
    /// subject key identifier), for key transport or key agreement.
    static func addressedTo(_ cms: ContentInfo, _ certificate: Certificate) -> Bool {
        guard let infos = CMS_get0_RecipientInfos(cms.cms) else { return false }
        defer { ERR_clear_error() }
        for i in 0..<OPENSSL_sk_num(infos) {
            guard let ri = OPENSSL_sk_value(infos, i).map({ OpaquePointer($0) }) else { continue }
            switch CMS_RecipientInfo_type(ri) {
            case CMS_RECIPINFO_TRANS:
                if CMS_RecipientInfo_ktri_cert_cmp(ri, certificate.x509) == 0 { return true }
            case CMS_RECIPINFO_AGREE:
                guard let keys = CMS_RecipientInfo_kari_get0_reks(ri) else { continue }
                for j in 0..<OPENSSL_sk_num(keys) {
                    if let rek = OPENSSL_sk_value(keys, j),
                        CMS_RecipientEncryptedKey_cert_cmp(OpaquePointer(rek), certificate.x509) == 0
                    {
                        return true
                    }
                }
            default: continue
            }
        }
        return false
    }
}

extension CMS {
    /// SHA-256 of the concatenation of `parts` (for content-derived file names), without concatenating them.
    public static func sha256(_ parts: [UInt8]...) -> [UInt8] { sha256(parts: parts) }

    /// SHA-256 of the concatenation of `parts`, any contiguous bytes (an array of hashes, say) without a copy.
    public static func sha256(parts: [some ContiguousBytes]) -> [UInt8] {
        let hasher = SHA256Hasher()
        for part in parts { part.withUnsafeBytes { hasher.update($0) } }
        return hasher.finish()
    }
}

/// SHA-256 fed piece by piece (an index written as it is merged, never whole in memory).
public final class SHA256Hasher {
    private let context = EVP_MD_CTX_new()

    public init() { if let context { EVP_DigestInit_ex(context, EVP_sha256(), nil) } }
    deinit { EVP_MD_CTX_free(context) }

    public func update(_ bytes: UnsafeRawBufferPointer) {
        if let context, bytes.count > 0 { EVP_DigestUpdate(context, bytes.baseAddress, bytes.count) }
    }

    /// The digest of everything given (32 zero bytes if OpenSSL could not make a context).
    public func finish() -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        if let context { EVP_DigestFinal_ex(context, &digest, &length) }
        return digest
    }
}
