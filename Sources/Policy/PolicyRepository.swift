/// Where the one policy in force is kept. The store, not Policy, computes the
/// SHA-256 (Policy knows no OpenSSL); `PolicyBook` checks a text before it asks
/// the store to keep it.
public protocol PolicyRepository {
    /// The policy last loaded, or nil when none ever was.
    func storedPolicy() throws -> StoredPolicy?

    /// Replaces the stored policy with `text` in one step (a reader sees the old or
    /// the new one, never a mix) and returns what is now stored.
    @discardableResult
    func savePolicy(text: String) throws -> StoredPolicy
}
