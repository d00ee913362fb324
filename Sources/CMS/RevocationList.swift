import COpenSSL
import Foundation

/// One X.509 certificate revocation list (RFC 5280 §5). Owns an OpenSSL `X509_CRL`.
///
/// Unchecked Sendable, because an `X509_CRL` is only read once parsed (OpenSSL sorts its
/// entries under its own lock at the first lookup) and this class never changes it.
public final class RevocationList: @unchecked Sendable, CustomStringConvertible {
    let crl: OpaquePointer

    private init(taking crl: OpaquePointer) { self.crl = crl }
    deinit { X509_CRL_free(crl) }

    /// Every CRL of a PEM file, or the one of a DER file.
    public static func parseAll(_ bytes: [UInt8]) throws -> [RevocationList] {
        OpenSSLError.clear()
        if bytes.isEmpty { throw OpenSSLError(operation: "read CRL", reasons: ["empty input"]) }
        if bytes.firstRange(of: Array("-----BEGIN".utf8)) == nil {
            let bio = try MemoryBIO(bytes)
            guard let crl = d2i_X509_CRL_bio(bio.bio, nil) else { throw OpenSSLError.drain("read DER CRL") }
            return [RevocationList(taking: crl)]
        }
        // Block by block: a broken one is an error naming it, not the silent end of the list.
        let begin = Array("-----BEGIN X509 CRL-----".utf8)
        let end = Array("-----END X509 CRL-----".utf8)
        var result: [RevocationList] = []
        var rest = bytes[...]
        while let start = rest.firstRange(of: begin) {
            guard let stop = rest[start.upperBound...].firstRange(of: end) else {
                throw OpenSSLError(operation: "read CRL", reasons: ["PEM block \(result.count + 1) has no END line"])
            }
            let block = Array(rest[start.lowerBound..<stop.upperBound]) + [10]
            let blockBIO = try MemoryBIO(block)
            guard let crl = PEM_read_bio_X509_CRL(blockBIO.bio, nil, nil, nil) else {
                throw OpenSSLError.drain("read PEM block \(result.count + 1) as a CRL")
            }
            result.append(RevocationList(taking: crl))
            rest = rest[stop.upperBound...]
        }
        if result.isEmpty { throw OpenSSLError(operation: "read CRL", reasons: ["no PEM CRL found"]) }
        return result
    }

    public var issuer: String { Certificate.oneLine(X509_CRL_get_issuer(crl)) }
    public var description: String { "CRL of \(issuer)" }
    public var thisUpdate: Date { Certificate.date(X509_CRL_get0_lastUpdate(crl)) }
    /// nil when the CRL names no next update (RFC 5280 requires one; such a CRL never goes stale).
    public var nextUpdate: Date? { X509_CRL_get0_nextUpdate(crl).map { Certificate.date($0) } }
    public var entries: Int { X509_CRL_get_REVOKED(crl).map { Int(OPENSSL_sk_num($0)) } ?? 0 }

    public var der: [UInt8] {
        guard let bio = try? MemoryBIO(), i2d_X509_CRL_bio(bio.bio, crl) == 1 else { return [] }
        return bio.bytes
    }

    public var pem: String {
        guard let bio = try? MemoryBIO(), PEM_write_bio_X509_CRL(bio.bio, crl) == 1 else { return "" }
        return String(decoding: bio.bytes, as: UTF8.self)
    }

    /// SHA-256 of the DER encoding, as lower-case hex.
    public var sha256Fingerprint: String { CMS.hex(CMS.sha256(der)) }

    /// Whether `certificate` is named as the issuer and its key made the CRL's signature.
    public func isSigned(by certificate: Certificate) -> Bool {
        guard X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(certificate.x509)) == 0,
            let key = X509_get0_pubkey(certificate.x509)
        else { return false }
        defer { ERR_clear_error() }
        return X509_CRL_verify(crl, key) == 1
    }

    /// A delta CRL (RFC 5280 §5.2.4) lists only what changed since a base CRL: read as a complete CRL
    /// it would un-revoke everything the base lists.
    public var isDelta: Bool {
        guard let raw = X509_CRL_get_ext_d2i(crl, NID_delta_crl, nil, nil) else { return false }
        ASN1_INTEGER_free(raw.assumingMemoryBound(to: ASN1_INTEGER.self))
        return true
    }

    /// Why the CRL covers less than every certificate and reason of its issuer (an Issuing Distribution
    /// Point with onlyContainsUserCerts, onlyContainsCACerts, onlyContainsAttributeCerts, onlySomeReasons
    /// or indirectCRL, RFC 5280 §5.2.5), or nil.
    public var partialScope: String? {
        guard let raw = X509_CRL_get_ext_d2i(crl, NID_issuing_distribution_point, nil, nil) else {
            ERR_clear_error()
            return nil
        }
        let point = raw.assumingMemoryBound(to: ISSUING_DIST_POINT.self)
        defer { ISSUING_DIST_POINT_free(point) }
        let idp = point.pointee
        if idp.onlyuser != 0 { return "only user certificates" }
        if idp.onlyCA != 0 { return "only CA certificates" }
        if idp.onlyattr != 0 { return "only attribute certificates" }
        if idp.onlysomereasons != nil { return "only some reasons" }
        if idp.indirectCRL != 0 { return "an indirect CRL" }
        return nil
    }

    /// The Issuing Distribution Point as hex of its DER ("" without one): a CRL partitioned by
    /// distribution point stands beside its siblings, never in place of one.
    public var distributionPointScope: String {
        let index = X509_CRL_get_ext_by_NID(crl, NID_issuing_distribution_point, -1)
        guard index >= 0, let ext = X509_CRL_get_ext(crl, index), let data = X509_EXTENSION_get_data(ext),
            let bytes = ASN1_STRING_get0_data(data)
        else { return "" }
        return CMS.hex(UnsafeBufferPointer(start: bytes, count: Int(ASN1_STRING_length(data))))
    }

    /// The digest of the CRL's signature when it is below the algorithm floor (MD5, SHA-1), or nil.
    public var weakSignature: String? {
        var digest: Int32 = 0
        var key: Int32 = 0
        guard OBJ_find_sigid_algs(X509_CRL_get_signature_nid(crl), &digest, &key) == 1 else { return nil }
        return digest == NID_sha1 || digest == NID_md5
            ? OBJ_nid2sn(digest).map { String(cString: $0).lowercased() } : nil
    }

    /// Whether the CRL covers `time` (thisUpdate ≤ time ≤ nextUpdate).
    public func isCurrent(at time: Date) -> Bool {
        thisUpdate <= time && (nextUpdate.map { time <= $0 } ?? true)
    }
}

/// RFC 5280 §5.3.1 reason codes, named as the RFC names them.
public enum RevocationReason: Int, Sendable, CustomStringConvertible {
    case unspecified = 0, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation
    case certificateHold, removeFromCRL = 8, privilegeWithdrawn, aACompromise

    public var description: String {
        [
            "unspecified", "keyCompromise", "cACompromise", "affiliationChanged", "superseded",
            "cessationOfOperation", "certificateHold", "7", "removeFromCRL", "privilegeWithdrawn", "aACompromise",
        ][rawValue]
    }
}
