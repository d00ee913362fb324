import ArgumentParser
import CMS
import Foundation
import Keystore
import MIME
import Pipeline
import Policy

/// `policy trace MESSAGE`: prints why the policy treats a message as it does.
extension Direction: ExpressibleByArgument {}

struct PolicyTraceCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trace",
        abstract: "Explain what the policy does with a message: no cryptography, nothing written.",
        discussion: """
            Outgoing: the message filters, then per recipient the mail policy chosen, every content filter looked \
            at with the actions it took, the sending profile and the outcome to expect (from the recipient \
            certificates in the keystore). Incoming: the incoming policy chosen for the sender, then the message \
            filters under each result the skipped verification could give.
            """)
    @OptionGroup var home: HomeOptions
    @Argument(help: ArgumentHelp("The message file ('-' for standard input).", valueName: "MESSAGE")) var message:
        String
    @Option(help: "outgoing (default) or incoming.") var direction: Direction = .outgoing
    @Option(help: ArgumentHelp("Trace this policy file instead of the loaded policy.", valueName: "FILE"))
    var policy: String?
    @Option(
        help: "Incoming: the authserv-id whose Authentication-Results fields are removed (default: this host's name).")
    var authservId: String?

    func run() throws {
        let store = try home.open()
        guard let document = try PolicyChoice.document(file: policy, store: store) else {
            throw Failure.usage(
                "no policy is loaded: load one with 'smimegate policy load FILE', or give --policy FILE")
        }
        let bytes = message == "-" ? Array(FileHandle.standardInput.readDataToEndOfFile()) : try readFile(message)
        let lines: [String]
        do {
            switch direction {
            case .outgoing:
                // Profiles without their keys: a trace signs nothing.
                let profiles = ProfileStore(store: store)
                let named = try document.profileNames.sorted().map { (try profiles.load($0), nil as Signer?) }
                let job = try OutgoingJob(
                    policy: document, profiles: named, recipients: try configuring { try store.recipientDirectory() },
                    reportingHost: ProcessInfo.processInfo.hostName)
                lines = try PolicyTrace.outgoing(bytes, job: job)
            case .incoming:
                lines = try PolicyTrace.incoming(
                    bytes, policy: document, authservID: authservId ?? ProcessInfo.processInfo.hostName)
            }
        } catch let error as PipelineError {
            throw Failure.usage(error.reason)
        } catch let error as FilterError {
            throw Failure.problem("\(message): \(error); process would fail this message")
        } catch let error as MIMEError {
            throw Failure.problem("\(message): \(error)")
        }
        for line in lines { print(line) }
    }
}
