import CMS
import Foundation

/// How to reach and talk to the server.
public struct SMTPSettings: Sendable {
    public var endpoint: SMTPEndpoint
    public var credentials: SMTPCredentials?
    /// The name we give in EHLO.
    public var heloName: String
    /// Seconds for connecting and for each reply.
    public var timeout: Double
    /// Required for smtp+starttls:// and smtps://: the CAs the server's certificate is checked against.
    public var tls: TLSContext?

    public init(
        endpoint: SMTPEndpoint, credentials: SMTPCredentials? = nil, heloName: String, timeout: Double = 120,
        tls: TLSContext? = nil
    ) {
        (self.endpoint, self.credentials, self.heloName, self.timeout, self.tls) = (
            endpoint, credentials, heloName, timeout, tls
        )
    }
}

/// The server's answers to one mail transaction: MAIL FROM, each RCPT TO, and the end of
/// DATA (nil when no recipient was accepted or DATA was refused before the content).
public struct SMTPTransaction: Sendable {
    public var mail: SMTPReply
    public var recipients: [RecipientReply]
    public var data: SMTPReply?

    public struct RecipientReply: Sendable {
        public let address: String
        public let reply: SMTPReply
    }
}

/// One SMTP client session (RFC 5321): greeting, EHLO, STARTTLS (RFC 3207) and AUTH
/// PLAIN/LOGIN (RFC 4954) when asked for, then any number of mail transactions with
/// RSET between them. PIPELINING (RFC 2920) is used when offered; SIZE (RFC 1870) is
/// declared and respected; BODY=8BITMIME (RFC 6152) and SMTPUTF8 (RFC 6531) are declared
/// only when offered, and mail that needs one the server lacks is refused here, not sent.
/// A session is used by one thread at a time. Any failure of the connection throws
/// `SMTPError.connection`; the session must then be discarded.
// Unchecked Sendable: one worker at a time uses a session; the pool hands it over under a lock.
public final class SMTPSession: @unchecked Sendable {
    private let channel: Channel
    /// EHLO keywords (upper case) and their parameters.
    public private(set) var extensions: [String: String] = [:]
    private var used = false
    private var broken = false
    /// Whether the last transaction got as far as sending the content: after that, a lost
    /// connection may have lost the server's acceptance too, so it must not be retried blindly.
    public private(set) var sentContent = false
    public let endpoint: SMTPEndpoint
    private let timeout: Double

    public init(_ settings: SMTPSettings) throws {
        endpoint = settings.endpoint
        timeout = settings.timeout
        let endpoint = settings.endpoint
        channel = try Channel.connect(host: endpoint.host, port: endpoint.port, timeout: settings.timeout)
        if endpoint.security != .plain && settings.tls == nil {
            throw SMTPError.usage("\(endpoint): TLS is not configured")
        }
        if endpoint.security == .implicitTLS, let tls = settings.tls {
            try channel.startTLS(tls, host: endpoint.host)
        }
        let greeting = try reply()
        guard greeting.code == 220 else { throw refused("greeting", greeting) }
        try hello(settings.heloName)
        if endpoint.security == .startTLS, let tls = settings.tls {
            guard extensions["STARTTLS"] != nil else {
                throw SMTPError.connection("\(endpoint) does not offer STARTTLS, which smtp+starttls:// requires")
            }
            let answer = try command("STARTTLS")
            guard answer.code == 220 else { throw refused("STARTTLS", answer) }
            try channel.startTLS(tls, host: endpoint.host)
            extensions = [:]
            try hello(settings.heloName)  // RFC 3207 §4.2: forget what was learnt before TLS
        }
        if let credentials = settings.credentials {
            guard channel.isTLS else {
                throw SMTPError.usage("\(endpoint): AUTH is refused without TLS; use smtp+starttls:// or smtps://")
            }
            try authenticate(credentials)
        }
    }

    /// Mail for `recipients` from `sender` ("" for the null reverse-path `<>`).
    public func submit(sender: String, recipients: [String], message: [UInt8]) throws -> SMTPTransaction {
        guard !broken else { throw SMTPError.connection("\(endpoint): the connection was lost") }
        sentContent = false
        do {
            return try transaction(sender: sender, recipients: recipients, message: message)
        } catch {
            broken = true
            throw error
        }
    }

