import ArgumentParser
import CMS
import Foundation
import Keystore
import PKI
import Policy

extension SendingProfile.Mode: ExpressibleByArgument {}
extension SendingProfile.MissingKeyAction: ExpressibleByArgument {}

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sending profiles: what 'process outgoing' does to mail (SPEC F7).",
        subcommands: [
            ProfileCreate.self, ProfileEdit.self, ProfileDelete.self, ProfileList.self, ProfileShow.self, ProfileSearch.self,
            ProfileExport.self, ProfileImport.self,
        ])
}

/// Reads and writes profiles in the keystore, and checks them against it.
struct ProfileStore {
    let store: Keystore

    func load(_ name: String) throws -> SendingProfile {
        try decode(try configuring { try store.profileDefinition(named: name) }, name)
    }

    func all() throws -> [SendingProfile] {
        try configuring { try store.profileDefinitions() }.map { try decode($0.definition, $0.name) }
    }

    func decode(_ definition: String, _ name: String) throws -> SendingProfile {
        guard let profile = try? JSONDecoder().decode(SendingProfile.self, from: Data(definition.utf8)) else {
            throw Failure.usage("profile \(name): the stored definition cannot be read")
        }
        return profile
    }

    func encode(_ profile: SendingProfile) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(profile), as: UTF8.self)
    }

    /// Every reason the profile cannot be used: its own rules, then its certificate
    /// (present in the keystore, and allowed to sign — SPEC F18).
    func problems(_ profile: SendingProfile, checkUsability: Bool = true) throws -> [String] {
        var problems = profile.problems
        if profile.mode.signs, let name = profile.certificate, !name.isEmpty {
            let certificates = try configuring { try store.certificates() }
            if let entry = certificates.first(where: { $0.name == name }) {
                if checkUsability {
                    problems += Requirements.signingProblems(entry.certificate).map { "certificate \(name): \($0)" }
                }
            } else {
                problems.append("no certificate named \"\(name)\"")
            }
        }
        return problems
    }

    func save(_ profile: SendingProfile, replace: Bool) throws {
        let problems = try problems(profile)
        if !problems.isEmpty { throw Failure.usage("profile \(profile.name): \(problems.joined(separator: "; "))") }
        try configuring { try store.saveProfile(name: profile.name, definition: try encode(profile), replace: replace) }
    }
}

/// The settings shared by `profile create` and `profile edit`.
struct ProfileSettings: ParsableArguments {
    @Option(help: "sign, encrypt, sign-encrypt or triple.") var mode: SendingProfile.Mode?
    @Option(help: "The certificate to sign with (required for modes that sign).") var cert: String?
    @Option(help: "detached or opaque.") var signMode: String?
    @Option(help: "When a recipient has no usable key: bounce, drop or split.") var missingKey: SendingProfile.MissingKeyAction?
    @Option(help: "aes-256-cbc, aes-128-cbc, aes-128-gcm or aes-256-gcm.") var cipher: String?
    @Option(help: "sha256, sha384 or sha512.") var digest: String?
    @Option(help: ArgumentHelp("RSA-OAEP key transport: yes or no.", valueName: "yes|no")) var oaep: String?

    func apply(to profile: inout SendingProfile) throws {
        if let mode { profile.mode = mode }
        if let cert { profile.certificate = cert.isEmpty ? nil : cert }
        if let signMode { profile.signMode = signMode }
        if let missingKey { profile.missingKey = missingKey }
        if let cipher { profile.cipher = cipher }
        if let digest { profile.digest = digest }
        if let oaep {
            guard oaep == "yes" || oaep == "no" else { throw Failure.usage("--oaep takes yes or no") }
            profile.oaep = oaep == "yes"
        }
    }
}

struct ProfileCreate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "create", abstract: "Create a sending profile.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @OptionGroup var settings: ProfileSettings

    func validate() throws {
        if settings.mode == nil { throw ValidationError("--mode is required") }
    }

    func run() throws {
        var profile = SendingProfile(name: name, mode: settings.mode ?? .sign)
        try settings.apply(to: &profile)
        try ProfileStore(store: home.open()).save(profile, replace: false)
        print("created profile \(name): \(profile.summary)")
    }
}

struct ProfileEdit: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "edit", abstract: "Change settings of a sending profile.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @OptionGroup var settings: ProfileSettings

    func run() throws {
        let profiles = ProfileStore(store: try home.open())
        var profile = try profiles.load(name)
        try settings.apply(to: &profile)
        try profiles.save(profile, replace: true)
        print("updated profile \(name): \(profile.summary)")
    }
}

struct ProfileDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a sending profile.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        try configuring { try home.open().deleteProfile(named: name) }
        print("deleted profile \(name)")
    }
}

struct ProfileList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List sending profiles.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let profiles = try ProfileStore(store: home.open()).all()
        if format.json { try printJSON(profiles) } else { for p in profiles { print("\(p.name)\t\(p.summary)") } }
    }
}

struct ProfileShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a sending profile and whether it is usable.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        let profiles = ProfileStore(store: try home.open())
        let p = try profiles.load(name)
        let problems = try profiles.problems(p)
        printReport([
            ("name", p.name), ("mode", p.mode.rawValue), ("certificate", p.certificate ?? "none"), ("sign mode", p.signMode),
            ("missing key", p.missingKey.rawValue), ("cipher", p.cipher), ("digest", p.digest), ("oaep", p.oaep ? "yes" : "no"),
            ("usable", problems.isEmpty ? "yes" : "no: " + problems.joined(separator: "; ")),
        ])
    }
}

struct ProfileSearch: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "search", abstract: "Find profiles by name, mode or certificate.")
    @OptionGroup var home: HomeOptions
    @Argument var text: String

    func run() throws {
        let found = try ProfileStore(store: home.open()).all().filter { $0.matches(text) }
        for p in found { print("\(p.name)\t\(p.summary)") }
        if found.isEmpty { throw Failure.problem("no profile matches \"\(text)\"") }
    }
}

struct ProfileExport: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write every profile to a readable text file.")
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("The file to write ('-' for standard output).", valueName: "FILE")) var file: String

    func run() throws {
        let profiles = try ProfileStore(store: home.open()).all()
        try emit(ProfileFile.render(profiles), to: file)
        if file != "-" { print("exported \(profiles.count) profile(s) to \(file)") }
    }
}

struct ProfileImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import profiles from a file written by 'profile export'.",
        discussion: "Everything is checked first; each problem is reported by profile name, and nothing is stored unless all are valid.")
    @OptionGroup var home: HomeOptions
    @Argument var file: String

    func run() throws {
        let profiles = ProfileStore(store: try home.open())
        let (parsed, problems) = ProfileFile.parse(String(decoding: try readFile(file), as: UTF8.self))
        var all = problems
        for profile in parsed { all += try profiles.problems(profile).map { "profile \(profile.name): \($0)" } }
        if !all.isEmpty {
            for problem in all.dropLast() { printErr("smimegate: \(file): \(problem)") }
            throw Failure.usage("\(file): \(all.last!)")
        }
        try configuring { try profiles.store.saveProfiles(try parsed.map { ($0.name, try profiles.encode($0)) }) }
        print("imported \(parsed.count) profile(s)")
    }
}
