import Foundation
import TestSupport
import XCTest

/// `smimegate deliver` and `process --deliver` (issue 11) against a real SMTP server on
/// 127.0.0.1 (aiosmtpd, Tests/peers/smtp_server.py): envelopes, exactly-once, deferrals,
/// rejections turned into DSNs, STARTTLS and AUTH, SIZE/8BITMIME, bad input.
final class DeliveryTests: CLITestCase {
    func testEveryOutputArrivesOnceWithExactlyItsEnvelope() throws {
        let (out, bounced) = try outgoingRun()
        let server = try SMTPPeer(dir, options: ["--pipelining"])
        let run = try smimegate(["deliver", out, bounced, "--smtp", server.url]).expect(0)
        XCTAssertTrue(run.out.contains("delivered"), run.out)
        let outputs =
            try deliverableOutputs(out).map { (out, $0.record, $0.output) }
            + deliverableOutputs(bounced).map { (bounced, $0.record, $0.output) }
        let received = server.received
        XCTAssertEqual(received.count, outputs.count, "one submission per output")
        for (root, record, output) in outputs {
            let content = fileText(root + "/" + output.file)
            let matches = received.filter { $0.text == content }
            XCTAssertEqual(matches.count, 1, "\(output.file) arrives exactly once")
            guard let got = matches.first else { continue }
            XCTAssertEqual(Set(got.rcptTos), Set(output.recipients), "\(output.file): RCPT TO its recipients only")
            if output.file.hasPrefix("bounced/") {
                XCTAssertEqual(got.mailFrom, "", "a DSN goes with the null reverse-path")
                XCTAssertEqual(got.rcptTos, ["alice@example.com"], "to the original sender")
                XCTAssertEqual(record.outcome, "bounced")
            } else if record.input.hasSuffix("returnpath") {
                XCTAssertEqual(got.mailFrom, "bounces@example.com", "Return-Path is the envelope sender")
            } else {
                XCTAssertEqual(got.mailFrom, "alice@example.com")
            }
            XCTAssertFalse(got.text.lowercased().contains("\nbcc:"), "\(output.file): no Bcc field goes out")
        }
        // The split: the clear copy never reaches a keyed recipient; the Bcc recipient's copy is his alone.
        for got in received where !got.text.contains("application/pkcs7-mime") && !got.text.contains("delivery-status")
        {
            XCTAssertFalse(got.rcptTos.contains("bob@partner.example"), "a clear copy went to the keyed recipient")
            XCTAssertFalse(got.rcptTos.contains("dan@partner.example"))
            XCTAssertFalse(got.rcptTos.contains("carol@partner.example"))
        }
        XCTAssertTrue(received.contains { $0.rcptTos == ["dan@partner.example"] }, "the Bcc recipient alone")
        XCTAssertTrue(received.contains { $0.rcptTos == ["zed@elsewhere.test"] && $0.text.contains("body of split") })
        // One connection per worker, RSET between messages, nothing twice on a rerun.
        XCTAssertLessThanOrEqual(server.commands.filter { $0.hasPrefix("CONNECT") }.count, 2 * 2)
        XCTAssertGreaterThan(server.commands.filter { $0 == "RSET" }.count, 0)
        let again = try smimegate(["deliver", out, bounced, "--smtp", server.url, "--json"]).expect(0)
        XCTAssertEqual(server.received.count, outputs.count, "a rerun sends nothing")
        XCTAssertTrue(again.out.contains("\"submitted\" : 0"), again.out)
        // The manifest records the envelope sender on every record, <> on DSNs and notices.
        let raw = string(read("out2/manifest.jsonl"))
        XCTAssertTrue(raw.contains("\"sender\":\"alice@example.com\""), raw)
    }

