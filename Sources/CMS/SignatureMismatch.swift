/// The signature does not verify over the content (RFC 5652 §5.6): the content or
/// the signed attributes were changed, or the signature is not the signer's.
public struct SignatureMismatch: Error, Equatable, Sendable, CustomStringConvertible {
    /// OpenSSL's reasons, for the operator.
    public let reasons: [String]

    public var description: String { "bad signature: \(reasons.joined(separator: "; "))" }
}
