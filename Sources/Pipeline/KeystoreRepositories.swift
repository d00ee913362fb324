import Foundation
import Keystore
import PKI
import Policy

/// The keystore seen through the Policy module's repository protocols. Policy may
/// not see the keystore (it would drag SQLite and OpenSSL into the filter language,
/// DESIGN.md), and the keystore may not see Policy (it knows nothing of MIME), so
/// the one adapter between them lives here, where both are visible.
public struct KeystoreRepositories: ProfileRepository, PolicyRepository, SigningCertificates {
    public let keystore: Keystore

    public init(_ keystore: Keystore) { self.keystore = keystore }

    /// The profile book of this keystore, with its certificates checked by PKI's rules.
    public var profileBook: ProfileBook { ProfileBook(repository: self, certificates: self) }

    /// The policy book of this keystore, checked against its profiles.
    public var policyBook: PolicyBook { PolicyBook(policies: self, profiles: self) }

    // MARK: ProfileRepository

    public func profileDefinition(named name: String) throws -> String? {
        try keystore.profileDefinition(named: name)
    }

    public func profileDefinitions() throws -> [(name: String, definition: String)] {
        try keystore.profileDefinitions()
    }

    public func saveProfile(name: String, definition: String, replace: Bool) throws {
        try keystore.saveProfile(name: name, definition: definition, replace: replace)
    }

    public func saveProfiles(_ profiles: [(name: String, definition: String)]) throws {
        try keystore.saveProfiles(profiles)
    }

    @discardableResult
    public func deleteProfile(named name: String) throws -> Bool { try keystore.deleteProfile(named: name) }

    // MARK: PolicyRepository

    public func storedPolicy() throws -> StoredPolicy? {
        try keystore.storedPolicy().map { StoredPolicy(text: $0.text, sha256: $0.sha256, loadedAt: $0.loadedAt) }
    }

    @discardableResult
    public func savePolicy(text: String) throws -> StoredPolicy {
        let saved = try keystore.savePolicy(text: text)
        return StoredPolicy(text: saved.text, sha256: saved.sha256, loadedAt: saved.loadedAt)
    }

    // MARK: SigningCertificates

    /// Reads the certificates only, never a private key, so it works without the home passphrase.
    public func signingProblems(ofCertificate name: String) throws -> [String]? {
        try keystore.certificates().first { $0.name == name }.map {
            ($0.retired == nil ? [] : ["retired (it only decrypts; see 'smimegate cert unretire')"])
                + Requirements.signingProblems($0.certificate)
        }
    }
}
