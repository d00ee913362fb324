import Foundation
import TestSupport
import XCTest

/// Delivery into a real MTA (issue 11): a throwaway Postfix instance from Debian
/// (Tests/peers/postfix_instance.sh) as the `sendmail` and as an SMTP server with
/// PIPELINING, delivering to one maildir per recipient.
final class PostfixDeliveryTests: CLITestCase {
    var postfix: String!
    static let script = Paths.packageRoot.appendingPathComponent("Tests/peers/postfix_instance.sh").path

    override func setUpWithError() throws {
        try super.setUpWithError()
        // Postfix's delivery runs as nobody, who must reach the maildirs: a directory of its own under /tmp.
        postfix = "/tmp/smimegate-postfix-\(UUID().uuidString.prefix(8))"
    }

    override func tearDownWithError() throws {
        if let postfix {
            _ = try? runProcess("bash", [Self.script, "stop", postfix])
            try? FileManager.default.removeItem(atPath: postfix)
        }
        try super.tearDownWithError()
    }

    /// Starts the instance; its smtpd port and sendmail wrapper.
    func start() throws -> (port: Int, sendmail: String) {
        let run = try runProcess("bash", [Self.script, "start", postfix]).expect(0)
        var port = 0
        var sendmail = ""
        for line in run.out.split(separator: "\n") {
            if line.hasPrefix("PORT=") { port = Int(line.dropFirst(5)) ?? 0 }
            if line.hasPrefix("SENDMAIL=") { sendmail = String(line.dropFirst(9)) }
        }
        XCTAssertGreaterThan(port, 0, run.out + run.stderr)
        return (port, sendmail)
    }

    /// Waits for `count` messages in the instance's maildirs; then the delivered files per recipient.
    func mailboxes(count: Int) throws -> [String: [String]] {
        try runProcess("bash", [Self.script, "wait", postfix, String(count), "60"]).expect(0)
        var boxes: [String: [String]] = [:]
        let root = postfix + "/mail"
        for domain in try FileManager.default.contentsOfDirectory(atPath: root) {
            for local in try FileManager.default.contentsOfDirectory(atPath: root + "/" + domain) {
                let new = root + "/" + domain + "/" + local + "/new"
                boxes["\(local)@\(domain)"] = try FileManager.default.contentsOfDirectory(atPath: new).map {
                    fileText(new + "/" + $0)
                }
            }
        }
        return boxes
    }

    /// Every output of the run reached exactly its recipients, once, with its envelope sender.
    func checkDelivered(_ roots: [String], boxes: [String: [String]]) throws {
        var expected: [String: Int] = [:]
        for root in roots {
            for (record, output) in try deliverableOutputs(root) {
                let body = bodyText(bytes(of: URL(fileURLWithPath: root + "/" + output.file)))
                for recipient in output.recipients {
                    expected[recipient.lowercased(), default: 0] += 1
                    let copies = (boxes[recipient.lowercased()] ?? []).filter { bodyText(Array($0.utf8)) == body }
                    XCTAssertEqual(copies.count, 1, "\(output.file) reached \(recipient) once")
                    let returnPath =
                        output.file.hasPrefix("bounced/")
                        ? "<>" : record.input.hasSuffix("returnpath") ? "<bounces@example.com>" : "<alice@example.com>"
                    XCTAssertTrue(
                        copies.first?.hasPrefix("Return-Path: \(returnPath)\n") == true,
                        "\(output.file) to \(recipient): \(copies.first?.prefix(80) ?? "nothing")")
                }
            }
        }
        XCTAssertEqual(boxes.mapValues(\.count), expected, "nobody got anything else")
    }

    func testSendmailOfARealPostfixDeliversEveryOutputToExactlyItsRecipients() throws {
        let (out, bounced) = try outgoingRun()
        let (_, sendmail) = try start()
        let run = try smimegate(["deliver", out, bounced, "--sendmail", sendmail]).expect(0)
        XCTAssertTrue(run.out.contains("sendmail \(sendmail)"), run.out)
        let outputs = try deliverableOutputs(out) + deliverableOutputs(bounced)
        let recipients = outputs.reduce(0) { $0 + $1.output.recipients.count }
        let boxes = try mailboxes(count: recipients)
        try checkDelivered([out, bounced], boxes: boxes)
        // The keyed recipients got only encrypted copies; the clear copy went to the one without a key.
        for address in ["bob@partner.example", "dan@partner.example", "carol@partner.example"] {
            XCTAssertTrue(boxes[address]?.allSatisfy { $0.contains("application/pkcs7-mime") } == true, address)
        }
        XCTAssertTrue(boxes["zed@elsewhere.test"]?.contains { !$0.contains("application/pkcs7-mime") } == true)
        XCTAssertTrue(boxes["alice@example.com"]?.first?.contains("report-type=delivery-status") == true)
        XCTAssertFalse(boxes.values.joined().contains { $0.lowercased().contains("\nbcc:") })
        // What Postfix received decrypts with openssl for the keyed recipient.
        let bobs = try XCTUnwrap(boxes["bob@partner.example"]?.first)
        let file = try save(bobs, "bob.eml")
        XCTAssertEqual(
            try openssl(["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", file])
                .status, 0)
        // A rerun hands nothing more to sendmail.
        try smimegate(["deliver", out, bounced, "--sendmail", sendmail]).expect(0)
        usleep(500_000)
        try runProcess("bash", [Self.script, "flush", postfix])
        XCTAssertEqual(try mailboxes(count: recipients).values.joined().count, recipients)
    }

    func testOurSMTPClientDeliversIntoPostfixWithPipeliningInOneCommand() throws {
        let (port, _) = try start()
        try smimegate([
            "profile", "create", "sp", "--mode", "sign-encrypt", "--cert", "alice", "--missing-key", "split",
        ]).expect(0)
        var messages: [String: String] = [:]
        for index in 0..<20 {
            messages["m\(index)"] = mail(
                "m\(index)", to: "bob@partner.example, Zed <zed@elsewhere.test>", extra: "Cc: carol@partner.example\n",
                body: ".\n..a line starting with dots\nmessage \(index)")
        }
        let out = path("out")
        try smimegate([
            "process", "outgoing", try maildir("in", messages), "--out", out, "--profile", "sp", "--deliver",
            "smtp://127.0.0.1:\(port)", "--no-progress",
        ]).expect(0)
        let entries = try deliveryEntries(out)
        XCTAssertTrue(entries.allSatisfy { $0.result == "delivered" && $0.reply.hasPrefix("250 2.0.0 Ok: queued") })
        let outputs = try deliverableOutputs(out)
        let boxes = try mailboxes(count: outputs.reduce(0) { $0 + $1.output.recipients.count })
        try checkDelivered([out], boxes: boxes)
        XCTAssertEqual(boxes["zed@elsewhere.test"]?.count, 20)
        XCTAssertTrue(boxes["zed@elsewhere.test"]!.allSatisfy { $0.contains("\n..a line starting with dots\n") })
    }
}
