import ArgumentParser
import CMS
import FileIO
import Foundation
import Pipeline
import Submission

#if canImport(Glibc)
    import Glibc
#endif

/// How to talk to an SMTP server: shared by `deliver --smtp` and `process --deliver smtp://…`.
struct SMTPClientOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Verify the server's certificate against the CAs in this PEM file instead of the system's.",
            valueName: "FILE"))
    var smtpCa: String?
    @Option(
        help: ArgumentHelp(
            "AUTH PLAIN/LOGIN with the user name (first line) and password (second line) in this file, "
                + "which must not be readable by group or others. Only over TLS.",
            valueName: "FILE"))
    var smtpAuthFile: String?
    @Option(help: ArgumentHelp("The name given in EHLO (default: this host's name).", valueName: "NAME"))
    var smtpHelo: String?
    @Option(
        help: ArgumentHelp(
            "Seconds to wait for a connection, a reply, or sendmail to finish.", valueName: "SECONDS"))
    var deliveryTimeout: Double = 120

    func validate() throws {
        if deliveryTimeout <= 0 || deliveryTimeout > 3600 {
            throw ValidationError("--delivery-timeout takes 1 to 3600 seconds")
        }
    }

    /// The agent for `target`: "smtp://…", "smtp+starttls://…", "smtps://…", or "sendmail:[PATH]".
    func agent(_ target: String) throws -> any DeliveryAgent {
        if target == "sendmail" || target.hasPrefix("sendmail:") {
            if smtpCa != nil || smtpAuthFile != nil {
                throw Failure.usage("--smtp-ca and --smtp-auth-file go with SMTP, not sendmail")
            }
            let path = target.hasPrefix("sendmail:") ? String(target.dropFirst("sendmail:".count)) : ""
            return try submission {
                SendmailAgent(try Sendmail(path: path.isEmpty ? Sendmail.defaultPath : path, timeout: deliveryTimeout))
            }
        }
        return try submission {
            let endpoint = try SMTPEndpoint(url: target)
            let credentials = try smtpAuthFile.map(Self.credentials)
            if credentials != nil && endpoint.security == .plain {
                throw SMTPError.usage(
                    "\(target): --smtp-auth-file needs TLS (smtp+starttls:// or smtps://); passwords never go in clear")
            }
            if smtpCa != nil && endpoint.security == .plain {
                throw SMTPError.usage("\(target): --smtp-ca needs TLS (smtp+starttls:// or smtps://)")
            }
            let tls: TLSContext?
            do {
                tls = endpoint.security == .plain ? nil : try TLSContext(caFile: smtpCa)
            } catch {
                throw SMTPError.usage("\(error)")
            }
            return SMTPAgent(
                SMTPSettings(
                    endpoint: endpoint, credentials: credentials,
                    heloName: smtpHelo ?? ProcessInfo.processInfo.hostName, timeout: deliveryTimeout, tls: tls))
        }
    }

    private func submission<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as SMTPError { throw Failure.usage(error.description) }
    }

    /// The user name and password of an auth file; refused when group or others may read it.
    static func credentials(_ path: String) throws -> SMTPCredentials {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw SMTPError.usage("\(path): cannot read the SMTP auth file (\(errorText(errno).lowercased()))")
        }
        if info.st_mode & 0o077 != 0 {
            throw SMTPError.usage(
                "\(path): the SMTP auth file is readable by others (mode \(String(info.st_mode & 0o777, radix: 8))); "
                    + "chmod 600 it")
        }
        guard let data = FileSystem.contents(of: path) else {
            throw SMTPError.usage("\(path): cannot read the SMTP auth file")
        }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
            .map { $0.hasSuffix("\r") ? String($0.dropLast()) : String($0) }
        guard lines.count >= 2, !lines[0].isEmpty, !lines[1].isEmpty else {
            throw SMTPError.usage(
                "\(path): the SMTP auth file needs the user name on line 1 and the password on line 2")
        }
        return SMTPCredentials(user: lines[0], password: lines[1])
    }
}

