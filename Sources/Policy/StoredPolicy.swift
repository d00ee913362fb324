import Foundation

/// The policy file in force, as it was loaded: its text byte for byte (so
/// `policy export` gives back what `policy load` took), the SHA-256 of that text
/// (an operator compares it with `sha256sum` of the file on disk to know which
/// version runs), and when it was loaded.
public struct StoredPolicy: Sendable, Equatable {
    public let text: String
    /// Lowercase hex of SHA-256 over the UTF-8 bytes of `text`.
    public let sha256: String
    public let loadedAt: Date

    public init(text: String, sha256: String, loadedAt: Date) {
        self.text = text
        self.sha256 = sha256
        self.loadedAt = loadedAt
    }
}
