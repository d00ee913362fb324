import ArgumentParser
import Foundation
import Keystore
import MIME
import Pipeline
import Policy

extension SendingProfile.Mode: ExpressibleByArgument {}
extension SendingProfile.MissingKeyAction: ExpressibleByArgument {}
extension HeaderProtection: ExpressibleByArgument {}

struct Profile: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sending profiles: what 'process outgoing' does to mail (SPEC F7).",
        subcommands: [
            ProfileCreate.self, ProfileEdit.self, ProfileDelete.self, ProfileList.self, ProfileShow.self,
            ProfileSearch.self, ProfileExport.self, ProfileImport.self,
        ])
}

/// The profile book over this home's keystore, its typed errors turned into the
/// command line's exits (all configuration errors, 2). `process outgoing` and `demo`
/// use it too, so every command reports a bad profile in the same words.
struct ProfileStore {
    let book: ProfileBook

    init(store: Keystore) { book = KeystoreRepositories(store).profileBook }

    func load(_ name: String) throws -> SendingProfile { try withProfiles { try book.load(name) } }
    func all() throws -> [SendingProfile] { try withProfiles { try book.all() } }
    func save(_ profile: SendingProfile, replace: Bool) throws {
        try withProfiles { try book.save(profile, replace: replace) }
    }
    func problems(_ profile: SendingProfile, checkUsability: Bool = true) throws -> [String] {
        try withProfiles { try book.problems(profile, checkUsability: checkUsability) }
    }
}

/// Runs a profile operation: a `ProfileError` is a configuration error (exit 2) in its own words.
func withProfiles<T>(_ body: () throws -> T) throws -> T {
    do {
        return try configuring { try body() }
    } catch let error as ProfileError {
        throw Failure.usage(error.description)
    }
}

/// The settings shared by `profile create` and `profile edit`.
struct ProfileSettings: ParsableArguments {
    @Option(help: "sign, encrypt, sign-encrypt or triple.") var mode: SendingProfile.Mode?
    @Option(help: "The certificate to sign with (required for modes that sign).") var cert: String?
    @Option(help: "detached or opaque.") var signMode: String?
    @Option(help: "When a recipient has no usable key: bounce, drop or split.")
    var missingKey: SendingProfile.MissingKeyAction?
    @Option(
        help: ArgumentHelp(
            "auto (default: AES-GCM for harvested partners who announced it, else aes-256-cbc), aes-256-cbc, "
                + "aes-128-cbc, aes-128-gcm or aes-256-gcm."))
    var cipher: String?
    @Option(help: "sha256, sha384 or sha512.") var digest: String?
    @Option(help: ArgumentHelp("RSA-OAEP key transport: yes or no.", valueName: "yes|no")) var oaep: String?
    @Option(
        help: ArgumentHelp(
            "Header protection (RFC 9788): none, sign (From, To, Subject, ... inside the signature or envelope) "
                + "or encrypt (also the outer Subject obscured as [...] in encrypted mail; the default for new "
                + "profiles)."))
    var headerProtection: HeaderProtection?
    @Option(
        help: ArgumentHelp(
            "Write the obscured Subject at the top of the text of encrypted mail, for readers without header "
                + "protection: yes or no (default).", valueName: "yes|no"))
    var legacyDisplay: String?

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
        if let headerProtection { profile.headerProtection = headerProtection }
        if let legacyDisplay {
            guard legacyDisplay == "yes" || legacyDisplay == "no" else {
                throw Failure.usage("--legacy-display takes yes or no")
            }
            profile.legacyDisplay = legacyDisplay == "yes"
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
    static let configuration = CommandConfiguration(
        commandName: "edit", abstract: "Change settings of a sending profile.")
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
        let store = try home.open()
        let profiles = ProfileStore(store: store).book
        try withPolicy("the loaded policy") {
            try withProfiles { try KeystoreRepositories(store).policyBook.deleteProfile(name, from: profiles) }
        }
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
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a sending profile and whether it is usable.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        let profiles = ProfileStore(store: try home.open())
        let p = try profiles.load(name)
        let problems = try profiles.problems(p)
        printReport([
            ("name", p.name), ("mode", p.mode.rawValue), ("certificate", p.certificate ?? "none"),
            ("sign mode", p.signMode), ("missing key", p.missingKey.rawValue), ("cipher", p.cipher),
            ("digest", p.digest), ("oaep", p.oaep ? "yes" : "no"),
            ("header protection", p.headerProtection.rawValue), ("legacy display", p.legacyDisplay ? "yes" : "no"),
            ("usable", problems.isEmpty ? "yes" : "no: " + problems.joined(separator: "; ")),
        ])
    }
}

struct ProfileSearch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search", abstract: "Find profiles by name, mode or certificate.")
    @OptionGroup var home: HomeOptions
    @Argument var text: String

    func run() throws {
        let found = try ProfileStore(store: home.open()).all().filter { $0.matches(text) }
        for p in found { print("\(p.name)\t\(p.summary)") }
        if found.isEmpty { throw Failure.problem("no profile matches \"\(text)\"") }
    }
}

struct ProfileExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write every profile to a readable text file.")
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
        discussion: """
            Everything is checked first; each problem is reported by profile name, and nothing is stored
            unless all are valid.
            """)
    @OptionGroup var home: HomeOptions
    @Argument var file: String

    func run() throws {
        let book = ProfileStore(store: try home.open()).book
        let text = String(decoding: try readFile(file), as: UTF8.self)
        do {
            let imported = try configuring { try book.importing(text) }
            print("imported \(imported.count) profile(s)")
        } catch ProfileError.rejected(let problems) {
            for problem in problems.dropLast() { printErr("smimegate: \(file): \(problem)") }
            throw Failure.usage("\(file): \(problems.last ?? "the file has problems")")
        }
    }
}