struct Deliver: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "deliver",
        abstract: "Hand the outputs of process runs to the mail system, by SMTP or sendmail, each once.",
        discussion: """
            Every output recorded in DIR/manifest.jsonl whose folder is chosen (--outcomes; quarantined/ and failed/ \
            never) goes out with the manifest's envelope: MAIL FROM its sender (<> for DSNs and notices), RCPT TO \
            exactly its recipients. Each attempt is recorded in DIR/delivery.jsonl (file, sender, recipients, result, \
            reply, time); a recipient is submitted again only while no acceptance or rejection is recorded for it, \
            so reruns after a kill or a deferral send nothing twice, except in one window: a process killed between \
            the server's acceptance and the record's write sends that message again on the next run (at most one \
            per worker). Permanent refusals (5xx, or sendmail's EX_NOUSER and friends) are recorded as rejected; for \
            outgoing mail they become an RFC 3464 DSN to the sender in DIR/bounced/, delivered in turn. Temporary \
            ones (4xx, no connection, EX_TEMPFAIL) are deferred to the next run. One run per DIR (DIR/.lock, shared \
            with process). Exit 0 when everything was delivered; 1 when some recipients were rejected or an output \
            could not be read; 2 usage or configuration error; 75 when some remain deferred (or DIR is locked); \
            130/143 stopped by SIGINT/SIGTERM.
            """)

    @Argument(help: ArgumentHelp("Output directories of process runs.", valueName: "DIR")) var directories: [String]
    @Option(
        help: ArgumentHelp(
            "Submit by SMTP: smtp://HOST[:PORT] (port 25), smtp+starttls://HOST[:PORT] (STARTTLS required, the "
                + "certificate verified; port 587), smtps://HOST[:PORT] (port 465).",
            valueName: "URL"))
    var smtp: String?
    @Option(
        help: ArgumentHelp(
            "Submit with the MTA's sendmail (PATH may be left out: \(Sendmail.defaultPath)): "
                + "sendmail -i -f SENDER -- RECIPIENT... per output.",
            valueName: "PATH"))
    var sendmail: String?
    @OptionGroup var client: SMTPClientOptions
    @Option(
        help: ArgumentHelp(
            "Deliver only these folders, comma-separated (default: "
                + DeliveryOptions.defaultFolders.joined(separator: ",") + ").",
            valueName: "LIST"))
    var outcomes: String?
    @Flag(help: "Remove each output once all its recipients have a final result (delivered or rejected).")
    var consume = false
    @Option(help: "Concurrent submissions, one connection each (default: the number of cores).")
    var workers: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(
        help: ArgumentHelp(
            "Wait up to SECONDS for a process or deliver run to release DIR/.lock (default: exit 75 at once).",
            valueName: "SECONDS"))
    var waitLock: Double = 0
    @Flag(help: "Print the summary as JSON.") var json = false

    func validate() throws {
        if (smtp == nil) == (sendmail == nil) { throw ValidationError("give --smtp URL or --sendmail [PATH]") }
        if workers < 1 || workers > 64 { throw ValidationError("--workers must be between 1 and 64") }
        if waitLock < 0 { throw ValidationError("--wait-lock takes a number of seconds, 0 or more") }
    }

    func run() throws {
        let agent = try client.agent(smtp ?? "sendmail:" + (sendmail ?? ""))
        let options = try deliveryOptions(outcomes, consume: consume, workers: workers)
        let summary: DeliverySummary
        do {
            summary = try Delivery.run(directories: directories, agent: agent, options: options, waitLock: waitLock)
        } catch let error as PipelineError {
            throw error.kind == .tryAgain ? Failure.tryAgain(error.reason) : Failure.usage(error.reason)
        } catch let error as WriteError {
            throw Failure.tryAgain("\(error)")
        }
        for problem in summary.problems + summary.locked { printErr("smimegate: \(problem)") }
        if json {
            try printJSON(DeliverySummaryJSON(summary))
        } else {
            printDeliverySummary(summary, target: agent.target)
        }
        try deliveryExit(summary)
    }
}

