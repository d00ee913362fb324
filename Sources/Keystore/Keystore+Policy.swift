import CMS
import Foundation

/// The policy file in force (SPEC F8, F9), stored as one row: its text exactly as
/// loaded, the SHA-256 of that text and when it was loaded. The keystore does not
/// read the text (Keystore knows nothing of MIME or the filter language); the
/// Policy module checks it before it comes here.
extension Keystore {
    /// Replaces the stored policy with `text` in one transaction and returns what is
    /// now stored. The SHA-256 is over the UTF-8 bytes of `text`, as `sha256sum` or
    /// `openssl dgst -sha256` of the file computes it.
    @discardableResult
    public func savePolicy(text: String) throws -> (text: String, sha256: String, loadedAt: Date) {
        // SQLite binds text up to its first NUL: such a text would not come back whole.
        guard !text.utf8.contains(0) else { throw KeystoreError("the policy text contains a NUL byte") }
        let sha256 = CMS.hex(CMS.sha256(Array(text.utf8)))
        let loadedAt = Keystore.now()
        try db.transaction {
            try db.query("DELETE FROM policy")
            try db.query(
                "INSERT INTO policy (id, text, sha256, loaded_at) VALUES (1, ?, ?, ?)",
                [.text(text), .text(sha256), .text(loadedAt)])
        }
        return (text, sha256, try Keystore.date(loadedAt))
    }

    /// The stored policy, or nil when none was ever loaded.
    public func storedPolicy() throws -> (text: String, sha256: String, loadedAt: Date)? {
        guard let row = try db.query("SELECT text, sha256, loaded_at FROM policy WHERE id = 1").first else {
            return nil
        }
        return (row[0] ?? "", row[1] ?? "", try Keystore.date(row[2] ?? ""))
    }

    private static func date(_ iso8601: String) throws -> Date {
        guard let date = ISO8601DateFormatter().date(from: iso8601) else {
            throw KeystoreError("the keystore holds an unreadable time \"\(iso8601)\"")
        }
        return date
    }
}
