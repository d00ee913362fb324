/// An envelope with no recipient info for any of the keys tried: not an error in
/// the message, just not ours to open (a gateway delivers it as received).
public struct EnvelopeNotAddressed: Error, Equatable, Sendable, CustomStringConvertible {
    /// The certificate's subject, or "any of N organisation certificates".
    public let recipient: String

    public var description: String { "the message is not encrypted to \(recipient)" }
}
