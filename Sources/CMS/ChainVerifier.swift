import COpenSSL
import Foundation

/// Builds and checks a certificate path from a leaf to one of `anchors`
/// (RFC 5280 §6) with OpenSSL's `X509_verify_cert`. A new `X509_STORE` per call
/// costs about 0.25 µs (NOTES-openssl.md), so the verifier holds only certificates.
public struct ChainVerifier: Sendable {
    public let anchors: [Certificate]
    public var floor: AlgorithmFloor

    public init(anchors: [Certificate], floor: AlgorithmFloor = .standard) {
        self.anchors = anchors
        self.floor = floor
    }

    /// Throws `ChainVerificationError.untrusted` when no path to a trusted anchor exists or one
    /// of its certificates is invalid at `time`, and `.weakAlgorithms` when the path falls below
    /// the `.standard` floor. Returns the weaknesses a `.legacy` floor let through.
    @discardableResult
    public func verify(_ leaf: Certificate, intermediates: [Certificate], at time: Date) throws -> [AlgorithmWeakness] {
        let level = floor == .standard ? AlgorithmFloor.authLevel : 0
        let first = try build(leaf, intermediates: intermediates, at: time, authLevel: level)
        switch first.error {
        case X509_V_OK:
            let weaknesses = AlgorithmWeakness.find(in: first.chain)
            if floor == .standard && !weaknesses.isEmpty { throw ChainVerificationError.weakAlgorithms(weaknesses) }
            return weaknesses
        case X509_V_ERR_EE_KEY_TOO_SMALL, X509_V_ERR_CA_KEY_TOO_SMALL, X509_V_ERR_CA_MD_TOO_WEAK:
            // Name every weakness, not only the first OpenSSL met: the whole path, without the floor.
            let path = try build(leaf, intermediates: intermediates, at: time, authLevel: 0)
            let weaknesses = AlgorithmWeakness.find(in: path.chain)
            if path.error == X509_V_OK && !weaknesses.isEmpty {
                throw ChainVerificationError.weakAlgorithms(weaknesses)
            }
            throw ChainVerificationError.untrusted(Self.reason(path.error == X509_V_OK ? first.error : path.error))
        case let code:
            throw ChainVerificationError.untrusted(Self.reason(code))
        }
    }

    /// One `X509_verify_cert` run: its error code and the chain it built (leaf first).
    private func build(_ leaf: Certificate, intermediates: [Certificate], at time: Date, authLevel: Int32) throws
        -> (error: Int32, chain: [Certificate])
    {
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
        X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), authLevel)
        let verified = X509_verify_cert(ctx) == 1
        let code = verified ? X509_V_OK : X509_STORE_CTX_get_error(ctx)
        ERR_clear_error()
        var chain: [Certificate] = []
        if verified, let stack = X509_STORE_CTX_get0_chain(ctx) {
            for i in 0..<OPENSSL_sk_num(stack) {
                if let x = OPENSSL_sk_value(stack, i) { chain.append(Certificate(retaining: OpaquePointer(x))) }
            }
        }
        return (code, chain)
    }

    private static func reason(_ code: Int32) -> String { String(cString: X509_verify_cert_error_string(Int(code))) }
}
