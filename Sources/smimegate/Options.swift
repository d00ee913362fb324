import ArgumentParser
import CMS
import FileIO
import Foundation
import Keystore
import KeystorePostgres
import MIME
import PKI

/// `--home DIR`, else $SMIMEGATE_HOME, else ~/.smimegate; and the home passphrase
/// from `--home-passphrase-file F`, else the file named by $SMIMEGATE_PASSPHRASE_FILE.
struct HomeOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The smimegate home directory.", valueName: "DIR"))
    var home: String?

    @Option(
        name: .long,
        help: ArgumentHelp("A file holding the home passphrase that encrypts private keys at rest.", valueName: "FILE"))
    var homePassphraseFile: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "Where the keystore is: sqlite:PATH, or postgresql://USER@HOST:PORT/DB[?sslmode=…] shared by several "
                + "machines (password from PGPASSWORD or ~/.pgpass; default: $SMIMEGATE_KEYSTORE, else the home's "
                + "keystore.sqlite).", valueName: "URL"))
    var keystore: String?

    var url: URL {
        if let home { return URL(fileURLWithPath: home) }
        if let env = ProcessInfo.processInfo.environment["SMIMEGATE_HOME"], !env.isEmpty {
            return URL(fileURLWithPath: env)
        }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".smimegate")
    }

    func passphrase() throws -> [UInt8]? {
        let file =
            homePassphraseFile
            ?? ProcessInfo.processInfo.environment["SMIMEGATE_PASSPHRASE_FILE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let file else { return nil }
        let passphrase = try readPassphraseFile(file)
        if passphrase.isEmpty { throw Failure.usage("\(file): the home passphrase file is empty") }
        return passphrase
    }

    func open(create: Bool = false) throws -> Keystore {
        do {
            return try Keystore.open(home: url, create: create, passphrase: passphrase(), database: database(create))
        } catch let error as KeystoreError {
            throw error.kind == .unavailable ? Failure.tryAgain(error.reason) : Failure.usage(error.reason)
        }
    }

    /// `--keystore URL`, else $SMIMEGATE_KEYSTORE: nil for the home's own SQLite database.
    func database(_ create: Bool) throws -> (any KeystoreDatabase)? {
        let given =
            keystore ?? ProcessInfo.processInfo.environment["SMIMEGATE_KEYSTORE"].flatMap { $0.isEmpty ? nil : $0 }
        guard let given else { return nil }
        if given.hasPrefix("sqlite:") {
            let path = String(given.dropFirst("sqlite:".count))
            if path.isEmpty { throw Failure.usage("--keystore sqlite:PATH needs a PATH") }
            return try Keystore.sqlite(path: path, create: create)
        }
        if given.hasPrefix("postgresql:") || given.hasPrefix("postgres:") {
            return try PostgresKeystoreDatabase(try PostgresLocation(url: given))
        }
        // Not repeated: a mistyped URL may still hold a password.
        throw Failure.usage("--keystore (or $SMIMEGATE_KEYSTORE) takes sqlite:PATH or postgresql://USER@HOST:PORT/DB")
    }
}

/// The first line of a passphrase file (the line break is not part of it).
func readPassphraseFile(_ path: String) throws -> [UInt8] {
    guard let data = FileSystem.contents(of: path) else {
        throw Failure.usage("\(path): cannot read the passphrase file")
    }
    return Array(data.prefix { $0 != 10 && $0 != 13 })
}

/// A message in (a file or '-' for stdin) and out (-o FILE or stdout).
struct MessageIO: ParsableArguments {
    @Argument(help: ArgumentHelp("The message to read; '-' or nothing reads standard input.", valueName: "IN"))
    var input: String = "-"

    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Where to write the result (default: standard output). A regular file is replaced atomically "
                + "and made 0600; a device or FIFO (/dev/null) is written in place.", valueName: "OUT"))
    var output: String?

    var inputName: String { input == "-" ? "<stdin>" : input }

    func read() throws -> [UInt8] {
        if input == "-" { return Array(FileHandle.standardInput.readDataToEndOfFile()) }
        guard let data = FileSystem.contents(of: input) else { throw Failure.usage("\(input): cannot read the file") }
        return data
    }

    /// Writes the result: it holds message content, so a file gets mode 0600.
    func write(_ bytes: [UInt8]) throws {
        try writeOutput(bytes, to: output, content: .secret)
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
        if let passphraseFile { return try readPassphraseFile(passphraseFile) }
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
    guard let data = FileSystem.contents(of: path) else { throw Failure.usage("\(path): cannot read the file") }
    return data
}

func printErr(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }

/// Writes `text` to `path`, or to standard output when `path` is nil or "-"
/// (see `OutputFile`: a regular file is replaced atomically, with the mode `content` calls for).
func emit(_ text: String, to path: String?, content: OutputFile.Content = .secret) throws {
    try writeOutput(Array(text.utf8), to: path, content: content)
}

/// The one way the command line writes a file the user named (`-o FILE`, exports).
func writeOutput(_ bytes: [UInt8], to path: String?, content: OutputFile.Content) throws {
    guard let path, path != "-" else {
        FileHandle.standardOutput.write(Data(bytes))
        return
    }
    do {
        try OutputFile.write(bytes, to: path, content: content)
    } catch let error as WriteError {
        throw Failure.usage(error.description)
    }
}

/// Runs a keystore or certificate operation; its errors are configuration errors (exit 2).
func configuring<T>(_ context: String? = nil, _ body: () throws -> T) throws -> T {
    let prefix = context.map { "\($0): " } ?? ""
    do {
        return try body()
    } catch let error as KeystoreError {
        throw Failure.usage(prefix + error.reason)
    } catch let error as PKIError {
        throw Failure.usage(prefix + error.reason)
    } catch let error as OpenSSLError {
        throw Failure.usage(prefix + error.description)
    } catch let error as WriteError {
        throw Failure.usage(error.description)
    }
}
