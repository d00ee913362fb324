import CMS
import MIME

/// A decrypted message and what its envelope promised about it.
public struct Decryption: Sendable {
    /// The outer fields joined with the decrypted entity (inner fields other than Content-* dropped).
    public let message: Entity
    public let encryption: ContentEncryption
    /// For unauthenticated ciphertext only: the first mark of tampering in the plaintext.
    public let malformation: MalformedContent?
    /// For unauthenticated ciphertext whose plaintext is signed: the first mark of tampering in it, which
    /// matters once that signature fails (a valid one covers the plaintext).
    public var malformationUnderSignature: MalformedContent? = nil
    /// The decrypted entity's own fields other than Content-* (dropped from `message`; RFC 9788's
    /// protected fields when its Content-Type says `hp=`).
    public var innerFields: [HeaderField] = []
}
