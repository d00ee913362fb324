import ArgumentParser
import CMS
import Foundation
import Keystore
import PKI

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Partners' public keys: encrypt to them (SPEC F19, F20).",
        subcommands: [
            KeysAdd.self, KeysList.self, KeysShow.self, KeysDelete.self, KeysExport.self, KeysImport.self,
            KeysHarvested.self, KeysPromote.self, KeysForget.self,
        ])
}

struct KeysAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Add a recipient's PEM or DER certificate.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Argument var file: String

    func run() throws {
        let store = try home.open()
        let certificate: Certificate
        do {
            certificate = try Certificate(bytes: try readFile(file))
        } catch let error as OpenSSLError {
            throw Failure.usage("\(file): not a certificate (\(error.reasons.joined(separator: "; ")))")
        }
        try configuring { try store.addPublicKey(name: name, certificate: certificate) }
        print("added \(name): \(certificate.subject)")
        let problems = Requirements.encryptionProblems(certificate)
        if !problems.isEmpty {
            printErr("smimegate: warning: \(name) is not usable for encryption: \(problems.joined(separator: "; "))")
        }
    }
}

struct KeysList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List partners' public keys.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let keys = try configuring { try home.open().publicKeys() }
        if format.json {
            try printJSON(keys.map { NamedReport(name: $0.name, report: CertificateReport($0.certificate)) })
        } else {
            for (name, certificate) in keys { print(listLine(name, certificate)) }
        }
    }
}

struct KeysShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a public key, and whether mail can be encrypted to it (SPEC F18).")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        let certificate = try configuring { try home.open().publicKey(named: name) }
        printReport([("name", name)] + CertificateReport(certificate).lines)
    }
}

struct KeysDelete: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "delete", abstract: "Delete a public key.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        try configuring { try home.open().deletePublicKey(named: name) }
        print("deleted \(name)")
    }
}

struct KeysExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write every public key into one tar bundle (gzip when FILE ends in .gz).",
        discussion: """
            The bundle holds keys/NAME.pem per key and index.json with names, fingerprints and metadata. \
            A regular FILE is replaced atomically (mode 0644); a device or FIFO is written in place.
            """)
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("FILE.tar or FILE.tar.gz", valueName: "FILE")) var file: String

    func run() throws {
        let count = try configuring { try home.open().exportPublicKeys(to: file) }
        print("exported \(count) public key(s) to \(file)")
    }
}

struct KeysImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a bundle made by 'keys export': all or nothing; importing twice changes nothing.",
        discussion: """
            Every entry is checked before anything is stored. Archives with absolute or '..' paths, links,
            devices, entries over 1 MiB, more than 10000 entries, or certificates that do not match the
            index are refused whole; nothing is ever written outside the keystore.
            """)
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("FILE.tar or FILE.tar.gz", valueName: "FILE")) var file: String

    func run() throws {
        let result = try configuring { try home.open().importPublicKeys(from: file) }
        print("imported \(result.added) public key(s), \(result.unchanged) already present")
    }
}
