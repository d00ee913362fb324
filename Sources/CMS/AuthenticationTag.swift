/// The GCM tag of an AuthEnvelopedData (RFC 5083 §2.1) and the aes-ICVlen its
/// GCMParameters announce (RFC 5084 §3.2). OpenSSL 3.0 exposes neither, and
/// verifies whatever tag length it is given, so they are read from the DER.
struct AuthenticationTag: Equatable {
    /// RFC 5084 §3.2: "aes-ICVlen ... 12, 13, 14, 15, or 16"; the default is 12.
    static let minimumLength = 12

    let length: Int
    let icvLength: Int

    /// The tag of an AuthEnvelopedData's structure.
    init(_ envelope: EnvelopeStructure) throws {
        do {
            guard let gcm = envelope.parameters, gcm.tag == 0x30, let mac = envelope.mac else {
                throw DERReader.Malformed()
            }
            var parameters = DERReader(gcm.value)
            _ = try parameters.read(0x04)  // aes-nonce
            icvLength = parameters.isAtEnd ? 12 : try DERReader.integer(try parameters.read(0x02))
            length = mac.value.count
        } catch {
            throw AuthenticatedDecryptionFailure.malformed
        }
    }

    /// The reason this tag may not be trusted, or nil.
    var problem: AuthenticatedDecryptionFailure? {
        if min(length, icvLength) < Self.minimumLength { return .tagTooShort(bytes: min(length, icvLength)) }
        if length != icvLength { return .tagLengthMismatch(tag: length, icvLength: icvLength) }
        return nil
    }
}
