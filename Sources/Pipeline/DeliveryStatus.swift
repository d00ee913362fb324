import Foundation
import MIME

/// RFC 3464 delivery status notifications for bounced messages (SPEC F5, F6):
/// `multipart/report; report-type=delivery-status` with a human-readable part,
/// a `message/delivery-status` part with one block per recipient, and the
/// original header (`text/rfc822-headers`, RFC 6522).
public struct DeliveryStatus: Sendable {
    public struct Recipient: Sendable {
        public let address: String
        public let reason: String
        /// RFC 3463 status; 5.7.1 (delivery not authorized) for the gateway's own refusals.
        public let status: String
        /// The receiving server's reply, when it refused: the Diagnostic-Code, with Remote-MTA.
        public let serverReply: String?
        public let remoteMTA: String?
        public init(
            address: String, reason: String, status: String = "5.7.1", serverReply: String? = nil,
            remoteMTA: String? = nil
        ) {
            self.address = address
            self.reason = reason
            self.status = status
            self.serverReply = serverReply
            self.remoteMTA = remoteMTA
        }
    }

    public let reportingHost: String

    public init(reportingHost: String) { self.reportingHost = reportingHost }

    /// A DSN to `sender` about `original`, whose `recipients` were not delivered.
    public func bounce(original: Entity, sender: String, reason: String, recipients: [Recipient], id: String) -> Entity
    {
        let boundary = "smimegate-dsn-" + id
        let date = DeliveryStatus.rfc5322Date(Date())
        let subject =
            original.field("Subject").map { "Undelivered Mail Returned to Sender: \($0)" }
            ?? "Undelivered Mail Returned to Sender"
        var text = "This is the smimegate S/MIME gateway at \(reportingHost).\r\n\r\n"
        text += "Your message could not be delivered: \(reason)\r\n\r\n"
        for recipient in recipients { text += "  <\(recipient.address)>: \(recipient.reason)\r\n" }
        var status = "Reporting-MTA: dns; \(reportingHost)\r\nArrival-Date: \(date)\r\n"
        if let id = original.messageID { status += "X-Original-Message-ID: <\(id)>\r\n" }
        for recipient in recipients {
            status += "\r\nFinal-Recipient: rfc822; \(recipient.address)\r\nAction: failed\r\n"
            status += "Status: \(recipient.status)\r\n"
            if let remote = recipient.remoteMTA { status += "Remote-MTA: dns; \(remote)\r\n" }
            status += "Diagnostic-Code: smtp; \(recipient.serverReply ?? "554 5.7.1 \(recipient.reason)")\r\n"
        }
        let headers: [UInt8] = original.fields.flatMap { $0.serialized(.crlf) }
        var body: [UInt8] = Array("This is a delivery status notification (RFC 3464).\r\n".utf8)
        for (type, content) in [
            ("text/plain; charset=utf-8", Array(text.utf8)), ("message/delivery-status", Array(status.utf8)),
            ("text/rfc822-headers", headers),
        ] {
            body += Array("--\(boundary)\r\nContent-Type: \(type)\r\n\r\n".utf8) + content + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let fields = [
            HeaderField(name: "From", value: "Mail Delivery System <MAILER-DAEMON@\(reportingHost)>"),
            HeaderField(name: "To", value: "<\(sender)>"),
            HeaderField(name: "Subject", value: subject),
            HeaderField(name: "Date", value: date),
            HeaderField(name: "Message-ID", value: "<\(id).dsn@\(reportingHost)>"),
            HeaderField(name: "Auto-Submitted", value: "auto-replied"),
            HeaderField(name: "MIME-Version", value: "1.0"),
            HeaderField(
                name: "Content-Type", value: "multipart/report; report-type=delivery-status; boundary=\"\(boundary)\""),
        ]
        return Entity(fields: fields, body: body, lineEnding: .crlf).converted(to: original.lineEnding)
    }

    static func rfc5322Date(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss '+0000'"
        return formatter.string(from: date)
    }
}
