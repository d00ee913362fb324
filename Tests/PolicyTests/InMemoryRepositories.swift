import Foundation
import Policy

/// Profiles, a policy and certificates held in memory, so `ProfileBook` and
/// `PolicyBook` are tested in-process, without a keystore. The SHA-256 is not
/// computed here (Policy knows no OpenSSL): the keystore's is tested against openssl.
final class InMemoryRepositories: ProfileRepository, PolicyRepository, SigningCertificates {
    var definitions: [String: String] = [:]
    var policy: StoredPolicy?
    /// Certificate name → the reasons it cannot sign (empty: it can).
    var certificates: [String: [String]] = [:]
    /// How many times `savePolicy` stored something.
    var policySaves = 0

    func profileDefinition(named name: String) throws -> String? { definitions[name] }

    func profileDefinitions() throws -> [(name: String, definition: String)] {
        definitions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    func saveProfile(name: String, definition: String, replace: Bool) throws { definitions[name] = definition }

    func saveProfiles(_ profiles: [(name: String, definition: String)]) throws {
        for (name, definition) in profiles { definitions[name] = definition }
    }

    func deleteProfile(named name: String) throws -> Bool { definitions.removeValue(forKey: name) != nil }

    func storedPolicy() throws -> StoredPolicy? { policy }

    func savePolicy(text: String) throws -> StoredPolicy {
        policySaves += 1
        let stored = StoredPolicy(text: text, sha256: "save-\(policySaves)", loadedAt: Date())
        policy = stored
        return stored
    }

    func signingProblems(ofCertificate name: String) throws -> [String]? { certificates[name] }

    var profileBook: ProfileBook { ProfileBook(repository: self, certificates: self) }
    var policyBook: PolicyBook { PolicyBook(policies: self, profiles: self) }
}
