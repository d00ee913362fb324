import CMS
import COpenSSL

/// PKCS #10 certificate requests (RFC 2986) for sending an organisation
/// certificate's key and subject to a CA (SPEC F16).
public enum CertificateRequest {
    /// A PEM CSR with `certificate`'s subject and public key, signed by `key`,
    /// requesting its subjectAltName, keyUsage, extendedKeyUsage and
    /// basicConstraints (the extensionRequest attribute, RFC 2985 §5.4.2).
    public static func pem(for certificate: Certificate, key: PrivateKey) throws -> String {
        guard key.matches(certificate) else { throw PKIError("the private key does not match the certificate") }
        ERR_clear_error()
        guard let request = X509_REQ_new() else { throw PKIError("X509_REQ_new failed") }
        defer { X509_REQ_free(request) }
        X509_REQ_set_version(request, 0)
        let requested = [NID_subject_alt_name, NID_key_usage, NID_ext_key_usage, NID_basic_constraints]
        try certificate.withUnsafeX509 { x509 in
            guard X509_REQ_set_subject_name(request, X509_get_subject_name(x509)) == 1 else {
                throw PKIError("cannot copy the subject")
            }
            guard let extensions = OPENSSL_sk_new_null() else { throw PKIError("out of memory") }
            defer { OPENSSL_sk_free(extensions) }  // the extensions stay owned by the certificate
            for nid in requested {
                let index = X509_get_ext_by_NID(x509, nid, -1)
                if index >= 0, let ext = X509_get_ext(x509, index) { OPENSSL_sk_push(extensions, UnsafeRawPointer(ext)) }
            }
            if OPENSSL_sk_num(extensions) > 0, X509_REQ_add_extensions(request, extensions) != 1 {
                throw PKIError("cannot add the requested extensions")
            }
        }
        try key.withUnsafePKey { pkey in
            guard X509_REQ_set_pubkey(request, pkey) == 1, X509_REQ_sign(request, pkey, EVP_sha256()) > 0 else {
                throw PKIError("signing the request failed")
            }
        }
        guard let bio = BIO_new(BIO_s_mem()) else { throw PKIError("out of memory") }
        defer { BIO_free(bio) }
        guard PEM_write_bio_X509_REQ(bio, request) == 1 else { throw PKIError("cannot encode the request") }
        var pointer: UnsafeMutablePointer<CChar>? = nil
        let length = smg_BIO_get_mem_data(bio, &pointer)
        guard length > 0, let pointer else { return "" }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
        }
    }
}
