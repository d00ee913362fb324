import CMS
import Foundation
import Submission
import Synchronization

/// What became of one recipient of one submission.
public enum DeliveryResult: String, Sendable, Codable, CaseIterable {
    /// The server (or sendmail) took responsibility for it.
    case delivered
    /// Not now (4xx, no connection, sendmail EX_TEMPFAIL): the next run tries again.
    case deferred
    /// Never (5xx): recorded, and for outgoing mail returned to its sender in a DSN.
    case rejected
}

public struct RecipientOutcome: Sendable, Equatable {
    public let recipient: String
    public let result: DeliveryResult
    /// The server's reply, or what went wrong, in one line.
    public let reply: String
    /// The RFC 3463 status ("5.1.1"), for a DSN.
    public let status: String
}

/// Hands one message to the mail system. `sender` "" is the null reverse-path.
public protocol DeliveryAgent: Sendable {
    /// The target, for summaries and records ("smtp://host:25", "sendmail /usr/sbin/sendmail").
    var target: String { get }
    func submit(sender: String, recipients: [String], message: [UInt8]) -> [RecipientOutcome]
    /// Ends every connection politely (QUIT).
    func finish()
}

/// `--sendmail PATH`: one process per message; all of its recipients share the result.
public struct SendmailAgent: DeliveryAgent {
    let sendmail: Sendmail

    public init(_ sendmail: Sendmail) { self.sendmail = sendmail }

    public var target: String { "sendmail \(sendmail.path)" }

    public func submit(sender: String, recipients: [String], message: [UInt8]) -> [RecipientOutcome] {
        let (result, reply, status): (DeliveryResult, String, String)
        switch sendmail.submit(sender: sender, recipients: recipients, message: message) {
        case .accepted: (result, reply, status) = (.delivered, "sendmail exit 0", "2.0.0")
        case .deferred(let why): (result, reply, status) = (.deferred, why, "4.0.0")
        case .rejected(let why): (result, reply, status) = (.rejected, why, "5.0.0")
        }
        return recipients.map { RecipientOutcome(recipient: $0, result: result, reply: reply, status: status) }
    }

    public func finish() {}
}

/// `--smtp URL`: at most one open session per worker, reused across messages (RSET between
/// them). When no session can be opened — the server is down, refuses us, TLS or AUTH fails —
/// every later message of the run is deferred at once with that reason, instead of each
/// waiting for its own timeout.
public final class SMTPAgent: DeliveryAgent {
    let settings: SMTPSettings
    private let idle = Mutex<[SMTPSession]>([])
    private let unavailable = Mutex<String?>(nil)

    public init(_ settings: SMTPSettings) { self.settings = settings }

    public var target: String { settings.endpoint.description }

    public func submit(sender: String, recipients: [String], message: [UInt8]) -> [RecipientOutcome] {
        func deferred(_ reason: String) -> [RecipientOutcome] {
            recipients.map { RecipientOutcome(recipient: $0, result: .deferred, reply: reason, status: "4.4.1") }
        }
        // A reused session may have been closed by the server meanwhile: once, a fresh one is tried,
        // but only when the failure came before the content went (no second copy can result).
        for attempt in 0..<2 {
            if let reason = unavailable.withLock({ $0 }) { return deferred(reason) }
            let reused = idle.withLock { $0.popLast() }
            let session: SMTPSession
            if let reused {
                session = reused
            } else {
                do {
                    session = try SMTPSession(settings)
                } catch {
                    let reason = "\(error)"
                    unavailable.withLock { if $0 == nil { $0 = reason } }
                    return deferred(reason)
                }
            }
            do {
                let transaction = try session.submit(sender: sender, recipients: recipients, message: message)
                idle.withLock { $0.append(session) }
                return Self.outcomes(transaction, recipients: recipients)
            } catch {
                session.quit()
                if reused != nil && attempt == 0 && !session.sentContent { continue }
                return deferred("\(error)")
            }
        }
        return deferred("\(settings.endpoint): the connection was lost")
    }

    public func finish() {
        let sessions = idle.withLock { sessions in
            defer { sessions.removeAll() }
            return sessions
        }
        for session in sessions { session.quit() }
    }

    /// Each recipient's result: MAIL's refusal applies to all; then its own RCPT reply; then DATA's.
    static func outcomes(_ transaction: SMTPTransaction, recipients: [String]) -> [RecipientOutcome] {
        func outcome(_ recipient: String, _ reply: SMTPReply) -> RecipientOutcome {
            let result: DeliveryResult = reply.isPermanent ? .rejected : reply.isTransient ? .deferred : .delivered
            return RecipientOutcome(recipient: recipient, result: result, reply: "\(reply)", status: reply.status)
        }
        guard transaction.mail.isPositive else { return recipients.map { outcome($0, transaction.mail) } }
        let replies = Dictionary(
            transaction.recipients.map { ($0.address, $0.reply) }, uniquingKeysWith: { first, _ in first })
        return recipients.map { recipient in
            guard let reply = replies[recipient] else {
                return outcome(recipient, SMTPReply(code: 451, lines: ["4.4.0 no reply for this recipient"]))
            }
            guard reply.isPositive else { return outcome(recipient, reply) }
            return outcome(
                recipient, transaction.data ?? SMTPReply(code: 451, lines: ["4.4.0 the content was not sent"]))
        }
    }
}