    private func transaction(sender: String, recipients: [String], message: [UInt8]) throws -> SMTPTransaction {
        // Without SMTPUTF8, a non-ASCII recipient is refused here alone; the others still get the message.
        if extensions["SMTPUTF8"] == nil && !sender.utf8.contains(where: { $0 >= 0x80 }) {
            let (plain, international) = (
                recipients.filter { $0.utf8.allSatisfy { $0 < 0x80 } },
                recipients.filter { $0.utf8.contains { $0 >= 0x80 } }
            )
            if !international.isEmpty && !plain.isEmpty {
                var result = try transaction(sender: sender, recipients: plain, message: message)
                let refusal = SMTPReply(
                    code: 553, lines: ["5.6.7 a non-ASCII address, and the server does not offer SMTPUTF8 (smimegate)"])
                result.recipients += international.map { .init(address: $0, reply: refusal) }
                return result
            }
        }
        let data = Self.dataBlock(message)
        let eightBit = message.contains { $0 >= 0x80 }
        let international = ([sender] + recipients).contains { $0.utf8.contains { $0 >= 0x80 } }
        var parameters = ""
        if let limit = extensions["SIZE"].flatMap({ Int($0.trimmingCharacters(in: .whitespaces)) }) {
            let size = data.count - 3
            if limit > 0 && size > limit {
                return Self.local(552, "5.3.4 message size \(size) exceeds the server's limit of \(limit)")
            }
            parameters += " SIZE=\(size)"
        }
        if international {
            guard extensions["SMTPUTF8"] != nil else {
                return Self.local(553, "5.6.7 a non-ASCII address, and the server does not offer SMTPUTF8")
            }
            parameters += " SMTPUTF8"
        }
        if eightBit {
            if extensions["8BITMIME"] != nil {
                parameters += " BODY=8BITMIME"
            } else if !international {
                return Self.local(554, "5.6.3 8-bit content, and the server does not offer 8BITMIME")
            }
        }
        let mailCommand = "MAIL FROM:<\(sender)>\(parameters)"
        let recipientCommands = recipients.map { "RCPT TO:<\($0)>" }
        let reset = used
        used = true
        if extensions["PIPELINING"] != nil {
            let batch = (reset ? ["RSET"] : []) + [mailCommand] + recipientCommands + ["DATA"]
            try channel.write(Array(batch.map { $0 + "\r\n" }.joined().utf8))
            if reset { try expectReset(try reply()) }
            let mail = try reply()
            var replies: [SMTPTransaction.RecipientReply] = []
            for address in recipients { replies.append(.init(address: address, reply: try reply())) }
            let dataReply = try reply()
            if !mail.isSuccess {
                if dataReply.code == 354 { _ = try finish([]) }
                return SMTPTransaction(mail: mail, recipients: recipients.map { .init(address: $0, reply: mail) })
            }
            guard dataReply.code == 354 else {
                return SMTPTransaction(mail: mail, recipients: replies.map { Self.unsent($0, dataReply) })
            }
            guard replies.contains(where: { $0.reply.isSuccess }) else {
                _ = try finish([])  // RFC 2920 §3.1: the server took DATA though no recipient was accepted
                return SMTPTransaction(mail: mail, recipients: replies)
            }
            return SMTPTransaction(mail: mail, recipients: replies, data: try finish(data))
        }
        if reset { try expectReset(try command("RSET")) }
        let mail = try command(mailCommand)
        guard mail.isSuccess else {
            return SMTPTransaction(mail: mail, recipients: recipients.map { .init(address: $0, reply: mail) })
        }
        var replies: [SMTPTransaction.RecipientReply] = []
        for (address, line) in zip(recipients, recipientCommands) {
            replies.append(.init(address: address, reply: try command(line)))
        }
        guard replies.contains(where: { $0.reply.isSuccess }) else {
            return SMTPTransaction(mail: mail, recipients: replies)
        }
        let go = try command("DATA")
        guard go.code == 354 else {
            return SMTPTransaction(mail: mail, recipients: replies.map { Self.unsent($0, go) })
        }
        return SMTPTransaction(mail: mail, recipients: replies, data: try finish(data))
    }

    /// Sends the content (already dot-stuffed, ending in CRLF.CRLF) and reads the final reply,
    /// waiting for it at least the 10 minutes of RFC 5321 §4.5.3.2.6: giving up earlier on a slow
    /// server would send the message again on the next run though it may have been accepted.
    private func finish(_ data: [UInt8]) throws -> SMTPReply {
        if !data.isEmpty { sentContent = true }
        try channel.write(data.isEmpty ? Array(".\r\n".utf8) : data)
        return try reply(within: max(timeout, Self.finalReplyTimeout))
    }

    static let finalReplyTimeout = 600.0

    /// A recipient the server accepted, but the content never went: it takes the reply that stopped it.
    private static func unsent(_ recipient: SMTPTransaction.RecipientReply, _ stop: SMTPReply)
        -> SMTPTransaction.RecipientReply
    {
        recipient.reply.isSuccess ? .init(address: recipient.address, reply: stop) : recipient
    }

    /// A refusal made here, before anything is sent (the server would refuse it, or mangle it).
    private static func local(_ code: Int, _ text: String) -> SMTPTransaction {
        SMTPTransaction(mail: SMTPReply(code: code, lines: [text + " (smimegate)"]), recipients: [])
    }

