/// Where sending profiles are kept, as the keystore keeps them: each under its
/// name as an opaque definition (JSON that only `ProfileBook` reads or writes).
/// Policy knows no SQLite or OpenSSL (DESIGN.md), so the store is seen through
/// this protocol; the Pipeline module adapts the keystore to it.
public protocol ProfileRepository {
    /// The stored definition, or nil when there is no profile of that name.
    func profileDefinition(named name: String) throws -> String?

    /// Every profile, in name order.
    func profileDefinitions() throws -> [(name: String, definition: String)]

    /// Stores one profile. With `replace` it must exist already, without it it must not
    /// (the store checks again inside its transaction, for a concurrent writer).
    func saveProfile(name: String, definition: String, replace: Bool) throws

    /// Stores several profiles all or nothing, replacing same-named ones.
    func saveProfiles(_ profiles: [(name: String, definition: String)]) throws

    /// Removes a profile; false when there was none of that name.
    @discardableResult
    func deleteProfile(named name: String) throws -> Bool
}
