/// The policy file in force (SPEC F8, F9, F12, F14): checked, stored and read
/// back through a `PolicyRepository`. A policy names sending profiles, so it is
/// checked against the profiles stored now; a profile missing is an error when the
/// policy is checked or loaded, never in the middle of a run.
public struct PolicyBook {
    public let policies: any PolicyRepository
    public let profiles: any ProfileRepository

    public init(policies: any PolicyRepository, profiles: any ProfileRepository) {
        self.policies = policies
        self.profiles = profiles
    }

    /// The document `text` describes, or `PolicyStoreError.invalid` with every problem
    /// (syntax, and each sending profile named that the store lacks). Stores nothing.
    public func check(_ text: String) throws -> PolicyDocument {
        let known = Set(try profiles.profileDefinitions().map(\.name))
        let (document, problems) = PolicyParser.parse(text, knownProfiles: known)
        guard let document, problems.isEmpty else { throw PolicyStoreError.invalid(problems: problems) }
        return document
    }

    /// Checks `text`, then stores it as the policy in force: all or nothing, so a
    /// broken file leaves the previous policy running.
    @discardableResult
    public func load(_ text: String) throws -> (document: PolicyDocument, stored: StoredPolicy) {
        let document = try check(text)
        return (document, try policies.savePolicy(text: text))
    }

    /// Deletes a sending profile, unless the policy in force names it (`ProfileError.inUse`):
    /// every later run would refuse to start.
    public func deleteProfile(_ name: String, from book: ProfileBook) throws {
        if let current = try current(), current.document.profileNames.contains(name) {
            throw ProfileError.inUse(name)
        }
        try book.delete(name)
    }

    /// The policy in force with its stored form, or nil when none was ever loaded.
    /// Its profiles are not checked again here: they were when it was loaded.
    public func current() throws -> (document: PolicyDocument, stored: StoredPolicy)? {
        guard let stored = try policies.storedPolicy() else { return nil }
        let (document, problems) = PolicyParser.parse(stored.text)
        guard var document, problems.isEmpty else { throw PolicyStoreError.unreadable(problems: problems) }
        document.digest = stored.sha256
        return (document, stored)
    }
}
