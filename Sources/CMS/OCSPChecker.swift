import COpenSSL
import Foundation
import Locking

/// Asks a certificate's OCSP responder (RFC 6960) whether it is revoked: a request for its
/// CertID (SHA-1, as RFC 5019 responders expect), the response's signature checked against the
/// run's `TrustStore` (the issuer itself or a responder it delegated with id-kp-OCSPSigning), its
/// freshness (thisUpdate/nextUpdate, five minutes of clock skew allowed; without nextUpdate, at most an
/// hour old). Answers are cached for
/// the checker's life (one run), failures included, so a dead responder costs one timeout.
///
/// The transport (an HTTP POST) is given by the caller: this layer does not open sockets.
public final class OCSPChecker: Sendable {
    public typealias Transport = @Sendable (_ url: String, _ request: [UInt8]) throws -> [UInt8]

    public enum Answer: Sendable, Equatable {
        case good
        case revoked(Date?, RevocationReason?)
        /// The responder said "unknown", or could not be asked or believed (why).
        case unknown(String)
    }

    private let transport: Transport
    private let cache = Locked<[String: Answer]>([:])
    /// Responders that could not be asked (no connection, a timeout), with why: not asked again this run,
    /// so a responder that accepts and never answers costs one timeout, not one per certificate.
    private let unreachable = Locked<[String: String]>([:])
    static let allowedSkew = 300
    static let maximumAgeWithoutNextUpdate = 3600

    public init(transport: @escaping Transport) { self.transport = transport }

    public func status(of certificate: Certificate, issuer: Certificate, trust: TrustStore, at time: Date) -> Answer {
        let key = issuer.sha256Fingerprint + ":" + certificate.serialHex
        if let known = cache.withLock({ $0[key] }) { return known }
        let answer: Answer
        do {
            answer = try ask(certificate, issuer: issuer, trust: trust)
        } catch {
            answer = .unknown("\(error)")
        }
        cache.withLock { $0[key] = answer }
        return answer
    }

    private func ask(_ certificate: Certificate, issuer: Certificate, trust: TrustStore) throws -> Answer {
        guard let url = certificate.ocspResponders.first(where: { $0.lowercased().hasPrefix("http://") }) else {
            return .unknown("no http:// responder")
        }
        OpenSSLError.clear()
        guard let id = OCSP_cert_to_id(EVP_sha1(), certificate.x509, issuer.x509) else {
            throw OpenSSLError.drain("OCSP_cert_to_id")
        }
        defer { OCSP_CERTID_free(id) }
        guard let request = OCSP_REQUEST_new() else { throw OpenSSLError.drain("OCSP_REQUEST_new") }
        defer { OCSP_REQUEST_free(request) }
        guard let copy = OCSP_CERTID_dup(id), OCSP_request_add0_id(request, copy) != nil else {
            throw OpenSSLError.drain("OCSP_request_add0_id")
        }
        var out: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_OCSP_REQUEST(request, &out)
        guard length > 0, let out else { throw OpenSSLError.drain("i2d_OCSP_REQUEST") }
        let body = Array(UnsafeBufferPointer(start: out, count: Int(length)))
        smg_OPENSSL_free(out)

        if let why = unreachable.withLock({ $0[url] }) { return .unknown("\(why) (earlier in this run)") }
        let reply: [UInt8]
        do {
            reply = try transport(url, body)
        } catch {
            unreachable.withLock { $0[url] = "\(error)" }
            throw error
        }
        let response: OpaquePointer? = reply.withUnsafeBufferPointer { buffer in
            var pointer: UnsafePointer<UInt8>? = buffer.baseAddress
            return d2i_OCSP_RESPONSE(nil, &pointer, buffer.count)
        }
        guard let response else { return .unknown("the responder's answer is not an OCSP response") }
        defer { OCSP_RESPONSE_free(response) }
        let status = OCSP_response_status(response)
        guard status == OCSP_RESPONSE_STATUS_SUCCESSFUL else {
            return .unknown(String(cString: OCSP_response_status_str(Int(status))))
        }
        guard let basic = OCSP_response_get1_basic(response) else { return .unknown("no basic OCSP response") }
        defer { OCSP_BASICRESP_free(basic) }
        var digest: Int32 = 0
        var key: Int32 = 0
        var algorithm: OpaquePointer? = nil
        if let signature = OCSP_resp_get0_tbs_sigalg(basic) {
            X509_ALGOR_get0(&algorithm, nil, nil, signature)
        }
        if let algorithm, OBJ_find_sigid_algs(OBJ_obj2nid(algorithm), &digest, &key) == 1,
            digest == NID_sha1 || digest == NID_md5
        {
            return .unknown("the response is signed with a digest below the algorithm floor")
        }
        let helpers = try CertificateStack([issuer])
        guard OCSP_basic_verify(basic, helpers.stack, trust.store, 0) > 0 else {
            let error = OpenSSLError.drain("OCSP_basic_verify")
            return .unknown("the response's signature is not trusted (\(error.reasons.joined(separator: "; ")))")
        }
        var single: Int32 = 0
        var reason: Int32 = -1
        var revokedAt: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        var thisUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        var nextUpdate: UnsafeMutablePointer<ASN1_GENERALIZEDTIME>? = nil
        guard OCSP_resp_find_status(basic, id, &single, &reason, &revokedAt, &thisUpdate, &nextUpdate) == 1 else {
            return .unknown("the response does not name the certificate")
        }
        // Without nextUpdate a response says nothing of how long it holds: one older than an hour could be
        // a replay from before the revocation.
        let maximumAge = nextUpdate == nil ? Self.maximumAgeWithoutNextUpdate : -1
        guard let thisUpdate, OCSP_check_validity(thisUpdate, nextUpdate, Self.allowedSkew, maximumAge) == 1 else {
            ERR_clear_error()
            return .unknown("the response is not fresh")
        }
        switch single {
        case V_OCSP_CERTSTATUS_GOOD: return .good
        case V_OCSP_CERTSTATUS_REVOKED:
            return .revoked(
                revokedAt.map { Certificate.date(UnsafePointer($0)) }, RevocationReason(rawValue: Int(reason)))
        default: return .unknown("the responder does not know the certificate")
        }
    }
}
