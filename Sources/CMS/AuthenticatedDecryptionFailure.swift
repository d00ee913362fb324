/// Why an AuthEnvelopedData (RFC 5083, AES-GCM per RFC 5084) was not decrypted,
/// for the caller to report as a permanent error.
public enum AuthenticatedDecryptionFailure: Error, Equatable, Sendable, CustomStringConvertible {
    /// RFC 5084 §3.2 allows tags of 12 to 16 bytes. OpenSSL 3.0 accepts down to one byte,
    /// with which a forger needs only 256 tries to have a changed plaintext accepted.
    case tagTooShort(bytes: Int)
    /// The mac is not as long as GCMParameters' aes-ICVlen says.
    case tagLengthMismatch(tag: Int, icvLength: Int)
    /// The GCM tag does not match: the ciphertext or its parameters were changed. A key that is
    /// not the one the sender wrapped looks the same, on purpose: OpenSSL then decrypts with a
    /// random key rather than reveal which RSA padding was valid (RFC 3218 §2.3).
    case tagCheckFailed
    /// The structure around the tag could not be read.
    case malformed

    public var description: String {
        switch self {
        case .tagTooShort(let bytes):
            "authentication tag too short (\(bytes) bytes; RFC 5084 requires 12 to 16)"
        case .tagLengthMismatch(let tag, let icvLength):
            "authentication tag length \(tag) differs from aes-ICVlen \(icvLength)"
        case .tagCheckFailed:
            "authentication tag check failed: the content was altered (or is not encrypted to this key)"
        case .malformed:
            "malformed AuthEnvelopedData"
        }
    }
}
