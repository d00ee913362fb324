import Foundation

/// The sending profiles of a home (SPEC F7): read, checked and written through a
/// `ProfileRepository`, with their certificates checked through `SigningCertificates`.
/// This is the domain side of the `profile` commands, kept out of the executable so
/// the command line only parses arguments and prints results, and so `process` and
/// the policy checks use the same rules.
public struct ProfileBook {
    public let repository: any ProfileRepository
    public let certificates: any SigningCertificates

    public init(repository: any ProfileRepository, certificates: any SigningCertificates) {
        self.repository = repository
        self.certificates = certificates
    }

    /// The profile named `name`; `ProfileError.notFound` or `.unreadable`.
    public func load(_ name: String) throws -> SendingProfile {
        guard let definition = try repository.profileDefinition(named: name) else { throw ProfileError.notFound(name) }
        return try Self.decode(definition, name)
    }

    /// Every profile, in name order.
    public func all() throws -> [SendingProfile] {
        try repository.profileDefinitions().map { try Self.decode($0.definition, $0.name) }
    }

    /// The names of every stored profile (what a policy file may name).
    public func names() throws -> Set<String> { Set(try repository.profileDefinitions().map(\.name)) }

    /// Every reason the profile cannot be used: its own rules, then its certificate —
    /// present in the keystore and, with `checkUsability`, allowed to sign now (SPEC F18).
    /// A run checks without usability: a certificate that can no longer sign bounces
    /// each message instead (SPEC F5), so senders learn of it.
    public func problems(_ profile: SendingProfile, checkUsability: Bool = true) throws -> [String] {
        var problems = profile.problems
        if profile.mode.signs, let name = profile.certificate, !name.isEmpty {
            if let reasons = try certificates.signingProblems(ofCertificate: name) {
                if checkUsability { problems += reasons.map { "certificate \(name): \($0)" } }
            } else {
                problems.append("no certificate named \"\(name)\"")
            }
        }
        return problems
    }

    /// Stores a valid profile: `.invalid` with every problem, `.alreadyExists` when
    /// creating over a profile, `.notFound` when replacing one that is not there.
    public func save(_ profile: SendingProfile, replace: Bool) throws {
        let problems = try problems(profile)
        if !problems.isEmpty { throw ProfileError.invalid(profile.name, problems: problems) }
        let exists = try repository.profileDefinition(named: profile.name) != nil
        if exists && !replace { throw ProfileError.alreadyExists(profile.name) }
        if !exists && replace { throw ProfileError.notFound(profile.name) }
        try repository.saveProfile(name: profile.name, definition: try Self.encode(profile), replace: replace)
    }

    public func delete(_ name: String) throws {
        guard try repository.deleteProfile(named: name) else { throw ProfileError.notFound(name) }
    }

    /// Imports the text of a `ProfileFile` all or nothing: every problem of the file and
    /// of each profile (by its name) is gathered first, and `.rejected` carries them all,
    /// so an operator fixes the file in one pass. Same-named profiles are replaced.
    @discardableResult
    public func importing(_ text: String) throws -> [SendingProfile] {
        let (parsed, fileProblems) = ProfileFile.parse(text)
        var problems = fileProblems
        for profile in parsed { problems += try self.problems(profile).map { "profile \(profile.name): \($0)" } }
        if !problems.isEmpty { throw ProfileError.rejected(problems: problems) }
        try repository.saveProfiles(try parsed.map { ($0.name, try Self.encode($0)) })
        return parsed
    }

    /// The stored form: JSON with sorted keys, so an unchanged profile stores the same text.
    static func encode(_ profile: SendingProfile) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(profile), as: UTF8.self)
    }

    static func decode(_ definition: String, _ name: String) throws -> SendingProfile {
        guard let profile = try? JSONDecoder().decode(SendingProfile.self, from: Data(definition.utf8)) else {
            throw ProfileError.unreadable(name)
        }
        return profile
    }
}
