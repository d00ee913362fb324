import Foundation
import TestSupport
import XCTest

/// A real SMTP server on 127.0.0.1 for a test (Tests/peers/smtp_server.py, aiosmtpd), started
/// with the given options; `stop()` (or deinit) ends it. What it accepted is in `received`.
final class SMTPPeer {
    struct Message: Decodable {
        let mailFrom: String
        let rcptTos: [String]
        let mailOptions: [String]
        let data: String
        let tls: Bool
        let auth: String?
        /// The content as received, line ends made LF.
        var text: String {
            string(Array(Data(base64Encoded: data) ?? Data())).replacingOccurrences(of: "\r\n", with: "\n")
        }
    }

    let port: Int
    let record: String
    let log: String
    private let process: Process

    /// `hostile`: a mode of Tests/peers/hostile_smtp.py instead of the aiosmtpd server.
    init(_ dir: URL, name: String = "smtp", options: [String] = [], hostile: String? = nil) throws {
        record = dir.appendingPathComponent("\(name)-record.jsonl").path
        log = dir.appendingPathComponent("\(name)-commands.log").path
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let peers = Paths.packageRoot.appendingPathComponent("Tests/peers")
        if let hostile {
            process.arguments =
                [Paths.python, peers.appendingPathComponent("hostile_smtp.py").path, hostile, "--record", record]
                + options
        } else {
            process.arguments =
                [Paths.python, peers.appendingPathComponent("smtp_server.py").path]
                + ["--record", record, "--log", log] + options
        }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        var line = Data()
        let deadline = Date().addingTimeInterval(30)
        while !line.contains(10) && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line += chunk
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("READY "), let port = Int(text.dropFirst(6).prefix { $0.isNumber }) else {
            process.terminate()
            throw TestFailure("the SMTP peer did not start: \(text)")
        }
        self.port = port
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }

    var url: String { "smtp://127.0.0.1:\(port)" }

    var received: [Message] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return string(bytes(of: URL(fileURLWithPath: record))).split(separator: "\n").compactMap {
            try? decoder.decode(Message.self, from: Data($0.utf8))
        }
    }

    /// How many messages a hostile server took (its record has a line per message).
    var taken: Int { string(bytes(of: URL(fileURLWithPath: record))).split(separator: "\n").count }

    var commands: [String] { string(bytes(of: URL(fileURLWithPath: log))).split(separator: "\n").map(String.init) }
}

/// One line of DIR/delivery.jsonl.
struct DeliveryEntry: Decodable {
    let file: String
    let sender: String
    let recipients: [String]
    let result: String
    let reply: String
    let bounce: String?
}

extension CLITestCase {
    func mail(_ id: String, from: String = "alice@example.com", to: String, extra: String = "", body: String? = nil)
        -> String
    {
        """
        From: Alice <\(from)>
        To: \(to)
        \(extra)Subject: message \(id)
        Message-ID: <\(id)@example.com>
        MIME-Version: 1.0
        Content-Type: text/plain; charset=us-ascii

        \(body ?? "body of \(id)")

        """
    }

    /// Outgoing mail of every shape: encrypted to a keyed partner, a clear split copy for a recipient
    /// without a key, a Bcc recipient alone, a Return-Path sender, and (second DIR) a DSN.
    func outgoingRun() throws -> (out: String, bounced: String) {
        try smimegate([
            "profile", "create", "sp", "--mode", "sign-encrypt", "--cert", "alice", "--missing-key", "split",
        ]).expect(0)
        try smimegate(["profile", "create", "bb", "--mode", "encrypt", "--missing-key", "bounce"]).expect(0)
        let inbox = try maildir(
            "in",
            [
                "split": mail(
                    "split", to: "Bob <bob@partner.example>, zed@elsewhere.test", extra: "Bcc: dan@partner.example\n"),
                "returnpath": "Return-Path: <bounces@example.com>\n" + mail("rp", to: "bob@partner.example"),
                "plain": mail("plain", to: "carol@partner.example, yves@elsewhere.test"),
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--profile", "sp", "--no-progress"]).expect(0)
        let bounceInbox = try maildir("in2", ["nokey": mail("nokey", to: "zed@elsewhere.test")])
        let bounced = path("out2")
        try smimegate(["process", "outgoing", bounceInbox, "--out", bounced, "--profile", "bb", "--no-progress"])
            .expect(0)
        return (out, bounced)
    }

    /// DIR "out" of `process outgoing` over maildir "in" holding `messages`, signed by profile `s` (alice).
    func signedRun(_ messages: [String: String]) throws -> String {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let out = path("out")
        try smimegate(["process", "outgoing", try maildir("in", messages), "--out", out, "--profile", "s"]).expect(0)
        return out
    }

    /// `signedRun` of `count` messages to `recipients`.
    func signedOutput(to recipients: String = "bob@partner.example", count: Int = 1) throws -> String {
        var messages: [String: String] = [:]
        for index in 0..<count { messages["m\(index)"] = mail("m\(index)", to: recipients) }
        return try signedRun(messages)
    }

    func deliveryEntries(_ out: String) throws -> [DeliveryEntry] {
        try string(bytes(of: URL(fileURLWithPath: out + "/delivery.jsonl"))).split(separator: "\n").map {
            try JSONDecoder().decode(DeliveryEntry.self, from: Data($0.utf8))
        }
    }

    /// The manifest's outputs in the folders `deliver` sends by default, with their record.
    func deliverableOutputs(_ out: String) throws -> [(record: ManifestEntry, output: ManifestEntry.File)] {
        let folders = ["signed", "encrypted", "split", "bounced", "passed", "verified", "decrypted", "unverified"]
        return try manifestEntries(out).flatMap { record in
            record.outputs.filter { output in
                folders.contains(where: { output.file.hasPrefix($0 + "/new/") })
                    || output.file.hasPrefix("notifications/")
            }.map { (record, $0) }
        }
    }

    /// A file's text with line ends made LF (what an SMTP server's copy is compared with).
    func fileText(_ path: String) -> String {
        string(bytes(of: URL(fileURLWithPath: path))).replacingOccurrences(of: "\r\n", with: "\n")
    }

    /// A certificate for 127.0.0.1 (IP SAN) and `localhost`-less, issued by the fixture CA.
    func serverCertificate() throws -> (cert: String, key: String) {
        let key = path("server.key")
        let csr = path("server.csr")
        let cert = path("server.pem")
        let ext = try save("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n", "server.ext")
        try openssl([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1",
        ])
        .expect(0)
        try openssl([
            "x509", "-req", "-in", csr, "-CA", fixture("ca.pem"), "-CAkey", fixture("ca.key"), "-CAcreateserial",
            "-CAserial", path("ca.srl"), "-days", "2", "-out", cert, "-extfile", ext,
        ]).expect(0)
        return (cert, key)
    }
}
