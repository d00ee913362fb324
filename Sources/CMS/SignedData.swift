import COpenSSL
import Foundation

/// The gateway's signing identity: a certificate, its private key and the chain
/// to include. Built once per run and shared by all workers.
public struct Signer: Sendable {
    public let certificate: Certificate
    public let key: PrivateKey
    public let chain: [Certificate]
    public var digest: DigestAlgorithm
    public var padding: SignaturePadding

    public init(
        certificate: Certificate, key: PrivateKey, chain: [Certificate] = [],
        digest: DigestAlgorithm = .sha256, padding: SignaturePadding = .pkcs1v15
    ) {
        self.certificate = certificate
        self.key = key
        self.chain = chain
        self.digest = digest
        self.padding = padding
    }
}

/// What `CMS.verifySignature` found: the signed content, the signers and the
/// certificates carried in the message. Trust is decided by the caller (PKI).
public struct SignatureCheck: Sendable {
    public let content: [UInt8]
    public let signers: [Certificate]
    public let certificates: [Certificate]
    public let signingTime: Date?
    public let digestAlgorithm: String?
    /// The content ciphers the first signer announced in SMIMECapabilities (RFC 8551 §2.5.2), in its
    /// order of preference, by OpenSSL name ("aes-256-gcm", "aes-256-cbc"); others left out.
    public var capabilities: [String] = []
    /// The first signer's RFC 3161 time-stamp token, when it carries one (checked by `verifyTimestamp`).
    public var timestamp: TimestampEvidence? = nil
    /// How many SignerInfos the SignedData has (`signingTime` and `timestamp` are the first one's).
    public var signerInfos = 1
}

