import Foundation
import MIME

/// The notice a filter's `notify("address")` sends (RFC 5322, RFC 3834
/// auto-generated): what happened to which message, and which filters decided,
/// with the original header attached so the reader can find the message.
enum Notice {
    static func make(
        to address: String, about message: Entity, outcome: Outcome, reason: String?, policy: String?,
        filters: [String], reportingHost: String, id: String
    ) -> Entity {
        // A notice goes to a third party: the message's Bcc recipients are not theirs to see.
        var message = message
        message.removeFields(named: "Bcc")
        let what: String
        switch outcome {
        case .quarantined(let name): what = "quarantined in \"\(name)\""
        case .dropped: what = "dropped"
        case .bounced: what = "returned to its sender"
        default: what = "delivered (\(outcome.name))"
        }
        var text = "This is the smimegate S/MIME gateway at \(reportingHost).\r\n\r\n"
        text += "A message was \(what).\r\n\r\n"
        let subject = message.field("Subject").map { EncodedWord.decode($0) } ?? ""
        let envelope = Envelope(message)
        for (label, value) in [
            ("Message-ID", message.messageID.map { "<\($0)>" }), ("Sender", envelope.sender),
            ("Recipients", envelope.recipients.joined(separator: ", ")), ("Subject", subject),
            ("Policy", policy), ("Filters", filters.joined(separator: ", ")), ("Reason", reason),
        ] {
            if let value, !value.isEmpty { text += "\(label): \(Self.oneLine(value))\r\n" }
        }
        let boundary = "smimegate-notice-" + id
        var body: [UInt8] = Array("This is a notice from a mail filter.\r\n".utf8)
        for (type, content) in [
            ("text/plain; charset=utf-8", Array(text.utf8)),
            ("text/rfc822-headers", message.fields.flatMap { $0.serialized(.crlf) }),
        ] {
            body += Array("--\(boundary)\r\nContent-Type: \(type)\r\n\r\n".utf8) + content + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        let fields = [
            HeaderField(name: "From", value: "smimegate <postmaster@\(reportingHost)>"),
            HeaderField(name: "To", value: "<\(address)>"),
            HeaderField(name: "Subject", value: "smimegate: a message was \(what)"),
            HeaderField(name: "Date", value: DeliveryStatus.rfc5322Date(Date())),
            HeaderField(name: "Message-ID", value: "<\(id).notice@\(reportingHost)>"),
            HeaderField(name: "Auto-Submitted", value: "auto-generated"),
            HeaderField(name: "MIME-Version", value: "1.0"),
            HeaderField(name: "Content-Type", value: "multipart/mixed; boundary=\"\(boundary)\""),
        ]
        return Entity(fields: fields, body: body, lineEnding: .crlf)
    }

    private static func oneLine(_ text: String) -> String {
        String(text.map { $0.isNewline || $0 == "\0" ? " " : $0 }.prefix(500))
    }
}
