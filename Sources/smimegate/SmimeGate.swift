import ArgumentParser
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
            else ~/.smimegate) holds the keystore.
            Exit codes: 0 success; 1 the operation ran and found a problem (bad or untrusted
            signature, wrong key, no certificate for a recipient, malformed message);
            2 usage or configuration error.
            """,
        version: "0.1.0",
        subcommands: [
            Init.self, Cert.self, Keys.self, CA.self, Sign.self, Encrypt.self, Verify.self, Decrypt.self, Demo.self,
        ])

    /// Runs the command; maps every failure to one line on stderr and the
    /// documented exit code (ArgumentParser's usage errors become 2).
    static func main() {
        do {
            var command = try parseAsRoot(hoistingHome(Array(CommandLine.arguments.dropFirst())))
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

/// `smimegate --home DIR COMMAND ...`: a --home before the command applies to
/// every command (ArgumentParser only reads options after the command name),
/// so it is passed on through $SMIMEGATE_HOME, which --home after the command still overrides.
func hoistingHome(_ arguments: [String]) -> [String] {
    var arguments = arguments
    while let first = arguments.first, first == "--home" || first.hasPrefix("--home=") {
        let value: String
        if first == "--home" {
            guard arguments.count >= 2 else { break }
            value = arguments[1]
            arguments.removeFirst(2)
        } else {
            value = String(first.dropFirst("--home=".count))
            arguments.removeFirst()
        }
        setenv("SMIMEGATE_HOME", value, 1)
    }
    return arguments
}

/// A failure with its exit code: 1 the operation found a problem, 2 usage/configuration.
struct Failure: Error {
    let code: Int32
    let message: String

    static func problem(_ message: String) -> Failure { Failure(code: 1, message: message) }
    static func usage(_ message: String) -> Failure { Failure(code: 2, message: message) }
}
