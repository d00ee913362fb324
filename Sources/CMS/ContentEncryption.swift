/// The content-encryption algorithm of an S/MIME envelope, and whether it
/// protects integrity: AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084) does,
/// EnvelopedData with a CBC cipher (RFC 5652 §6) does not — its ciphertext can be
/// changed block by block without the key (EFAIL, USENIX Security 2018).
public struct ContentEncryption: Sendable, Equatable {
    /// The cipher as people write it ("AES-256-CBC"), or the algorithm's OID when unknown.
    public let name: String
    public let authenticated: Bool

    public init(name: String, authenticated: Bool) {
        self.name = name
        self.authenticated = authenticated
    }

    /// Reads an envelope (EnvelopedData or AuthEnvelopedData, DER or BER as openssl
    /// streams it): OpenSSL parses it, and its DER re-encoding is walked for the field.
    public init(envelope der: [UInt8]) throws {
        let cms = try ContentInfo(der: der)
        self.init(try EnvelopeStructure(contentInfo: cms.der), authenticated: cms.contentType == .authEnvelopedData)
    }

    /// The `contentEncryptionAlgorithm` of an envelope's structure.
    init(_ envelope: EnvelopeStructure, authenticated: Bool) {
        self.authenticated = authenticated
        name = Self.names[envelope.algorithm] ?? envelope.algorithm
    }

    static let names = [
        "2.16.840.1.101.3.4.1.2": "AES-128-CBC", "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
        "2.16.840.1.101.3.4.1.42": "AES-256-CBC", "2.16.840.1.101.3.4.1.6": "AES-128-GCM",
        "2.16.840.1.101.3.4.1.26": "AES-192-GCM", "2.16.840.1.101.3.4.1.46": "AES-256-GCM",
        "1.2.840.113549.3.7": "DES-EDE3-CBC", "1.3.14.3.2.7": "DES-CBC", "1.2.840.113549.3.2": "RC2-CBC",
        "1.2.840.113549.1.9.16.3.18": "ChaCha20-Poly1305",
    ]
}
