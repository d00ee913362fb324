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
        try self.init(ContentInfo(der: der))
    }

    /// `contentEncryptionAlgorithm` of a parsed envelope (RFC 5652 §6.1, RFC 5083 §2.1):
    /// ContentInfo { contentType, [0] { version, [0] originatorInfo OPTIONAL,
    /// recipientInfos, EncryptedContentInfo { contentType, AlgorithmIdentifier } } }.
    init(_ cms: ContentInfo) throws {
        authenticated = cms.contentType == .authEnvelopedData
        var outer = DERReader(try cms.der[...])
        var contentInfo = DERReader(try outer.read(0x30).value)
        _ = try contentInfo.read(0x06)
        var explicit = DERReader(try contentInfo.read(0xA0).value)
        var envelope = DERReader(try explicit.read(0x30).value)
        _ = try envelope.read(0x02)  // version
        try envelope.skip(ifTag: 0xA0)  // originatorInfo
        _ = try envelope.read(0x31)  // recipientInfos
        var encryptedContentInfo = DERReader(try envelope.read(0x30).value)
        _ = try encryptedContentInfo.read(0x06)  // contentType
        var algorithm = DERReader(try encryptedContentInfo.read(0x30).value)
        let oid = try DERReader.objectIdentifier(try algorithm.read(0x06))
        name = Self.names[oid] ?? oid
    }

    static let names = [
        "2.16.840.1.101.3.4.1.2": "AES-128-CBC", "2.16.840.1.101.3.4.1.22": "AES-192-CBC",
        "2.16.840.1.101.3.4.1.42": "AES-256-CBC", "2.16.840.1.101.3.4.1.6": "AES-128-GCM",
        "2.16.840.1.101.3.4.1.26": "AES-192-GCM", "2.16.840.1.101.3.4.1.46": "AES-256-GCM",
        "1.2.840.113549.3.7": "DES-EDE3-CBC", "1.3.14.3.2.7": "DES-CBC", "1.2.840.113549.3.2": "RC2-CBC",
        "1.2.840.113549.1.9.16.3.18": "ChaCha20-Poly1305",
    ]
}
