import COpenSSL
import Foundation

/// Builds and checks a certificate path from a leaf to one of `anchors`
/// (RFC 5280 §6) with OpenSSL's `X509_verify_cert`. A new `X509_STORE` per call
/// costs about 0.25 µs (NOTES-openssl.md), so the verifier holds only certificates.
public struct ChainVerifier: Sendable {
    public let anchors: [Certificate]

    public init(anchors: [Certificate]) { self.anchors = anchors }

    /// Throws a reason such as "unable to get local issuer certificate" when no
    /// path to a trusted anchor exists or one of its certificates is invalid at `time`.
    public func verify(_ leaf: Certificate, intermediates: [Certificate], at time: Date) throws {
        OpenSSLError.clear()
        guard let store = X509_STORE_new() else { throw OpenSSLError.drain("X509_STORE_new") }
        defer { X509_STORE_free(store) }
        for anchor in anchors { X509_STORE_add_cert(store, anchor.x509) }
        ERR_clear_error()  // duplicates in the anchor list are harmless
        guard let ctx = X509_STORE_CTX_new() else { throw OpenSSLError.drain("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(ctx) }
        let untrusted = try CertificateStack(intermediates)
        guard X509_STORE_CTX_init(ctx, store, leaf.x509, untrusted.stack) == 1 else {
            throw OpenSSLError.drain("X509_STORE_CTX_init")
        }
        X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970))
        if X509_verify_cert(ctx) != 1 {
            let code = X509_STORE_CTX_get_error(ctx)
            let reason = String(cString: X509_verify_cert_error_string(Int(code)))
            ERR_clear_error()
            throw OpenSSLError(operation: "certificate chain", reasons: [reason])
        }
    }
}