    private func expectReset(_ answer: SMTPReply) throws {
        guard answer.code == 250 else { throw refused("RSET", answer) }
    }

    /// QUIT, then close (errors ignored: the mail is already accepted or not).
    public func quit() {
        if !broken {
            _ = try? command("QUIT")
            channel.shutdown()
        }
        broken = true
    }

    private func hello(_ name: String) throws {
        let answer = try command("EHLO \(name)")
        if answer.code == 250 {
            for line in answer.lines.dropFirst() {
                let parts = line.split(separator: " ", maxSplits: 1)
                guard let keyword = parts.first else { continue }
                extensions[keyword.uppercased()] = parts.count > 1 ? String(parts[1]) : ""
            }
            return
        }
        let fallback = try command("HELO \(name)")  // RFC 5321 §3.2: an old server
        guard fallback.code == 250 else { throw refused("EHLO", answer) }
    }

    private func authenticate(_ credentials: SMTPCredentials) throws {
        let mechanisms = Set((extensions["AUTH"] ?? "").uppercased().split(separator: " ").map(String.init))
        func encoded(_ text: String) -> String { Data(text.utf8).base64EncodedString() }
        let answer: SMTPReply
        if mechanisms.contains("PLAIN") {
            answer = try command(
                "AUTH PLAIN " + encoded("\0\(credentials.user)\0\(credentials.password)"))
        } else if mechanisms.contains("LOGIN") {
            var step = try command("AUTH LOGIN")
            if step.code == 334 { step = try command(encoded(credentials.user)) }
            if step.code == 334 { step = try command(encoded(credentials.password)) }
            answer = step
        } else {
            throw SMTPError.connection(
                "\(endpoint) offers no AUTH PLAIN or LOGIN (offers: \(extensions["AUTH"] ?? "no AUTH"))")
        }
        // Only the codes: a server may echo what it was sent, and that holds the password.
        guard answer.code == 235 else {
            throw SMTPError.connection(
                "\(endpoint) refused AUTH for \(SMTPReply.printable(credentials.user)): "
                    + "\(String(format: "%03d", answer.code)) \(answer.status)")
        }
    }

    private func refused(_ step: String, _ answer: SMTPReply) -> SMTPError {
        .connection("\(endpoint) refused \(step): \(answer)")
    }

    /// Sends one command line and reads the reply. Nothing is logged: AUTH lines carry credentials.
    private func command(_ line: String) throws -> SMTPReply {
        try channel.write(Array((line + "\r\n").utf8))
        return try reply()
    }

    /// Reads one reply: "250-first", "250-more", "250 last" — all of it within `within` seconds
    /// (the session's timeout by default), however slowly the server drips it.
    private func reply(within: Double? = nil) throws -> SMTPReply {
        channel.deadline = ContinuousClock.now + .milliseconds(Int((within ?? timeout) * 1000))
        var lines: [String] = []
        while true {
            let line = try channel.readLine()
            let bytes = Array(line.utf8)
            guard bytes.count >= 3, bytes[0..<3].allSatisfy({ (48...57).contains($0) }),
                bytes.count == 3 || bytes[3] == UInt8(ascii: " ") || bytes[3] == UInt8(ascii: "-"),
                let code = Int(String(decoding: bytes[0..<3], as: UTF8.self))
            else {
                // Not the line itself: a server that echoes what it was sent would put AUTH's credentials here.
                throw SMTPError.connection("\(endpoint): not an SMTP reply (a line of \(bytes.count) bytes)")
            }
            lines.append(bytes.count > 4 ? String(decoding: bytes[4...], as: UTF8.self) : "")
            if bytes.count == 3 || bytes[3] == UInt8(ascii: " ") { return SMTPReply(code: code, lines: lines) }
            if lines.count > 1000 { throw SMTPError.connection("\(endpoint): a reply of more than 1000 lines") }
        }
    }

    /// The content as DATA sends it: every line end CRLF — a bare LF or a bare CR too, which
    /// RFC 5321 §2.3.8 forbids on the wire (a bare CR before "." could otherwise pass for the end
    /// of the data at a lenient server) —, a leading "." doubled (§4.5.2), ending with CRLF "." CRLF.
    static func dataBlock(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(message.count + message.count / 40 + 8)
        var lineStart = true
        var index = 0
        while index < message.count {
            let byte = message[index]
            index += 1
            if byte == 13 || byte == 10 {
                if byte == 13 && index < message.count && message[index] == 10 { index += 1 }
                out += [13, 10]
                lineStart = true
                continue
            }
            if lineStart && byte == UInt8(ascii: ".") { out.append(byte) }
            out.append(byte)
            lineStart = false
        }
        if !lineStart { out += [13, 10] }
        out += Array(".\r\n".utf8)
        return out
    }
}
