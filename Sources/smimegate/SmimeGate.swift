import ArgumentParser
import CSmimegate
import Foundation

/// The command tree (DESIGN.md "Command line"). Each command is a small type;
/// the work lives in the library modules.
@main
struct SmimeGate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "smimegate",
        abstract: "S/MIME security gateway for mail at rest: sign, encrypt, verify and decrypt e-mail.",
        discussion: """
            The home directory (--home DIR before or after the command, else $SMIMEGATE_HOME,
            else ~/.smimegate) holds the keystore, unless --keystore URL (or $SMIMEGATE_KEYSTORE) names
            another: sqlite:PATH, or postgresql://USER@HOST:PORT/DB shared by the machines of a sharded
            run (password from PGPASSWORD or ~/.pgpass). A home set up with a home passphrase ('init' or
            'home encrypt' with --home-passphrase-file F or $SMIMEGATE_PASSPHRASE_FILE) stores private
            keys encrypted (PKCS #8, AES-256) and refuses to store or use them without that passphrase.
            Exit codes: 0 success; 1 the operation ran and found a problem (bad or untrusted
            signature, wrong key, no certificate for a recipient, malformed message);
            2 usage or configuration error; 75 try again later (process: the output directory is
            locked by another run, or a write failed, a full disk say; deliver: some mail is deferred);
            130/143 stopped by SIGINT/SIGTERM.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Home.self, Cert.self, Keys.self, CA.self, Profile.self, PolicyCommand.self, Sign.self,
            Encrypt.self, Verify.self, Decrypt.self,
            ProcessCommand.self, Deliver.self, SettingsCommand.self, Alerts.self, Doctor.self, Report.self, Demo.self,
        ])

    /// Runs the command; maps every failure to one line on stderr and the
    /// documented exit code (ArgumentParser's usage errors become 2).
    static func main() {
        smg_tune_allocator()
        do {
            var command = try parseAsRoot(defaultingSendmail(hoistingHome(Array(CommandLine.arguments.dropFirst()))))
            try command.run()
        } catch let failure as Failure {
            FileHandle.standardError.write(Data("smimegate: \(failure.message)\n".utf8))
            Foundation.exit(failure.code)
        } catch {
            let code = exitCode(for: error)
            if code == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}

/// `smimegate --home DIR [--home-passphrase-file F] COMMAND ...`: these options
/// before the command apply to every command (ArgumentParser only reads options
/// after the command name), so they are passed on through $SMIMEGATE_HOME, $SMIMEGATE_PASSPHRASE_FILE and
/// $SMIMEGATE_KEYSTORE, which the same options after the command still override.
func hoistingHome(_ arguments: [String]) -> [String] {
    let hoisted = [
        "--home": "SMIMEGATE_HOME", "--home-passphrase-file": "SMIMEGATE_PASSPHRASE_FILE",
        "--keystore": "SMIMEGATE_KEYSTORE",
    ]
    var arguments = arguments
    outer: while let first = arguments.first {
        for (option, variable) in hoisted {
            if first == option, arguments.count >= 2 {
                setenv(variable, arguments[1], 1)
                arguments.removeFirst(2)
                continue outer
            }
            if first.hasPrefix(option + "=") {
                setenv(variable, String(first.dropFirst(option.count + 1)), 1)
                arguments.removeFirst()
                continue outer
            }
        }
        break
    }
    return arguments
}

/// A failure with its exit code: 1 the operation found a problem, 2 usage/configuration,
/// 75 try again later (EX_TEMPFAIL: the output directory is locked, a disk is full),
/// 128 + N stopped by signal N (130 SIGINT, 143 SIGTERM).
struct Failure: Error {
    let code: Int32
    let message: String

    static func problem(_ message: String) -> Failure { Failure(code: 1, message: message) }
    static func usage(_ message: String) -> Failure { Failure(code: 2, message: message) }
    static func tryAgain(_ message: String) -> Failure { Failure(code: 75, message: message) }
    static func stopped(by signal: Int32, _ message: String) -> Failure {
        Failure(code: 128 + signal, message: message)
    }
}
