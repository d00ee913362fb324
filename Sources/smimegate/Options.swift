import ArgumentParser
import Foundation
import Keystore
import MIME

/// `--home DIR`, else $SMIMEGATE_HOME, else ~/.smimegate.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The smimegate home directory.", valueName: "DIR"))
    var home: String?

    var url: URL {
        if let home { return URL(fileURLWithPath: home) }
        if let env = ProcessInfo.processInfo.environment["SMIMEGATE_HOME"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".smimegate")
    }

    func open(create: Bool = false) throws -> Keystore {
        do {
            return try Keystore.open(home: url, create: create)
        } catch let error as KeystoreError {
            throw Failure.usage(error.reason)
        }
    }
}

/// A message in (a file or '-' for stdin) and out (-o FILE or stdout).
struct MessageIO: ParsableArguments {
    @Argument(help: ArgumentHelp("The message to read; '-' or nothing reads standard input.", valueName: "IN"))
    var input: String = "-"

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the result (default: standard output).", valueName: "OUT"))
    var output: String?

    var inputName: String { input == "-" ? "<stdin>" : input }

    func read() throws -> [UInt8] {
        if input == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileManager.default.contents(atPath: input) else {
            throw Failure.usage("\(input): cannot read the file")
        }
        return Array(data)
    }

    func write(_ bytes: [UInt8]) throws {
        guard let output, output != "-" else {
            FileHandle.standardOutput.write(Data(bytes))
            return
        }
        guard FileManager.default.createFile(atPath: output, contents: Data(bytes)) else {
            throw Failure.usage("\(output): cannot write the file")
        }
    }

    /// Reads and parses the input message; a message that is not one is a problem (exit 1).
    func readMessage() throws -> Entity {
        let bytes = try read()
        do {
            return try Entity.parse(bytes)
        } catch let error as MIMEError {
            throw Failure.problem("\(inputName): \(error.reason)")
        }
    }

    /// "file <message-id>" for error lines.
    func label(_ message: Entity?) -> String {
        guard let id = message?.messageID, !id.isEmpty else { return inputName }
        return "\(inputName) <\(id)>"
    }
}

/// A passphrase from a file or an environment variable, never from argv.
struct PassphraseOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Read the passphrase from this file (first line).", valueName: "FILE"))
    var passphraseFile: String?

    @Option(help: ArgumentHelp("Read the passphrase from this environment variable.", valueName: "VAR"))
    var passphraseEnv: String?

    func validate() throws {
        if passphraseFile != nil && passphraseEnv != nil {
            throw ValidationError("give --passphrase-file or --passphrase-env, not both")
        }
    }

    func passphrase() throws -> [UInt8]? {
        if let passphraseFile {
            guard let data = FileManager.default.contents(atPath: passphraseFile) else {
                throw Failure.usage("\(passphraseFile): cannot read the passphrase file")
            }
            var bytes = Array(data)
            while let last = bytes.last, last == 10 || last == 13 { bytes.removeLast() }
            return bytes
        }
        if let passphraseEnv {
            guard let value = ProcessInfo.processInfo.environment[passphraseEnv] else {
                throw Failure.usage("the environment variable \(passphraseEnv) is not set")
            }
            return Array(value.utf8)
        }
        return nil
    }
}

func readFile(_ path: String) throws -> [UInt8] {
    guard let data = FileManager.default.contents(atPath: path) else { throw Failure.usage("\(path): cannot read the file") }
    return Array(data)
}

func printErr(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
