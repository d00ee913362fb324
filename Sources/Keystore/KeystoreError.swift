/// A keystore failure, with a one-line reason (no key material in it, ever).
public struct KeystoreError: Error, CustomStringConvertible, Sendable {
    /// The failures a caller may act on; everything else is `.other`.
    public enum Kind: Sendable, Equatable {
        /// The home encrypts private keys and no home passphrase was given.
        case passphraseRequired
        /// The home passphrase given is not the home's.
        case wrongPassphrase
        /// A home passphrase was given to store a key in a home that keeps keys unencrypted.
        case homeNotEncrypted
        /// The keystore's server cannot be reached now (a PostgreSQL keystore): worth trying again later.
        case unavailable
        case other
    }

    public let kind: Kind
    public let reason: String

    public init(_ reason: String, kind: Kind = .other) {
        self.reason = reason
        self.kind = kind
    }

    public var description: String { reason }
}
