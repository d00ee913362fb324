import COpenSSL
import Foundation

/// One X.509 certificate. Owns an OpenSSL `X509` and frees it in `deinit`;
/// the pointer is only lent inside `withUnsafeX509`.
///
/// Unchecked Sendable, because an OpenSSL 3 `X509` is safe for concurrent read-only
/// use once parsed (its extension cache is filled under a lock), and this class
/// never mutates it after construction.
public final class Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    let x509: OpaquePointer
    /// rfc822Name entries of the SAN, then any legacy emailAddress in the subject (RFC 8550 §3);
    /// decoded once, since every recipient lookup and signer check reads them.
    public let emailAddresses: [String]
    /// dNSName entries of the SAN (domain certificates, SPEC F18).
    public let dnsNames: [String]

    /// Takes ownership of `x509`.
    init(taking x509: OpaquePointer) {
        self.x509 = x509
        self.emailAddresses =
            Certificate.generalNames(x509, type: GEN_EMAIL) + Certificate.entries(X509_get_subject_name(x509), nid: NID_pkcs9_emailAddress)
        self.dnsNames = Certificate.generalNames(x509, type: GEN_DNS)
    }

    /// Takes ownership of an `X509` built elsewhere (the PKI certificate builder).
    public static func adopting(_ x509: OpaquePointer) -> Certificate { Certificate(taking: x509) }

    /// Adds a reference to `x509` (for pointers borrowed from a CMS structure or stack).
    convenience init(retaining x509: OpaquePointer) {
        X509_up_ref(x509)
        self.init(taking: x509)
    }

    deinit { X509_free(x509) }

    /// Parses one certificate in PEM or DER.
    public convenience init(bytes: [UInt8]) throws {
        let all = try Certificate.parseAll(bytes)
        guard let first = all.first else { throw OpenSSLError(operation: "read certificate", reasons: ["no certificate found"]) }
        X509_up_ref(first.x509)
        self.init(taking: first.x509)
    }

    /// Parses every certificate in a PEM file (or the one certificate of a DER file).
    public static func parseAll(_ bytes: [UInt8]) throws -> [Certificate] {
        OpenSSLError.clear()
        if bytes.isEmpty { throw OpenSSLError(operation: "read certificate", reasons: ["empty input"]) }
        let isPEM = bytes.starts(with: Array("-----BEGIN".utf8)) || bytes.firstRange(of: Array("-----BEGIN".utf8)) != nil
        let bio = try MemoryBIO(bytes)
        if !isPEM {
            guard let x = d2i_X509_bio(bio.bio, nil) else { throw OpenSSLError.drain("read DER certificate") }
            return [Certificate(taking: x)]
        }
        var result: [Certificate] = []
        while let x = PEM_read_bio_X509(bio.bio, nil, nil, nil) {
            result.append(Certificate(taking: x))
        }
        ERR_clear_error()  // the loop ends on a "no start line" error
        if result.isEmpty { throw OpenSSLError(operation: "read certificate", reasons: ["no PEM certificate found"]) }
        return result
    }

    public func withUnsafeX509<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(x509)
    }

    // MARK: Encodings

    public var der: [UInt8] {
        let bio = try? MemoryBIO()
        guard let bio, i2d_X509_bio(bio.bio, x509) == 1 else { return [] }
        return bio.bytes
    }

    public var pem: String {
        let bio = try? MemoryBIO()
        guard let bio, PEM_write_bio_X509(bio.bio, x509) == 1 else { return "" }
        return String(decoding: bio.bytes, as: UTF8.self)
    }

    // MARK: Names

    public var subject: String { Certificate.oneLine(X509_get_subject_name(x509)) }
    public var issuer: String { Certificate.oneLine(X509_get_issuer_name(x509)) }
    public var description: String { subject }

    public var commonName: String? { Certificate.entries(X509_get_subject_name(x509), nid: NID_commonName).first }

    static func oneLine(_ name: OpaquePointer?) -> String {
        guard let name, let bio = try? MemoryBIO() else { return "" }
        X509_NAME_print_ex(bio.bio, name, 0, smg_XN_FLAG_RFC2253())
        return String(decoding: bio.bytes, as: UTF8.self)
    }

    static func entries(_ name: OpaquePointer?, nid: Int32) -> [String] {
        guard let name else { return [] }
        var result: [String] = []
        var index: Int32 = -1
        while true {
            index = X509_NAME_get_index_by_NID(name, nid, index)
            if index < 0 { break }
            if let entry = X509_NAME_get_entry(name, index), let data = X509_NAME_ENTRY_get_data(entry) {
                result.append(asn1String(data))
            }
        }
        return result
    }

    static func asn1String(_ s: UnsafePointer<ASN1_STRING>?) -> String {
        guard let s, let data = ASN1_STRING_get0_data(s) else { return "" }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(s))), as: UTF8.self)
    }

    // MARK: Subject alternative names (RFC 5280 §4.2.1.6)

    private static func generalNames(_ x509: OpaquePointer, type wanted: Int32) -> [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_subject_alt_name, nil, nil) else { return [] }
        let names = OpaquePointer(raw)
        defer { GENERAL_NAMES_free(names) }
        var result: [String] = []
        for i in 0..<OPENSSL_sk_num(names) {
            guard let gen = OPENSSL_sk_value(names, i) else { continue }
            var type: Int32 = 0
            let value = GENERAL_NAME_get0_value(gen.assumingMemoryBound(to: GENERAL_NAME.self), &type)
            if type == wanted, let value {
                result.append(Certificate.asn1String(value.assumingMemoryBound(to: ASN1_STRING.self)))
            }
        }
        return result
    }

    // MARK: Validity

    public var notBefore: Date { Certificate.date(X509_get0_notBefore(x509)) }
    public var notAfter: Date { Certificate.date(X509_get0_notAfter(x509)) }

    static func date(_ time: UnsafePointer<ASN1_TIME>?) -> Date {
        var parts = tm()
        guard let time, ASN1_TIME_to_tm(time, &parts) == 1 else { return Date(timeIntervalSince1970: 0) }
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }

    public var serialHex: String {
        guard let serial = X509_get0_serialNumber(x509), let bn = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(bn) }
        guard let hex = BN_bn2hex(bn) else { return "" }
        defer { smg_OPENSSL_free(hex) }
        return String(cString: hex)
    }

    /// SHA-256 of the public key (the subjectPublicKey bits), as lower-case hex: the same for every
    /// certificate of one key.
    public var publicKeyFingerprint: String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard X509_pubkey_digest(x509, EVP_sha256(), &digest, &length) == 1 else { return "" }
        return CMS.hex(digest.prefix(Int(length)))
    }

    /// SHA-256 of the DER encoding, as lower-case hex.
    public var sha256Fingerprint: String {
        var digest = [UInt8](repeating: 0, count: 32)
        var length: UInt32 = 0
        guard X509_digest(x509, EVP_sha256(), &digest, &length) == 1 else { return "" }
        return CMS.hex(digest.prefix(Int(length)))
    }

    // MARK: Extensions

    /// The keyUsage bits, or nil when the extension is absent (RFC 5280 §4.2.1.3).
    public var keyUsage: KeyUsage? {
        guard X509_get_extension_flags(x509) & UInt32(EXFLAG_KUSAGE) != 0 else { return nil }
        return KeyUsage(rawValue: X509_get_key_usage(x509))
    }

    /// Whether an extendedKeyUsage extension is present, and if so whether it allows
    /// emailProtection (or anyExtendedKeyUsage).
    public var extendedKeyUsage: (present: Bool, emailProtection: Bool) {
        guard X509_get_extension_flags(x509) & UInt32(EXFLAG_XKUSAGE) != 0 else { return (false, true) }
        let xku = X509_get_extended_key_usage(x509)
        return (true, xku & UInt32(XKU_SMIME | XKU_ANYEKU) != 0)
    }

    /// The http:// URIs of the CRL distribution points (RFC 5280 §4.2.1.13), full names only.
    public var crlDistributionPoints: [String] {
        guard let raw = X509_get_ext_d2i(x509, NID_crl_distribution_points, nil, nil) else { return [] }
        let points = OpaquePointer(raw)
        defer { CRL_DIST_POINTS_free(points) }
        var uris: [String] = []
        for i in 0..<OPENSSL_sk_num(points) {
            guard let point = OPENSSL_sk_value(points, i)?.assumingMemoryBound(to: DIST_POINT.self),
                let name = point.pointee.distpoint, name.pointee.type == 0, let full = name.pointee.name.fullname
            else { continue }
            uris += Certificate.uris(in: full)
        }
        return uris.filter { $0.lowercased().hasPrefix("http://") }
    }

    /// The OCSP responders the certificate names (authorityInfoAccess, RFC 5280 §4.2.2.1).
    public var ocspResponders: [String] {
        guard let list = X509_get1_ocsp(x509) else { return [] }
        defer { X509_email_free(list) }
        return (0..<OPENSSL_sk_num(list)).compactMap {
            OPENSSL_sk_value(list, $0).map { String(cString: $0.assumingMemoryBound(to: CChar.self)) }
        }
    }

    private static func uris(in names: OpaquePointer) -> [String] {
        (0..<OPENSSL_sk_num(names)).compactMap { i in
            guard let gen = OPENSSL_sk_value(names, i) else { return nil }
            var type: Int32 = 0
            let value = GENERAL_NAME_get0_value(gen.assumingMemoryBound(to: GENERAL_NAME.self), &type)
            guard type == GEN_URI, let value else { return nil }
            return Certificate.asn1String(value.assumingMemoryBound(to: ASN1_STRING.self))
        }
    }

    public var isSelfSigned: Bool { X509_get_extension_flags(x509) & UInt32(EXFLAG_SS) != 0 }
    public var isCA: Bool { X509_check_ca(x509) != 0 }
    /// basicConstraints says CA, whatever keyUsage allows (a CA certificate, if a broken one).
    public var claimsCA: Bool { X509_get_extension_flags(x509) & UInt32(EXFLAG_CA) != 0 }

    /// "RSA", "EC", ... and the key size in bits.
    public var publicKey: (algorithm: String, bits: Int) {
        guard let key = X509_get0_pubkey(x509) else { return ("unknown", 0) }
        return (PrivateKey.algorithmName(key), Int(EVP_PKEY_get_bits(key)))
    }

    public static func == (a: Certificate, b: Certificate) -> Bool { X509_cmp(a.x509, b.x509) == 0 }
    public func hash(into hasher: inout Hasher) { hasher.combine(sha256Fingerprint) }
}

/// keyUsage bits as OpenSSL reports them (`KU_*`).
public struct KeyUsage: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let digitalSignature = KeyUsage(rawValue: UInt32(KU_DIGITAL_SIGNATURE))
    public static let nonRepudiation = KeyUsage(rawValue: UInt32(KU_NON_REPUDIATION))
    public static let keyEncipherment = KeyUsage(rawValue: UInt32(KU_KEY_ENCIPHERMENT))
    public static let dataEncipherment = KeyUsage(rawValue: UInt32(KU_DATA_ENCIPHERMENT))
    public static let keyAgreement = KeyUsage(rawValue: UInt32(KU_KEY_AGREEMENT))
    public static let keyCertSign = KeyUsage(rawValue: UInt32(KU_KEY_CERT_SIGN))

    public var names: [String] {
        let all: [(KeyUsage, String)] = [
            (.digitalSignature, "digitalSignature"), (.nonRepudiation, "nonRepudiation"),
            (.keyEncipherment, "keyEncipherment"), (.dataEncipherment, "dataEncipherment"),
            (.keyAgreement, "keyAgreement"), (.keyCertSign, "keyCertSign"),
        ]
        return all.filter { contains($0.0) }.map(\.1)
    }
}