    func testTemporaryRefusalsAreDeferredAndTheNextRunDeliversOnlyThose() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        var messages: [String: String] = [:]
        for index in 0..<5 {
            messages["m\(index)"] = mail(
                "m\(index)", to: "bob@partner.example, zed@elsewhere.test, dan@partner.example")
        }
        let out = path("out")
        try smimegate(["process", "outgoing", try maildir("in", messages), "--out", out, "--profile", "s"]).expect(0)
        var server: SMTPPeer? = try SMTPPeer(
            dir, name: "first", options: ["--defer", "zed@elsewhere.test", "--reject", "dan@partner.example"])
        let first = try smimegate(["deliver", out, "--smtp", server!.url]).expect(75)
        XCTAssertTrue(first.stderr.contains("5 recipient(s) deferred"), first.stderr)
        let entries = try deliveryEntries(out)
        XCTAssertEqual(
            entries.filter { $0.result == "delivered" }.flatMap(\.recipients).filter { $0 == "bob@partner.example" }
                .count, 5)
        XCTAssertEqual(entries.filter { $0.result == "deferred" && $0.recipients == ["zed@elsewhere.test"] }.count, 5)
        let rejections = entries.filter { $0.result == "rejected" && $0.recipients == ["dan@partner.example"] }
        XCTAssertEqual(rejections.count, 5)
        XCTAssertTrue(rejections.allSatisfy { $0.reply.hasPrefix("550 5.1.1") && $0.bounce != nil })
        // Each rejection became a DSN to the sender, with the server's words, sent with <>.
        let dsns = server!.received.filter { $0.mailFrom == "" }
        XCTAssertEqual(dsns.count, 5)
        for dsn in dsns {
            XCTAssertEqual(dsn.rcptTos, ["alice@example.com"])
            XCTAssertTrue(dsn.text.contains("Final-Recipient: rfc822; dan@partner.example"), dsn.text)
            XCTAssertTrue(dsn.text.contains("Status: 5.1.1"))
            XCTAssertTrue(dsn.text.contains("Diagnostic-Code: smtp; 550 5.1.1"))
            XCTAssertTrue(dsn.text.contains("report-type=delivery-status"))
        }
        server!.stop()
        server = nil
        let healthy = try SMTPPeer(dir, name: "second")
        try smimegate(["deliver", out, "--smtp", healthy.url]).expect(0)
        XCTAssertEqual(healthy.received.count, 5, "only the deferred recipient's copies go again")
        XCTAssertTrue(healthy.received.allSatisfy { $0.rcptTos == ["zed@elsewhere.test"] })
        try smimegate(["deliver", out, "--smtp", healthy.url]).expect(0)
        XCTAssertEqual(healthy.received.count, 5, "nothing is left")
    }

    /// DIR/delivery.state: the next run reads only what is not settled yet, and a state that does
    /// not fit the files (a rewritten manifest) is ignored, never trusted into sending twice.
    func testTheNextRunStartsWhereTheLastOneSettled() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let inbox = try maildir(
            "in",
            ["a": mail("a", to: "bob@partner.example"), "b": mail("b", to: "zed@later.test, carol@partner.example")])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--profile", "s"]).expect(0)
        let first = try SMTPPeer(dir, name: "first", options: ["--defer", "zed@later.test"])
        try smimegate(["deliver", out, "--smtp", first.url]).expect(75)
        struct State: Decodable {
            struct Partial: Decodable { let file: String; let recipients: [String] }
            let manifestOffset: Int
            let partial: [Partial]
        }
        func state() throws -> State { try JSONDecoder().decode(State.self, from: Data(read("out/delivery.state"))) }
        let manifestSize = read("out/manifest.jsonl").count
        // a's record is settled; b's is not (zed waits), and carol's acceptance is remembered.
        let waiting = try state()
        XCTAssertLessThan(waiting.manifestOffset, manifestSize)
        XCTAssertTrue(waiting.partial.flatMap(\.recipients).contains("carol@partner.example"))
        XCTAssertFalse(waiting.partial.flatMap(\.recipients).contains("zed@later.test"))
        let second = try SMTPPeer(dir, name: "second")
        try smimegate(["deliver", out, "--smtp", second.url]).expect(0)
        XCTAssertEqual(second.received.map(\.rcptTos), [["zed@later.test"]], "only the deferred one, from the state")
        XCTAssertEqual(try state().manifestOffset, manifestSize)
        XCTAssertTrue(try state().partial.isEmpty)
        // New mail: only it is read and sent.
        try smimegate([
            "process", "outgoing", try maildir("in", ["c": mail("c", to: "dan@partner.example")]), "--out", out,
            "--profile", "s", "--resume",
        ]).expect(0)
        let run = try smimegate(["deliver", out, "--smtp", second.url, "--json"]).expect(0)
        XCTAssertTrue(run.out.contains("\"already_done\" : 0"), run.out)
        XCTAssertEqual(second.received.count, 2)
        // A manifest rewritten (its records in another order, as long as before): the state does not fit it
        // and is not trusted; the whole log is read, and nothing goes twice.
        let lines = string(read("out/manifest.jsonl")).split(separator: "\n").reversed().map { $0 + "\n" }.joined()
        try FileManager.default.removeItem(atPath: out + "/manifest.jsonl")
        try write(lines, to: URL(fileURLWithPath: out + "/manifest.jsonl"))
        let again = try smimegate(["deliver", out, "--smtp", second.url, "--json"]).expect(0)
        XCTAssertTrue(again.out.contains("\"already_done\" : 3"), again.out)
        XCTAssertEqual(second.received.count, 2)
    }

    func testPermanentRefusalsOfIncomingMailAreRecordedWithoutABounceAndExitOne() throws {
        let out = try signedRun(["m": mail("m", to: "bob@partner.example")])
        let incoming = path("incoming")
        try smimegate(["process", "incoming", out + "/signed", "--out", incoming]).expect(0)
        let server = try SMTPPeer(dir, options: ["--reject", "bob@partner.example"])
        let run = try smimegate(["deliver", incoming, "--smtp", server.url]).expect(1)
        XCTAssertTrue(run.stderr.contains("1 recipient(s) rejected"), run.stderr)
        let entries = try deliveryEntries(incoming)
        XCTAssertEqual(entries.map(\.result), ["rejected"])
        XCTAssertNil(entries[0].bounce, "incoming mail is not bounced to an outside sender")
        XCTAssertTrue(entries[0].file.hasPrefix("verified/new/"))
        XCTAssertEqual(entries[0].sender, "alice@example.com")
        XCTAssertTrue(server.received.isEmpty)
    }

    func testStartTLSIsRequiredAndVerifiedAndAuthUsesTheCredentialsFile() throws {
        let (cert, key) = try serverCertificate()
        let out = try signedRun(["a": mail("a", to: "bob@partner.example")])
        let server = try SMTPPeer(dir, options: ["--starttls", cert, key, "--auth", "gateway:s3cret pass"])
        let url = "smtp+starttls://127.0.0.1:\(server.port)"
        let auth = try save("gateway\ns3cret pass\n", "auth")
        chmod(auth, 0o600)
        // Refused before anything is sent: a password in clear, a file others can read.
        XCTAssertTrue(
            try smimegate(["deliver", out, "--smtp", server.url, "--smtp-auth-file", auth]).expect(2).stderr
                .contains("needs TLS"))
        chmod(auth, 0o644)
        XCTAssertTrue(
            try smimegate(["deliver", out, "--smtp", url, "--smtp-auth-file", auth, "--smtp-ca", fixture("ca.pem")])
                .expect(2).stderr.contains("readable by others"))
        chmod(auth, 0o600)
        // The system CAs do not know the fixture CA: the certificate is not trusted, the mail waits.
        try smimegate(["deliver", out, "--smtp", url, "--smtp-auth-file", auth]).expect(75)
        let untrusted = try deliveryEntries(out).last!.reply
        XCTAssertTrue(untrusted.contains("certificate"), untrusted)
        // A name the certificate does not carry is refused too.
        try smimegate([
            "deliver", out, "--smtp", "smtp+starttls://localhost:\(server.port)", "--smtp-auth-file", auth,
            "--smtp-ca", fixture("ca.pem"),
        ]).expect(75)
        // A wrong password: deferred with the server's refusal of AUTH, never the password.
        let wrong = try save("gateway\nwrong\n", "wrong")
        chmod(wrong, 0o600)
        try smimegate(["deliver", out, "--smtp", url, "--smtp-auth-file", wrong, "--smtp-ca", fixture("ca.pem")])
            .expect(75)
        let refused = try deliveryEntries(out).last!.reply
        XCTAssertTrue(refused.contains("AUTH"), refused)
        XCTAssertFalse(string(read("out/delivery.jsonl")).contains("wrong"))
        XCTAssertTrue(server.received.isEmpty)
        try smimegate(["deliver", out, "--smtp", url, "--smtp-auth-file", auth, "--smtp-ca", fixture("ca.pem")])
            .expect(0)
        XCTAssertEqual(server.received.count, 1)
        XCTAssertEqual(server.received.first?.tls, true)
        XCTAssertEqual(server.received.first?.auth, "gateway")
        XCTAssertFalse(string(read("out/delivery.jsonl")).contains("s3cret"))
        XCTAssertFalse(server.commands.contains { $0.contains("s3cret") || $0.contains("czNjcmV0") })
    }

    func testStartTLSIsNeverSkippedWhenTheServerDoesNotOfferIt() throws {
        let out = try signedRun(["a": mail("a", to: "bob@partner.example")])
        let server = try SMTPPeer(dir)
        try smimegate(["deliver", out, "--smtp", "smtp+starttls://127.0.0.1:\(server.port)"]).expect(75)
        XCTAssertTrue(try deliveryEntries(out)[0].reply.contains("does not offer STARTTLS"))
        XCTAssertTrue(server.received.isEmpty)
    }

    func testSizeAnd8BitLimitsOfTheServerAreRespected() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let big = String(repeating: "a line of text to make the message larger than the limit\n", count: 200)
        let out = path("out")
        try smimegate([
            "process", "outgoing",
            try maildir(
                "in",
                [
                    "big": mail("big", to: "bob@partner.example", body: big),
                    "dots": mail("dots", to: "carol@partner.example", body: ".\n..two\n.hidden line\nend"),
                ]), "--out", out, "--profile", "s",
        ]).expect(0)
        let server = try SMTPPeer(dir, options: ["--size", "6000"])
        try smimegate(["deliver", out, "--smtp", server.url]).expect(1)
        let entries = try deliveryEntries(out)
        let rejected = try XCTUnwrap(entries.first { $0.result == "rejected" })
        XCTAssertTrue(rejected.reply.hasPrefix("552 5.3.4"), rejected.reply)
        XCTAssertTrue(server.commands.contains { $0.hasPrefix("MAIL FROM:<alice@example.com> SIZE=") })
        // Lines that start with a dot arrive as written (dot-stuffing both ways).
        let dots = try XCTUnwrap(try deliverableOutputs(out).first { $0.record.input.hasSuffix("dots") })
        XCTAssertTrue(server.received.contains { $0.text == fileText(out + "/" + dots.output.file) })
        XCTAssertTrue(server.received.contains { $0.mailFrom == "" && $0.text.contains("Status: 5.3.4") })

        // 8-bit content (plain incoming mail, passed as received) goes only with BODY=8BITMIME,
        // to a server that offers it.
        let eight = path("eight")
        try smimegate(["process", "incoming", try maildir("in8", ["u": Self.plainLF]), "--out", eight]).expect(0)
        let old = try SMTPPeer(dir, name: "old", options: ["--no-8bitmime"])
        try smimegate(["deliver", eight, "--smtp", old.url]).expect(1)
        XCTAssertTrue(try deliveryEntries(eight).contains { $0.reply.hasPrefix("554 5.6.3") })
        XCTAssertFalse(old.received.contains { $0.rcptTos == ["bob@partner.example"] })
        let modern = try SMTPPeer(dir, name: "modern")
        try FileManager.default.removeItem(atPath: eight + "/delivery.jsonl")
        try smimegate(["deliver", eight, "--smtp", modern.url]).expect(0)
        XCTAssertTrue(
            modern.commands.contains { $0.contains("BODY=8BITMIME") }, modern.commands.joined(separator: "\n"))
    }

    func testANonASCIIAddressGoesOnlyWithSMTPUTF8() throws {
        let out = try signedRun(["u": mail("u", to: "Zoë <zoë@exämple.test>, bob@partner.example")])
        XCTAssertEqual(
            try manifestEntries(out).first?.outputs.first?.recipients, ["zoë@exämple.test", "bob@partner.example"])
        let plain = try SMTPPeer(dir, name: "plain")
        try smimegate(["deliver", out, "--smtp", plain.url]).expect(1)
        XCTAssertTrue(
            try deliveryEntries(out).contains {
                $0.result == "rejected" && $0.reply.hasPrefix("553 5.6.7") && $0.recipients == ["zoë@exämple.test"]
            })
        XCTAssertEqual(
            plain.received.filter { $0.mailFrom != "" }.map(\.rcptTos), [["bob@partner.example"]], "bob still gets it")
        XCTAssertEqual(plain.received.filter { $0.mailFrom == "" }.count, 1, "a DSN for Zoë")
        let modern = try SMTPPeer(dir, name: "modern", options: ["--smtputf8"])
        try FileManager.default.removeItem(atPath: out + "/delivery.jsonl")
        try smimegate(["deliver", out, "--smtp", modern.url, "--outcomes", "signed"]).expect(0)
        let got = try XCTUnwrap(modern.received.first)
        XCTAssertEqual(Set(got.rcptTos), ["zoë@exämple.test", "bob@partner.example"])
        XCTAssertTrue(got.mailOptions.contains("SMTPUTF8"), "\(got.mailOptions)")
    }

    func testAKillDuringDeliveryAndARerunSendNothingTwiceBeyondTheWindow() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        var messages: [String: String] = [:]
        for index in 0..<400 {
            messages[String(format: "m%03d", index)] = mail("m\(index)", to: "bob@partner.example")
        }
        let out = path("out")
        try smimegate(["process", "outgoing", try maildir("in", messages), "--out", out, "--profile", "s"]).expect(0)
        let server = try SMTPPeer(dir, options: ["--pipelining", "--delay", "0.005"])
        let process = Process()
        process.executableURL = Paths.binary
        process.arguments = ["--home", home, "deliver", out, "--smtp", server.url, "--workers", "2"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline && string(read("out/delivery.jsonl")).split(separator: "\n").count < 100 {
            usleep(5_000)
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let before = try deliveryEntries(out).count
        XCTAssertGreaterThanOrEqual(before, 100)
        XCTAssertLessThan(before, 400, "the kill came in the middle")
        try smimegate(["deliver", out, "--smtp", server.url]).expect(0)
        let received = server.received
        let byContent = Dictionary(grouping: received, by: \.text).mapValues(\.count)
        let outputs = try deliverableOutputs(out)
        XCTAssertEqual(outputs.count, 400)
        for (_, output) in outputs {
            XCTAssertGreaterThanOrEqual(byContent[fileText(out + "/" + output.file)] ?? 0, 1, "\(output.file) arrived")
        }
        let duplicates = received.count - byContent.count
        XCTAssertLessThanOrEqual(duplicates, 2, "at most one per worker, in the window before the record")
        // A duplicate is one whose first acceptance was never recorded: each output is recorded delivered once.
        XCTAssertEqual(try deliveryEntries(out).filter { $0.result == "delivered" }.count, 400)
    }

    func testProcessDeliverSendsEachOutputAsItIsWrittenAndTheSweepCatchesUp() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let inbox = try maildir(
            "in", ["a": mail("a", to: "bob@partner.example"), "b": mail("b", to: "carol@partner.example")])
        let out = path("out")
        // No server yet: everything is deferred, and the run says to try again.
        let closed = try SMTPPeer(dir, name: "closed")
        let url = closed.url
        closed.stop()
        let first = try smimegate(["process", "outgoing", inbox, "--out", out, "--profile", "s", "--deliver", url])
            .expect(75)
        XCTAssertTrue(first.stderr.contains("deferred"), first.stderr)
        XCTAssertTrue(
            try deliveryEntries(out).allSatisfy { $0.result == "deferred" && $0.reply.contains("cannot connect") })
        // The next cron run (new mail, --resume) delivers its own and what the last one left.
        let more = try maildir("in", ["c": mail("c", to: "dan@partner.example")])
        let server = try SMTPPeer(dir)
        try smimegate([
            "process", "outgoing", more, "--out", out, "--profile", "s", "--resume", "--deliver", server.url,
        ]).expect(0)
        XCTAssertEqual(
            Set(server.received.flatMap(\.rcptTos)),
            ["bob@partner.example", "carol@partner.example", "dan@partner.example"])
        XCTAssertEqual(server.received.count, 3)
        try smimegate([
            "process", "outgoing", more, "--out", out, "--profile", "s", "--resume", "--deliver", server.url,
        ])
        .expect(0)
        XCTAssertEqual(server.received.count, 3, "nothing twice")
    }

    func testConsumeRemovesDeliveredOutputsOnly() throws {
        let out = try signedRun(["a": mail("a", to: "bob@partner.example"), "b": mail("b", to: "zed@later.test")])
        let server = try SMTPPeer(dir, options: ["--defer", "zed@later.test"])
        try smimegate(["deliver", out, "--smtp", server.url, "--consume"]).expect(75)
        let left = try FileManager.default.contentsOfDirectory(atPath: out + "/signed/new")
        XCTAssertEqual(left.count, 1, "the deferred output stays for the next run")
        XCTAssertTrue(fileText(out + "/signed/new/" + left[0]).contains("zed@later.test"))
    }

    func testBadInputGetsOneLineAndNeverSendsAnythingElse() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let server = try SMTPPeer(dir)
        XCTAssertTrue(
            try smimegate(["deliver", path("nowhere"), "--smtp", server.url]).expect(2).stderr.contains(
                "no manifest.jsonl"))
        try smimegate(["deliver", path("nowhere"), "--smtp", server.url, "--sendmail", "/bin/true"]).expect(2)
        try smimegate(["deliver", path("nowhere")]).expect(2)
        XCTAssertTrue(
            try smimegate(["deliver", path("x"), "--smtp", "http://example.com"]).expect(2).stderr.contains(
                "unknown scheme"))
        XCTAssertTrue(
            try smimegate(["deliver", path("x"), "--smtp", "smtp://u:p@host"]).expect(2).stderr.contains(
                "never in the URL"))
        let out = path("out")
        try smimegate([
            "process", "outgoing",
            try maildir(
                "in", ["a": mail("a", to: "bob@partner.example"), "b": mail("b", to: "carol@partner.example")]),
            "--out", out, "--profile", "s",
        ]).expect(0)
        XCTAssertTrue(
            try smimegate(["deliver", out, "--smtp", server.url, "--outcomes", "failed"]).expect(2).stderr.contains(
                "never delivered"))
        // A manifest that names a path outside the output folders, and an output that is gone.
        var manifest = string(read("out/manifest.jsonl"))
        let first = try XCTUnwrap(try manifestEntries(out).first?.outputs.first?.file)
        manifest = manifest.replacingOccurrences(of: first, with: "signed/new/../../../../etc/passwd")
        try write(manifest, to: URL(fileURLWithPath: out + "/manifest.jsonl"))
        let second = try XCTUnwrap(try manifestEntries(out).last?.outputs.first?.file)
        try FileManager.default.removeItem(atPath: out + "/" + second)
        let run = try smimegate(["deliver", out, "--smtp", server.url]).expect(1)
        XCTAssertTrue(run.stderr.contains("is not an output file of ours"), run.stderr)
        XCTAssertTrue(run.stderr.contains(second + ": missing"), run.stderr)
        XCTAssertTrue(server.received.isEmpty)
        // A damaged delivery log stops before anything is sent.
        try write("{\"file\": 1}\n", to: URL(fileURLWithPath: out + "/delivery.jsonl"))
        XCTAssertTrue(try smimegate(["deliver", out, "--smtp", server.url]).expect(2).stderr.contains("damaged"))
    }

    func testOneRunPerDirectory() throws {
        let out = try signedRun(["a": mail("a", to: "bob@partner.example")])
        // This test process holds the lock, as a running 'process' or 'deliver' would.
        let fd = open(out + "/.lock", O_RDWR | O_CREAT, 0o600)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        defer { close(fd) }
        let server = try SMTPPeer(dir)
        XCTAssertTrue(
            try smimegate(["deliver", out, "--smtp", server.url]).expect(75).stderr.contains("in use by another run"))
        XCTAssertTrue(server.received.isEmpty)
    }
}
