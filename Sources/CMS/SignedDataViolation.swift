/// A SignedData that OpenSSL would verify but that mail must not accept: what is
/// signed would not be what is shown. Reported as a permanent error (RFC 7281 §2.3).
public enum SignedDataViolation: Error, Equatable, Sendable, CustomStringConvertible {
    /// A multipart/signed signature (RFC 8551 §3.5.3) that carries eContent other than the
    /// first MIME part, which could be delivered in place of the part it was checked against.
    case detachedSignatureCarriesContent
    /// RFC 8551 §3.2: a signed mail body is id-data; TSTInfo, receipts and private types are not mail.
    case contentTypeNotData(String)
    /// RFC 5652 §5.3 and §11.1: with signed attributes, the contentType attribute is
    /// required and must equal eContentType (which is itself not signed).
    case contentTypeAttributeMissing
    case contentTypeAttributeMismatch(attribute: String, eContentType: String)

    public var description: String {
        switch self {
        case .detachedSignatureCarriesContent:
            "the detached signature carries content of its own (eContent differs from the signed part)"
        case .contentTypeNotData(let type):
            "eContentType \(type) is not id-data"
        case .contentTypeAttributeMissing:
            "the signed attributes have no contentType attribute"
        case .contentTypeAttributeMismatch(let attribute, let eContentType):
            "the signed contentType attribute \(attribute) differs from eContentType \(eContentType)"
        }
    }
}
