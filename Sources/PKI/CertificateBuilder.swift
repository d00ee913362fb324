import CMS
import COpenSSL
import Foundation

/// The subject and names of a new S/MIME certificate (SPEC F15, RFC 8550).
public struct CertificateRequestFields: Sendable {
    public var commonName: String
    public var organization: String?
    public var organizationalUnit: String?
    public var locality: String?
    public var state: String?
    public var country: String?
    public var sanDomains: [String]
    public var sanEmails: [String]

    public init(
        commonName: String, organization: String? = nil, organizationalUnit: String? = nil, locality: String? = nil,
        state: String? = nil, country: String? = nil, sanDomains: [String] = [], sanEmails: [String] = []
    ) {
        self.commonName = commonName
        self.organization = organization
        self.organizationalUnit = organizationalUnit
        self.locality = locality
        self.state = state
        self.country = country
        self.sanDomains = sanDomains
        self.sanEmails = sanEmails
    }
}

public struct PKIError: Error, CustomStringConvertible, Sendable {
    public let reason: String
    public init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Creates self-signed S/MIME certificates: keyUsage digitalSignature +
/// nonRepudiation (+ keyEncipherment for RSA, keyAgreement for EC),
/// extendedKeyUsage emailProtection, basicConstraints CA:FALSE, a subject key
/// identifier and a random positive 64-bit-plus serial (RFC 5280 §4.1.2.2).
public enum CertificateBuilder {
    public static func selfSigned(_ fields: CertificateRequestFields, key: PrivateKey, days: Int) throws -> Certificate {
        if let country = fields.country, country.count != 2 || !country.allSatisfy({ $0.isASCII && $0.isLetter }) {
            throw PKIError("country must be a two-letter ISO 3166 code, not \"\(country)\"")
        }
        guard days > 0 else { throw PKIError("validity must be at least one day") }
        guard !fields.commonName.isEmpty else { throw PKIError("a common name is required") }
        ERR_clear_error()
        guard let x = X509_new() else { throw PKIError("X509_new failed") }
        var adopted = false
        defer { if !adopted { X509_free(x) } }
        X509_set_version(x, 2)
        // A random 72-bit serial with the top bit clear: positive and at least 64 bits of entropy.
        var serialBytes = [UInt8](repeating: 0, count: 9)
        guard RAND_bytes(&serialBytes, Int32(serialBytes.count)) == 1 else { throw PKIError("no randomness for the serial") }
        serialBytes[0] = (serialBytes[0] & 0x7F) | 0x40
        guard let bn = BN_bin2bn(serialBytes, Int32(serialBytes.count), nil) else { throw PKIError("BN_bin2bn failed") }
        defer { BN_free(bn) }
        guard let serial = BN_to_ASN1_INTEGER(bn, nil) else { throw PKIError("serial encoding failed") }
        defer { ASN1_INTEGER_free(serial) }
        X509_set_serialNumber(x, serial)
        X509_gmtime_adj(X509_getm_notBefore(x), 0)
        X509_time_adj_ex(X509_getm_notAfter(x), Int32(days), 0, nil)

        guard let name = X509_NAME_new() else { throw PKIError("X509_NAME_new failed") }
        defer { X509_NAME_free(name) }
        let entries: [(String, String?)] = [
            ("C", fields.country?.uppercased()), ("ST", fields.state), ("L", fields.locality),
            ("O", fields.organization), ("OU", fields.organizationalUnit), ("CN", fields.commonName),
        ]
        for case let (field, value?) in entries where !value.isEmpty {
            guard X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8, value, -1, -1, 0) == 1 else {
                throw PKIError("invalid \(field) value \"\(value)\"")
            }
        }
        X509_set_subject_name(x, name)
        X509_set_issuer_name(x, name)
        try key.withUnsafePKey { pkey in
            guard X509_set_pubkey(x, pkey) == 1 else { throw PKIError("X509_set_pubkey failed") }
        }

        var usage = "critical,digitalSignature,nonRepudiation"
        usage += key.algorithm == "EC" ? ",keyAgreement" : ",keyEncipherment"
        var extensions: [(Int32, String)] = [
            (NID_basic_constraints, "critical,CA:FALSE"),
            (NID_key_usage, usage),
            (NID_ext_key_usage, "emailProtection"),
            (NID_subject_key_identifier, "hash"),
        ]
        let san = fields.sanEmails.map { "email:\($0)" } + fields.sanDomains.map { "DNS:\($0)" }
        if !san.isEmpty { extensions.append((NID_subject_alt_name, san.joined(separator: ","))) }
        var ctx = X509V3_CTX()
        smg_X509V3_set_ctx_nodb(&ctx)
        X509V3_set_ctx(&ctx, x, x, nil, nil, 0)
        for (nid, value) in extensions {
            guard let ext = X509V3_EXT_conf_nid(nil, &ctx, nid, value) else {
                throw PKIError("invalid extension value \"\(value)\"")
            }
            X509_add_ext(x, ext, -1)
            X509_EXTENSION_free(ext)
        }
        let signed = key.withUnsafePKey { X509_sign(x, $0, EVP_sha256()) }
        guard signed > 0 else { throw PKIError("signing the certificate failed") }
        adopted = true  // complete: its names can be read now
        return Certificate.adopting(x)
    }
}
