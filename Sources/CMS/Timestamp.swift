import COpenSSL
import Foundation

/// An RFC 3161 time-stamp token carried in a SignerInfo's unsigned attributes
/// (id-aa-timeStampToken, RFC 3161 Appendix A), and the signature value it should cover.
public struct TimestampEvidence: Sendable, Equatable {
    /// The token: a ContentInfo holding SignedData over a TSTInfo.
    public let token: [UInt8]
    /// The SignerInfo's signature value: what the token's message imprint must be the hash of.
    public let signature: [UInt8]
}

/// What a time-stamp token says, once its signature and imprint are checked: when, and who said so.
/// Whether the time-stamping authority is trusted is the caller's to judge (PKI), at `time`.
public struct TimestampToken: Sendable {
    public let time: Date
    public let authority: Certificate
    /// The certificates the token carries (to build the authority's path with).
    public let certificates: [Certificate]
    /// The imprint's hash algorithm (OpenSSL's short name, lowercased).
    public let digest: String
}

/// Why a time-stamp token proves nothing.
public struct TimestampInvalid: Error, CustomStringConvertible, Sendable, Equatable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

extension CMS {
    /// The time-stamp token of a SignerInfo, if it carries one (the first one if several).
    static func timestampEvidence(_ si: OpaquePointer) -> TimestampEvidence? {
        let index = CMS_unsigned_get_attr_by_NID(si, NID_id_smime_aa_timeStampToken, -1)
        guard index >= 0, let attribute = CMS_unsigned_get_attr(si, index),
            let type = X509_ATTRIBUTE_get0_type(attribute, 0), type.pointee.type == V_ASN1_SEQUENCE,
            let sequence = type.pointee.value.sequence, let data = ASN1_STRING_get0_data(sequence),
            let signature = CMS_SignerInfo_get0_signature(si), let value = ASN1_STRING_get0_data(signature)
        else { return nil }
        return TimestampEvidence(
            token: Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(sequence)))),
            signature: Array(UnsafeBufferPointer(start: value, count: Int(ASN1_STRING_length(signature)))))
    }

    /// RFC 3161 §2.4.2: checks that the token is SignedData over a TSTInfo, that its signature verifies
    /// with the certificate its SignerInfo names, and that its message imprint is the hash of `evidence`'s
    /// signature value. Nonces and policies are the requester's business (RFC 3161 §2.4.2), not ours.
    public static func verifyTimestamp(_ evidence: TimestampEvidence) throws -> TimestampToken {
        let cms: ContentInfo
        do {
            cms = try ContentInfo(der: evidence.token)
        } catch {
            throw TimestampInvalid("the time-stamp token cannot be read (\(error))")
        }
        guard cms.contentType == .signedData, let type = CMS_get0_eContentType(cms.cms),
            OBJ_obj2nid(type) == NID_id_smime_ct_TSTInfo
        else { throw TimestampInvalid("the time-stamp token is not SignedData over a TSTInfo") }
        OpenSSLError.clear()
        let out = try MemoryBIO()
        let flags = UInt32(CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY)
        guard CMS_verify(cms.cms, nil, nil, nil, out.bio, flags) == 1 else {
            let reasons = OpenSSLError.drain("verify").reasons
            throw TimestampInvalid(
                "the time-stamp token's signature does not verify: \(reasons.joined(separator: "; "))")
        }
        guard let stack = CMS_get0_signers(cms.cms) else {
            throw TimestampInvalid("the time-stamp token does not carry its authority's certificate")
        }
        let signers = (0..<OPENSSL_sk_num(stack)).compactMap { i in
            OPENSSL_sk_value(stack, i).map { Certificate(retaining: OpaquePointer($0)) }
        }
        OPENSSL_sk_free(stack)
        guard signers.count == 1, let authority = signers.first else {
            throw TimestampInvalid("a time-stamp token has exactly one signer (RFC 3161 §2.4.2)")
        }
        if let infos = CMS_get0_SignerInfos(cms.cms), let si = OPENSSL_sk_value(infos, 0),
            let digest = digestName(OpaquePointer(si)), digest == "sha1" || digest == "md5"
        {
            throw TimestampInvalid("the time-stamp token is signed with \(digest.uppercased())")
        }
        let info = try MemoryBIO.reading(out.bytes) { d2i_TS_TST_INFO_bio($0.bio, nil) }
        guard let info else { throw TimestampInvalid("the time-stamp token's TSTInfo cannot be read") }
        defer { TS_TST_INFO_free(info) }
        guard let imprint = TS_TST_INFO_get_msg_imprint(info), let algorithm = TS_MSG_IMPRINT_get_algo(imprint),
            let hashed = TS_MSG_IMPRINT_get_msg(imprint), let time = TS_TST_INFO_get_time(info)
        else { throw TimestampInvalid("the time-stamp token's TSTInfo is incomplete") }
        var object: OpaquePointer? = nil
        X509_ALGOR_get0(&object, nil, nil, algorithm)
        let nid = object.map(OBJ_obj2nid) ?? NID_undef
        guard [NID_sha256, NID_sha384, NID_sha512].contains(nid), let md = EVP_get_digestbyname(OBJ_nid2sn(nid)) else {
            let name = object.flatMap { OBJ_nid2sn(OBJ_obj2nid($0)) }.map { String(cString: $0) } ?? "unknown"
            throw TimestampInvalid("the time-stamp token hashes with \(name), not SHA-2")
        }
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_Digest(evidence.signature, evidence.signature.count, &digest, &length, md, nil) == 1 else {
            throw OpenSSLError.drain("digest")
        }
        let expected = ASN1_STRING_get0_data(hashed).map {
            Array(UnsafeBufferPointer(start: $0, count: Int(ASN1_STRING_length(hashed))))
        }
        guard expected == Array(digest.prefix(Int(length))) else {
            throw TimestampInvalid("the time-stamp token does not cover this signature (message imprint differs)")
        }
        return TimestampToken(
            time: Certificate.date(time), authority: authority, certificates: cms.certificates,
            digest: String(cString: OBJ_nid2sn(nid)).lowercased())
    }
}

extension Certificate {
    /// What RFC 3161 §2.3 asks of a time-stamping authority's certificate: a critical extendedKeyUsage
    /// with id-kp-timeStamping as its only purpose, no CA, and a key for signatures only.
    public var timeStampingOnly: Bool {
        let index = X509_get_ext_by_NID(x509, NID_ext_key_usage, -1)
        guard index >= 0, let ext = X509_get_ext(x509, index), X509_EXTENSION_get_critical(ext) == 1,
            let raw = X509_get_ext_d2i(x509, NID_ext_key_usage, nil, nil)
        else { return false }
        let purposes = OpaquePointer(raw)
        defer { OPENSSL_sk_pop_free(purposes, { ASN1_OBJECT_free(OpaquePointer($0)) }) }
        guard OPENSSL_sk_num(purposes) == 1, let only = OPENSSL_sk_value(purposes, 0),
            OBJ_obj2nid(OpaquePointer(only)) == NID_time_stamp, !claimsCA
        else { return false }
        guard let usage = keyUsage else { return true }
        return usage.contains(.digitalSignature) || usage.contains(.nonRepudiation)
    }
}