extension CMS {
    /// RFC 5652 §5: SignedData over `content`, with signingTime, SMIMECapabilities,
    /// the signer's certificate and `chain`. `detached` leaves the content out
    /// (multipart/signed). The content is signed exactly as given (CMS_BINARY):
    /// the caller supplies the canonical CRLF form.
    public static func sign(_ content: [UInt8], signer: Signer, detached: Bool) throws -> [UInt8] {
        OpenSSLError.clear()
        var flags = UInt32(CMS_PARTIAL | CMS_BINARY)
        if detached { flags |= UInt32(CMS_DETACHED) }
        guard let raw = CMS_sign(nil, nil, nil, nil, flags) else { throw OpenSSLError.drain("sign") }
        let cms = ContentInfo(taking: raw)
        let usePSS = signer.padding == .pss && signer.key.algorithm == "RSA"
        let signerFlags = usePSS ? flags | UInt32(CMS_KEY_PARAM) : flags
        guard
            let si = CMS_add1_signer(cms.cms, signer.certificate.x509, signer.key.pkey, signer.digest.evp, signerFlags)
        else { throw OpenSSLError.drain("sign") }
        if usePSS {
            guard let pctx = CMS_SignerInfo_get0_pkey_ctx(si),
                smg_EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) > 0,
                smg_EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) > 0
            else { throw OpenSSLError.drain("sign (RSA-PSS)") }
        }
        for certificate in signer.chain where certificate != signer.certificate {
            guard CMS_add1_cert(cms.cms, certificate.x509) == 1 else { throw OpenSSLError.drain("sign (add chain)") }
        }
        guard try MemoryBIO.reading(content, { CMS_final(cms.cms, $0.bio, nil, flags) }) == 1 else {
            throw OpenSSLError.drain("sign")
        }
        return try cms.der
    }

    /// Checks the signatures of a SignedData (RFC 5652 §5.6): the message digest
    /// over the content (`detachedContent` for multipart/signed) and each
    /// signature with the signer's public key. Does not judge the certificates:
    /// chain, dates, key usage and addresses are the PKI layer's work. Throws
    /// `SignedDataViolation` for a structure that is not signed mail (before any signature check).
    public static func verifySignature(_ der: [UInt8], detachedContent: [UInt8]? = nil) throws -> SignatureCheck {
        // The certificates the message carries, each parsed once per run (CarriedCertificates); the message whole
        // when it cannot be split so (BER, other certificate kinds) or a certificate does not parse.
        var carried: [Certificate]? = nil
        var parsed: [UInt8] = der
        if let split = CarriedCertificates.split(der) {
            let certificates = split.certificates.compactMap(CarriedCertificates.certificate)
            if certificates.count == split.certificates.count { (carried, parsed) = (certificates, split.stripped) }
        }
        let cms = try ContentInfo(der: parsed)
        guard cms.contentType == .signedData else {
            throw OpenSSLError(operation: "verify", reasons: ["not a SignedData (\(cms.contentType))"])
        }
        guard let infos = CMS_get0_SignerInfos(cms.cms), OPENSSL_sk_num(infos) > 0 else {
            throw OpenSSLError(operation: "verify", reasons: ["no signers (certificates-only message)"])
        }
        try checkStructure(cms, infos: infos, detached: detachedContent)
        OpenSSLError.clear()
        let out = try MemoryBIO()
        let flags = UInt32(CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY)
        let stack = try carried.map { try CertificateStack($0) }
        let verified = try MemoryBIO.reading(detachedContent ?? []) { content -> Int32 in
            guard detachedContent != nil else { return CMS_verify(cms.cms, stack?.stack, nil, nil, out.bio, flags) }
            // CMS_verify copies detached content given in a memory BIO into a BIO of its own, and leaks that
            // copy when it cannot set up a digest the SignedData names (an unknown digestAlgorithm: found by
            // scripts/fuzz.sh, still so in OpenSSL's master): behind a pass-through filter it reads ours.
            guard let filter = BIO_new(BIO_f_null()) else { throw OpenSSLError.drain("BIO_new") }
            BIO_push(filter, content.bio)
            defer {
                BIO_pop(filter)
                BIO_free(filter)
            }
            return CMS_verify(cms.cms, stack?.stack, nil, filter, out.bio, flags)
        }
        guard verified == 1 else {
            throw SignatureMismatch(reasons: OpenSSLError.drain("verify").reasons)
        }
        var signers: [Certificate] = []
        if let stack = CMS_get0_signers(cms.cms) {
            for i in 0..<OPENSSL_sk_num(stack) {
                if let x = OPENSSL_sk_value(stack, i) { signers.append(Certificate(retaining: OpaquePointer(x))) }
            }
            OPENSSL_sk_free(stack)
        }
        let first = OPENSSL_sk_value(infos, 0).map { OpaquePointer($0) }
        var check = SignatureCheck(
            content: detachedContent ?? out.bytes,
            signers: signers,
            certificates: carried ?? cms.certificates,
            signingTime: first.flatMap(signingTime),
            digestAlgorithm: first.flatMap(digestName))
        check.capabilities = first.map(capabilities) ?? []
        check.timestamp = first.flatMap(timestampEvidence)
        check.signerInfos = Int(OPENSSL_sk_num(infos))
        return check
    }

    /// What OpenSSL accepts but mail must not: eContent beside a detached content that it
    /// differs from, an eContentType other than id-data, a contentType attribute missing or
    /// different. (pyca's multipart/signed repeats the signed part as eContent: the same bytes.)
    private static func checkStructure(_ cms: ContentInfo, infos: OpaquePointer, detached: [UInt8]?) throws {
        if let detached, let slot = CMS_get0_content(cms.cms), let eContent = slot.pointee {
            let length = Int(ASN1_STRING_length(eContent))
            let carried = ASN1_STRING_get0_data(eContent).map { Array(UnsafeBufferPointer(start: $0, count: length)) }
            if carried ?? [] != detached { throw SignedDataViolation.detachedSignatureCarriesContent }
        }
        guard let eContentType = CMS_get0_eContentType(cms.cms) else {
            throw SignedDataViolation.contentTypeNotData("(none)")
        }
        guard OBJ_obj2nid(eContentType) == NID_pkcs7_data else {
            throw SignedDataViolation.contentTypeNotData(objectName(eContentType))
        }
        for i in 0..<OPENSSL_sk_num(infos) {
            guard let si = OPENSSL_sk_value(infos, i).map({ OpaquePointer($0) }), CMS_signed_get_attr_count(si) > 0
            else { continue }
            guard
                let raw = CMS_signed_get0_data_by_OBJ(si, OBJ_nid2obj(NID_pkcs9_contentType), -3, V_ASN1_OBJECT)
            else { throw SignedDataViolation.contentTypeAttributeMissing }
            let attribute = OpaquePointer(raw)
            if OBJ_cmp(attribute, eContentType) != 0 {
                throw SignedDataViolation.contentTypeAttributeMismatch(
                    attribute: objectName(attribute), eContentType: objectName(eContentType))
            }
        }
    }

    /// "pkcs7-data", or the dotted OID of an object OpenSSL has no name for.
    private static func objectName(_ object: OpaquePointer) -> String {
        var buffer = [CChar](repeating: 0, count: 128)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, 0)
        guard length > 0 else { return "(unknown)" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func signingTime(_ si: OpaquePointer) -> Date? {
        let index = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1)
        guard index >= 0, let attribute = CMS_signed_get_attr(si, index),
            let type = X509_ATTRIBUTE_get0_type(attribute, 0)
        else { return nil }
        let kind = type.pointee.type
        var parts = tm()
        // A time that does not parse is no time (not the epoch).
        guard kind == V_ASN1_UTCTIME || kind == V_ASN1_GENERALIZEDTIME,
            let time = type.pointee.value.utctime, ASN1_TIME_check(time) == 1, ASN1_TIME_to_tm(time, &parts) == 1
        else { return nil }
        return Certificate.date(UnsafePointer(time))
    }

    static let announcedCiphers: [Int32: String] = [
        NID_aes_256_gcm: "aes-256-gcm", NID_aes_128_gcm: "aes-128-gcm", NID_aes_256_cbc: "aes-256-cbc",
        NID_aes_192_cbc: "aes-192-cbc", NID_aes_128_cbc: "aes-128-cbc", NID_des_ede3_cbc: "des-ede3-cbc",
    ]

    private static func capabilities(_ si: OpaquePointer) -> [String] {
        let index = CMS_signed_get_attr_by_NID(si, NID_SMIMECapabilities, -1)
        guard index >= 0, let attribute = CMS_signed_get_attr(si, index),
            let type = X509_ATTRIBUTE_get0_type(attribute, 0), type.pointee.type == V_ASN1_SEQUENCE,
            let sequence = type.pointee.value.sequence, let data = ASN1_STRING_get0_data(sequence)
        else { return [] }
        var pointer: UnsafePointer<UInt8>? = data
        guard let algorithms = d2i_X509_ALGORS(nil, &pointer, Int(ASN1_STRING_length(sequence))) else {
            ERR_clear_error()
            return []
        }
        defer { smg_X509_ALGORS_free(algorithms) }
        var names: [String] = []
        for i in 0..<OPENSSL_sk_num(algorithms) {
            guard let algorithm = OPENSSL_sk_value(algorithms, i) else { continue }
            var object: OpaquePointer? = nil
            X509_ALGOR_get0(&object, nil, nil, algorithm.assumingMemoryBound(to: X509_ALGOR.self))
            if let object, let name = announcedCiphers[OBJ_obj2nid(object)], !names.contains(name) {
                names.append(name)
            }
        }
        return names
    }

    static func digestName(_ si: OpaquePointer) -> String? {
        var digest: UnsafeMutablePointer<X509_ALGOR>? = nil
        CMS_SignerInfo_get0_algs(si, nil, nil, &digest, nil)
        guard let digest else { return nil }
        var object: OpaquePointer? = nil
        X509_ALGOR_get0(&object, nil, nil, UnsafePointer(digest))
        guard let object, let name = OBJ_nid2sn(OBJ_obj2nid(object)) else { return nil }
        return String(cString: name).lowercased()
    }
}
