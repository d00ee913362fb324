/// The fields of an EnvelopedData or AuthEnvelopedData that OpenSSL 3.0 does not
/// expose, read once from its DER (RFC 5652 §6.1, RFC 5083 §2.1):
/// ContentInfo { contentType, [0] { version, [0] originatorInfo OPTIONAL, recipientInfos,
/// EncryptedContentInfo { contentType, AlgorithmIdentifier { OID, parameters } },
/// ... [1] authAttrs OPTIONAL, mac OCTET STRING (AuthEnvelopedData only) } }.
struct EnvelopeStructure {
    /// The content-encryption algorithm's OID, dotted.
    let algorithm: String
    /// The algorithm's parameters (for GCM: GCMParameters), if any.
    let parameters: DERReader.Element?
    /// The MAC (the GCM tag) of an AuthEnvelopedData; nil for EnvelopedData.
    let mac: DERReader.Element?

    /// `der`: a ContentInfo as OpenSSL encodes it (definite lengths).
    init(contentInfo der: [UInt8]) throws {
        var outer = DERReader(der[...])
        var contentInfo = DERReader(try outer.read(0x30).value)
        _ = try contentInfo.read(0x06)
        var explicit = DERReader(try contentInfo.read(0xA0).value)
        var envelope = DERReader(try explicit.read(0x30).value)
        _ = try envelope.read(0x02)  // version
        try envelope.skip(ifTag: 0xA0)  // originatorInfo
        _ = try envelope.read(0x31)  // recipientInfos
        var encryptedContentInfo = DERReader(try envelope.read(0x30).value)
        _ = try encryptedContentInfo.read(0x06)  // contentType
        var algorithmIdentifier = DERReader(try encryptedContentInfo.read(0x30).value)
        algorithm = try DERReader.objectIdentifier(try algorithmIdentifier.read(0x06))
        parameters = algorithmIdentifier.isAtEnd ? nil : try algorithmIdentifier.read()
        try envelope.skip(ifTag: 0xA1)  // authAttrs (or EnvelopedData's unprotectedAttrs)
        let macFollows = try !envelope.isAtEnd && envelope.peek().tag == 0x04
        mac = macFollows ? try envelope.read(0x04) : nil
    }
}
