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
        // Straight from the bytes: d2i_CMS_bio would first copy them all into a buffer of its own.
        let parsed = der.withUnsafeBufferPointer { buffer -> OpaquePointer? in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_CMS_ContentInfo(nil, &cursor, buffer.count)
        }
        guard let cms = parsed else {
            let error = OpenSSLError.drain("parse CMS")
            throw OpenSSLError(operation: "parse CMS", reasons: ["corrupted or truncated CMS"] + error.reasons)
        }
        self.init(taking: cms)
    }

    /// Encoded straight into the array: through a memory BIO a large message would be held three
    /// times over (OpenSSL's encoding, the BIO's growing buffer, the copy out of it).
    var der: [UInt8] {
        get throws {
            let length = Int(i2d_CMS_ContentInfo(cms, nil))
            guard length > 0 else { throw OpenSSLError.drain("encode CMS") }
            var written: Int32 = 0
            let bytes = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                var cursor = buffer.baseAddress
                written = i2d_CMS_ContentInfo(cms, &cursor)
                count = written == length ? length : 0
            }
            guard written == length else { throw OpenSSLError.drain("encode CMS") }
            return bytes
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