/// `--outcomes LIST` checked, as delivery options.
func deliveryOptions(_ outcomes: String?, consume: Bool, workers: Int, durable: Bool = false) throws
    -> DeliveryOptions
{
    let folders =
        outcomes.map {
            Array(Set($0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }))
        } ?? DeliveryOptions.defaultFolders
    do {
        return try DeliveryOptions(
            folders: folders, consume: consume, workers: workers, reportingHost: ProcessInfo.processInfo.hostName,
            durable: durable)
    } catch let error as PipelineError {
        throw Failure.usage("--outcomes: \(error.reason)")
    }
}

/// The exit of a delivery: stopped (128 + N, or 75 for a write error), 75 when some remain
/// deferred, 1 when some were rejected or could not be read, else 0.
func deliveryExit(_ summary: DeliverySummary) throws {
    switch summary.stop {
    case .failure(let reason): throw Failure.tryAgain("\(reason): delivery stopped; rerun to go on")
    case .signal(let number):
        throw Failure.stopped(by: number, "stopped by \(signalName(number)); rerun to go on")
    case nil: break
    }
    if summary.deferred > 0 || !summary.locked.isEmpty {
        throw Failure.tryAgain(
            "\(summary.deferred) recipient(s) deferred, \(summary.locked.count) directory(ies) locked; "
                + "the next run tries them again")
    }
    if summary.rejected > 0 || !summary.problems.isEmpty {
        throw Failure.problem(
            "\(summary.rejected) recipient(s) rejected, \(summary.problems.count) output(s) not delivered; "
                + "see delivery.jsonl")
    }
}

func printDeliverySummary(_ summary: DeliverySummary, target: String) {
    print("delivery    recipients")
    for result in DeliveryResult.allCases {
        print(
            result.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)
                + String(
                    format: "%10d", summary.recipients[result, default: 0]))
    }
    var notes = ["\(summary.submitted) outputs submitted"]
    if summary.alreadyDone > 0 { notes.append("\(summary.alreadyDone) already done") }
    if summary.bounces > 0 { notes.append("\(summary.bounces) DSNs made") }
    if summary.consumed > 0 { notes.append("\(summary.consumed) outputs removed") }
    if summary.unaddressed > 0 { notes.append("\(summary.unaddressed) for no recipient of ours") }
    if !summary.problems.isEmpty { notes.append("\(summary.problems.count) not delivered") }
    print(String(format: "to %@ in %.2f s   (", target, summary.seconds) + notes.joined(separator: ", ") + ")")
}

struct DeliverySummaryJSON: Encodable {
    let delivered: Int
    let deferred: Int
    let rejected: Int
    let submitted: Int
    let alreadyDone: Int
    let unaddressed: Int
    let bounces: Int
    let consumed: Int
    let problems: [String]
    let seconds: Double
    let stoppedBy: String?

    enum CodingKeys: String, CodingKey {
        case delivered, deferred, rejected, submitted, bounces, consumed, problems, seconds
        case alreadyDone = "already_done", stoppedBy = "stopped_by", unaddressed
    }

    init(_ s: DeliverySummary) {
        (delivered, deferred, rejected) = (s.recipients[.delivered, default: 0], s.deferred, s.rejected)
        (submitted, alreadyDone, bounces, consumed, problems, seconds) = (
            s.submitted, s.alreadyDone, s.bounces, s.consumed, s.problems, s.seconds
        )
        unaddressed = s.unaddressed
        stoppedBy = s.stop?.text
    }
}

/// `--sendmail` without a PATH: ArgumentParser options always take a value, so a bare
/// `--sendmail` (followed by nothing, another option, or a directory) gets the default path.
func defaultingSendmail(_ arguments: [String]) -> [String] {
    var out: [String] = []
    var index = 0
    while index < arguments.count {
        let argument = arguments[index]
        out.append(argument)
        index += 1
        guard argument == "--sendmail" else { continue }
        if index < arguments.count {
            let next = arguments[index]
            var info = stat()
            if !next.hasPrefix("-") && stat(next, &info) == 0 && info.st_mode & S_IFMT != S_IFDIR { continue }
            if !next.hasPrefix("-") && stat(next, &info) != 0 && next.hasPrefix("/") { continue }  // named, if missing
        }
        out[out.count - 1] = "--sendmail=" + Sendmail.defaultPath
    }
    return out
}
