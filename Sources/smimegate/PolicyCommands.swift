import ArgumentParser
import Foundation
import Keystore
import Pipeline
import Policy

/// `policy`: the policy file that decides, per sender, recipient and content, what
/// the gateway does (SPEC F8, F9, F12, F14). The work lives in `PolicyBook`; these
/// commands read files, print and choose exit codes.
struct PolicyCommand: ParsableCommand {
    /// `policy trace` joins this list.
    static let subcommandTypes: [any ParsableCommand.Type] = [
        PolicyCheck.self, PolicyLoad.self, PolicyShow.self, PolicyExport.self, PolicyTraceCommand.self,
    ]

    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "The policy file: mail policies, content filters and message filters (SPEC F8, F9, F12, F14).",
        discussion: """
            A policy file is one readable UTF-8 text file in sections, like the profile export \
            format. [message filters] and [content filters] hold filters in the appliance's language \
            (NAME: if (CONDITION) { ACTION; ... }); [outgoing policy NAME] and [incoming policy NAME] \
            hold 'key = value' settings (senders, recipients, content-filters; decrypt, verify, \
            signature, ...). '#' starts a comment. The README section "Policies and filters" \
            describes the format and the language, with worked examples.

            'policy check FILE' reports every problem as FILE:LINE:COLUMN: reason; 'policy load FILE' \
            checks the same way and stores the file only when it has none, so a broken file never \
            replaces the policy in force. The sending profiles a filter names must exist first \
            ('profile create').
            """,
        subcommands: subcommandTypes)
}

/// The text of a policy file: UTF-8 exactly as on disk, since the stored copy must
/// export byte for byte and its SHA-256 must match the file's.
func readPolicyText(_ file: String) throws -> String {
    // Validated, not converted: Foundation's decoding would drop a leading byte order mark.
    guard let text = String(validating: try readFile(file), as: UTF8.self) else {
        throw Failure.usage("\(file): the policy file is not UTF-8 text")
    }
    return text
}

/// Runs a policy operation. Every problem goes to stderr as `FILE:LINE:COLUMN: reason`
/// (the form editors and CI annotate), then one summary line; exit 2.
func withPolicy<T>(_ file: String, _ body: () throws -> T) throws -> T {
    do {
        return try configuring { try body() }
    } catch let error as PolicyStoreError {
        for problem in error.problems { printErr("\(file):\(problem)") }
        throw Failure.usage("\(file): \(error)")
    } catch let error as ProfileError {
        throw Failure.usage(error.description)
    }
}

/// "2 message filters, 1 content filter, ...": what a document holds, for one line.
func policyCounts(_ document: PolicyDocument) -> String {
    func count(_ n: Int, _ one: String, _ many: String) -> String { "\(n) \(n == 1 ? one : many)" }
    return [
        count(document.messageFilters.count, "message filter", "message filters"),
        count(document.contentFilters.count, "content filter", "content filters"),
        count(document.outgoing.count, "outgoing policy", "outgoing policies"),
        count(document.incoming.count, "incoming policy", "incoming policies"),
    ].joined(separator: ", ")
}

struct PolicyCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check a policy file without storing it.",
        discussion: """
            Prints every problem as FILE:LINE:COLUMN: reason on standard error and exits 2; a sending \
            profile that a filter names must exist in the keystore. Prints 'FILE: ok (...)' and exits 0 \
            when the file has no problem.
            """)
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("The policy file to check.", valueName: "FILE")) var file: String

    func run() throws {
        let text = try readPolicyText(file)
        let book = KeystoreRepositories(try home.open()).policyBook
        let document = try withPolicy(file) { try book.check(text) }
        print("\(file): ok (\(policyCounts(document)))")
    }
}

struct PolicyLoad: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "load",
        abstract: "Check a policy file, then make it the policy in force.",
        discussion: """
            All or nothing: a file with any problem (reported as by 'policy check') stores nothing and \
            the previous policy stays in force. Prints the SHA-256 of the file as stored, to compare \
            with 'sha256sum FILE'.
            """)
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("The policy file to load.", valueName: "FILE")) var file: String

    func run() throws {
        let text = try readPolicyText(file)
        let book = KeystoreRepositories(try home.open()).policyBook
        let (document, stored) = try withPolicy(file) { try book.load(text) }
        print("loaded \(file) (\(policyCounts(document)))")
        print("sha256: \(stored.sha256)")
    }
}

struct PolicyShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Summarise the policy in force: its SHA-256, when it was loaded, its policies and filters.",
        discussion: "Exits 1 when no policy has been loaded ('policy load FILE').")
    @OptionGroup var home: HomeOptions

    func run() throws {
        let book = KeystoreRepositories(try home.open()).policyBook
        guard let (document, stored) = try withPolicy("the stored policy", { try book.current() }) else {
            throw Failure.problem("no policy is loaded (see 'smimegate policy load FILE')")
        }
        printReport([
            ("sha256", stored.sha256), ("loaded at", ISO8601DateFormatter().string(from: stored.loadedAt)),
            ("message filters", names(document.messageFilters.map(\.name))),
            ("content filters", names(document.contentFilters.map(\.name))),
        ])
        for policy in document.outgoing {
            print("\noutgoing policy \(policy.name)")
            printSettings([
                ("senders", patterns(policy.senders)), ("recipients", patterns(policy.recipients)),
                ("content-filters", names(policy.contentFilters)),
            ])
        }
        for policy in document.incoming {
            print("\nincoming policy \(policy.name)")
            printSettings(
                [
                    ("senders", patterns(policy.senders)), ("decrypt", yesNo(policy.decrypt)),
                    ("verify", yesNo(policy.verify)), ("signature", policy.signature?.rawValue),
                    ("unauthenticated-html", policy.unauthenticatedHTML?.rawValue),
                    ("accept-sender-match", policy.acceptSenderMatch.map(yesNo)),
                    ("allow-sha1", policy.allowSHA1.map(yesNo)), ("allow-weak", policy.allowWeak.map(yesNo)),
                ].compactMap { label, value in value.map { (label, $0) } })
        }
    }

    /// Indented under its policy, spelled as in the file; settings left out of an incoming
    /// policy take the command line's value and are not listed.
    private func printSettings(_ lines: [(String, String)]) { printReport(lines.map { ("  " + $0.0, $0.1) }) }

    private func names(_ names: [String]) -> String { names.isEmpty ? "none" : names.joined(separator: ", ") }
    private func patterns(_ patterns: [AddressPattern]) -> String {
        patterns.isEmpty ? "anyone" : patterns.map(\.description).joined(separator: ", ")
    }
    private func yesNo(_ value: Bool) -> String { value ? "yes" : "no" }
}

struct PolicyExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write the policy in force to a file, byte for byte as it was loaded.",
        discussion: "Loading the exported file again gives the same SHA-256. Exits 1 when no policy is loaded.")
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("The file to write ('-' for standard output).", valueName: "FILE")) var file: String

    func run() throws {
        let repositories = KeystoreRepositories(try home.open())
        let stored = try configuring { try repositories.storedPolicy() }
        guard let stored else {
            throw Failure.problem("no policy is loaded (see 'smimegate policy load FILE')")
        }
        try emit(stored.text, to: file)
        if file != "-" { print("exported the policy (sha256 \(stored.sha256)) to \(file)") }
    }
}
