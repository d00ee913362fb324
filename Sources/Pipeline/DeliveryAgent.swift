import CMS
import Foundation
import Submission
import Locking

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
/// them). A server that refuses more connections than it already has open (a connection limit)
/// is used with the sessions it took. When no session can be opened at all — the server is
/// down, refuses us, TLS or AUTH fails — every later message of the run is deferred at once
/// with that reason, instead of each waiting for its own timeout.
public final class SMTPAgent: DeliveryAgent {
    let settings: SMTPSettings
    private struct Sessions {
        var idle: [SMTPSession] = []
        var open = 0
        /// How many the server takes, once one was refused while others were open.
        var limit = Int.max
        var unavailable: String?
    }
    private let sessions = Locked(Sessions())

    public init(_ settings: SMTPSettings) { self.settings = settings }

    public var target: String { settings.endpoint.description }

    private enum Pick {
        case reuse(SMTPSession)
        case open
        case wait
        case unavailable(String)
    }

    public func submit(sender: String, recipients: [String], message: [UInt8]) -> [RecipientOutcome] {
        func deferred(_ reason: String) -> [RecipientOutcome] {
            recipients.map { RecipientOutcome(recipient: $0, result: .deferred, reply: reason, status: "4.4.1") }
        }
        var waitUntil: ContinuousClock.Instant? = nil
        var retried = false
        while true {
            let pick: Pick = sessions.withLock { state in
                if let session = state.idle.popLast() { return .reuse(session) }
                if let reason = state.unavailable { return .unavailable(reason) }
                if state.open < state.limit {
                    state.open += 1
                    return .open
                }
                return .wait
            }
            let session: SMTPSession
            switch pick {
            case .unavailable(let reason): return deferred(reason)
            case .wait:
                // Every session the server takes is busy: wait for one to come back.
                // (Counted from the first wait: a connection attempt that timed out meanwhile does not count.)
                let until = waitUntil ?? ContinuousClock.now + .milliseconds(Int(settings.timeout * 1000))
                waitUntil = until
                guard ContinuousClock.now < until else { return deferred("\(target): no connection free") }
                usleep(5_000)
                continue
            case .reuse(let reused): session = reused
            case .open:
                do {
                    session = try SMTPSession(settings)
                } catch {
                    let reason = "\(error)"
                    let giveUp = sessions.withLock { state in
                        state.open -= 1
                        if state.open > 0 {
                            state.limit = state.open  // it takes no more than it has
                            return false
                        }
                        if state.unavailable == nil { state.unavailable = reason }
                        return true
                    }
                    if giveUp { return deferred(reason) }
                    continue
                }
            }
            do {
                let transaction = try session.submit(sender: sender, recipients: recipients, message: message)
                sessions.withLock { $0.idle.append(session) }
                return Self.outcomes(transaction, recipients: recipients)
            } catch {
                session.quit()
                sessions.withLock { $0.open -= 1 }
                // A reused session the server closed meanwhile: once, a fresh one is tried, but only
                // when the failure came before the content went (no second copy can result).
                if case .reuse = pick, !retried, !session.sentContent {
                    retried = true
                    continue
                }
                return deferred("\(error)")
            }
        }
    }

    public func finish() {
        let idle = sessions.withLock { state in
            defer {
                state.open -= state.idle.count
                state.idle.removeAll()
            }
            return state.idle
        }
        for session in idle { session.quit() }
    }

    /// Each recipient's result: MAIL's refusal applies to all; then its own RCPT reply; then the
    /// reply to the content. Only a 2xx there delivers, only a 5xx rejects; anything else (4xx,
    /// a code outside 2xx–5xx) defers. 552 to RCPT is "too many recipients", temporary
    /// (RFC 5321 §4.5.3.1.10).
    static func outcomes(_ transaction: SMTPTransaction, recipients: [String]) -> [RecipientOutcome] {
        func outcome(_ recipient: String, _ reply: SMTPReply, rcpt: Bool = false) -> RecipientOutcome {
            let result: DeliveryResult =
                reply.isSuccess ? .delivered : reply.isPermanent && !(rcpt && reply.code == 552) ? .rejected : .deferred
            let status = result == .deferred && reply.isPermanent ? "4.5.3" : reply.status
            // At most 500 characters: it goes into a DSN's Diagnostic-Code line too (RFC 5322's 998 limit).
            let text = "\(reply)"
            let short = text.count > 500 ? text.prefix(497) + "..." : text
            return RecipientOutcome(recipient: recipient, result: result, reply: String(short), status: status)
        }
        guard transaction.mail.isSuccess else { return recipients.map { outcome($0, transaction.mail) } }
        let replies = Dictionary(
            transaction.recipients.map { ($0.address, $0.reply) }, uniquingKeysWith: { first, _ in first })
        return recipients.map { recipient in
            guard let reply = replies[recipient] else {
                return outcome(recipient, SMTPReply(code: 451, lines: ["4.4.0 no reply for this recipient"]))
            }
            guard reply.isSuccess else { return outcome(recipient, reply, rcpt: true) }
            return outcome(
                recipient, transaction.data ?? SMTPReply(code: 451, lines: ["4.4.0 the content was not sent"]))
        }
    }
}
