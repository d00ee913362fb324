import COpenSSL
import Foundation

/// Owns one OpenSSL `CMS_ContentInfo` (RFC 5652 §3).
final class ContentInfo {
    let cms: OpaquePointer

    init(taking cms: OpaquePointer) { self.cms = cms }
    deinit { CMS_ContentInfo_free(cms) }

    /// Parses DER or BER (NSS writes indefinite lengths).
    convenience init(der: [UInt8]) throws {
        OpenSSLError.clear()
        guard !der.isEmpty else { throw OpenSSLError(operation: "parse CMS", reasons: ["empty CMS object"]) }
        guard let cms = try MemoryBIO.reading(der, { d2i_CMS_bio($0.bio, nil) }) else {
            let error = OpenSSLError.drain("parse CMS")
            throw OpenSSLError(operation: "parse CMS", reasons: ["corrupted or truncated CMS"] + error.reasons)
        }
        self.init(taking: cms)
    }

    var der: [UInt8] {
        get throws {
            let bio = try MemoryBIO()
            guard i2d_CMS_bio(bio.bio, cms) == 1 else { throw OpenSSLError.drain("encode CMS") }
            return bio.bytes
        }
    }

    var contentType: CMSContentType {
        guard let object = CMS_get0_type(cms) else { return .other("unknown") }
        switch OBJ_obj2nid(object) {
        case NID_pkcs7_signed: return .signedData
        case NID_pkcs7_enveloped: return .envelopedData
        case NID_id_smime_ct_authEnvelopedData: return .authEnvelopedData
        case NID_id_smime_ct_compressedData: return .compressedData
        case NID_pkcs7_data: return .data
        case let nid:
            if let name = OBJ_nid2ln(nid) { return .other(String(cString: name)) }
            return .other("unknown")
        }
    }

    /// Every certificate carried in the structure.
    var certificates: [Certificate] {
        guard let stack = CMS_get1_certs(cms) else { return [] }
        defer { OPENSSL_sk_pop_free(stack, { X509_free(OpaquePointer($0)) }) }
        return (0..<OPENSSL_sk_num(stack)).compactMap { i in
            OPENSSL_sk_value(stack, i).map { Certificate(retaining: OpaquePointer($0)) }
        }
    }
}

/// A stack of `X509` pointers that does not own them: the certificates stay
/// alive in `retained` until the stack is freed.
final class CertificateStack {
    let stack: OpaquePointer
    private let retained: [Certificate]

    init(_ certificates: [Certificate]) throws {
        guard let stack = OPENSSL_sk_new_null() else { throw OpenSSLError.drain("allocate stack") }
        self.stack = stack
        self.retained = certificates
        for certificate in certificates { OPENSSL_sk_push(stack, UnsafeRawPointer(certificate.x509)) }
    }

    deinit { OPENSSL_sk_free(stack) }
}

/// The CMS operations smimegate needs, on DER bytes. MIME framing belongs to the SMIME layer.
public enum CMS {
    /// The outer content type of a DER/BER ContentInfo.
    public static func contentType(of der: [UInt8]) throws -> CMSContentType {
        try ContentInfo(der: der).contentType
    }
}
