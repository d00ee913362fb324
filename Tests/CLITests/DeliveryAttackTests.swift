import Foundation
import TestSupport
import XCTest

/// The adversarial pass over delivery (issue 11): every finding, as a test. Hostile servers
/// come from Tests/peers/hostile_smtp.py; tampered output directories are made here.
final class DeliveryAttackTests: CLITestCase {
    func testRepliesOutsideTheirClassNeverCountAsDelivered() throws {
        let out = try signedOutput()
        for mode in ["code099-mail", "code199-mail", "code199-rcpt", "code099-dot", "code354-dot"] {
            let server = try SMTPPeer(dir, name: mode, hostile: mode)
            try smimegate(["deliver", out, "--smtp", server.url]).expect(75)
            let last = try XCTUnwrap(try deliveryEntries(out).last)
            XCTAssertEqual(last.result, "deferred", "\(mode): \(last.reply)")
        }
        XCTAssertFalse(try deliveryEntries(out).contains { $0.result != "deferred" })
        XCTAssertTrue(try deliveryEntries(out).contains { $0.reply.hasPrefix("099 odd") }, "the code as it came")
    }

    func testADrippingServerIsGivenUpAtTheTimeout() throws {
        let out = try signedOutput()
        let server = try SMTPPeer(dir, hostile: "drip")
        let started = Date()
        try smimegate(["deliver", out, "--smtp", server.url, "--delivery-timeout", "2"]).expect(75)
        XCTAssertLessThan(Date().timeIntervalSince(started), 15)
        let reply = try deliveryEntries(out)[0].reply
        XCTAssertTrue(reply.contains("timed out"), reply)
    }

    func testContentTakenWithoutAReplyIsDeferredNotDelivered() throws {
        let out = try signedOutput()
        let server = try SMTPPeer(dir, hostile: "close-after-dot")
        try smimegate(["deliver", out, "--smtp", server.url]).expect(75)
        XCTAssertEqual(server.taken, 1)
        XCTAssertEqual(try deliveryEntries(out).map(\.result), ["deferred"])
    }

    func testTooManyRecipientsIsTemporary() throws {
        let out = try signedOutput(to: "bob@partner.example, carol@partner.example, dan@partner.example")
        let server = try SMTPPeer(dir, hostile: "rcpt552")
        try smimegate(["deliver", out, "--smtp", server.url]).expect(75)
        let entries = try deliveryEntries(out)
        XCTAssertEqual(entries.first { $0.result == "delivered" }?.recipients, ["bob@partner.example"])
        XCTAssertEqual(
            Set(entries.filter { $0.result == "deferred" }.flatMap(\.recipients)),
            ["carol@partner.example", "dan@partner.example"])
        XCTAssertFalse(
            entries.contains { $0.result == "rejected" || $0.bounce != nil }, "no DSN for a temporary refusal")
    }

    func testServerWordsReachLogsDSNsAndTerminalsAsPrintableASCIIOnly() throws {
        let out = try signedOutput()
        let server = try SMTPPeer(dir, hostile: "escapes")
        let run = try smimegate(["deliver", out, "--smtp", server.url]).expect(1)
        let log = string(read("out/delivery.jsonl"))
        XCTAssertTrue(log.contains("550 5.1.1 ?[31mRED"), log)
        for text in [log, run.stderr, run.out] {
            XCTAssertFalse(
                text.unicodeScalars.contains {
                    $0.value == 0x1B || (0x80...0x9F).contains($0.value) || $0.value == 0x202E
                })
        }
        let entry = try XCTUnwrap(try deliveryEntries(out).first { $0.bounce != nil })
        let dsn = string(bytes(of: URL(fileURLWithPath: out + "/" + entry.bounce!)))
        XCTAssertTrue(dsn.contains("Diagnostic-Code: smtp; 550 5.1.1 ?[31mRED"), dsn)
        XCTAssertTrue(dsn.unicodeScalars.allSatisfy { $0.isASCII }, "the DSN stays 7-bit")
    }

    func testAServerThatTakesOneConnectionGetsEverythingOverIt() throws {
        let out = try signedOutput(count: 20)
        let server = try SMTPPeer(dir, hostile: "one-connection")
        try smimegate(["deliver", out, "--smtp", server.url, "--workers", "4"]).expect(0)
        XCTAssertEqual(server.taken, 20)
        XCTAssertEqual(try deliveryEntries(out).filter { $0.result == "delivered" }.count, 20)
    }

    func testAnAuthRefusalThatEchoesTheCredentialsNeverRecordsThem() throws {
        try authEcho("auth-echo", expect: "refused AUTH for gateway: 535 5.7.8")
        try authEcho("auth-echo-raw", expect: "not an SMTP reply")
    }

    func authEcho(_ mode: String, expect: String) throws {
        let out = path("out")
        if !FileManager.default.fileExists(atPath: out) { _ = try signedOutput() }
        let (cert, key) = try serverCertificate()
        let server = try SMTPPeer(dir, name: mode, options: ["--cert", cert, "--key", key], hostile: mode)
        let auth = try save("gateway\ntopsecretpw\n", "auth")
        chmod(auth, 0o600)
        let run = try smimegate([
            "deliver", out, "--smtp", "smtp+starttls://127.0.0.1:\(server.port)", "--smtp-ca", fixture("ca.pem"),
            "--smtp-auth-file", auth,
        ]).expect(75)
        let encoded = Data("\0gateway\0topsecretpw".utf8).base64EncodedString()
        let log = string(read("out/delivery.jsonl"))
        XCTAssertTrue(log.contains(expect), log)
        for text in [log, run.stderr, run.out] {
            XCTAssertFalse(text.contains("topsecretpw") || text.contains(encoded), text)
        }
    }

    func testIncomingMailIsDeliveredOnlyToOurOwnAddresses() throws {
        // A message encrypted to our organisation key (the gateway certificate, example.com), resent by
        // someone else with a header naming their own address.
        let clear = try save(mail("secret", to: "alice@example.com", body: "TOP SECRET"), "clear.eml")
        let encrypted = try openssl(["cms", "-encrypt", "-aes256", "-in", clear, fixture("gateway.pem")]).expect(0).out
        let resent =
            "From: mallory@evil.test\nTo: attacker@evil.test\nCc: alice@example.com.evil.test\nSubject: hi\n"
            + encrypted
        let delivered = "Delivered-To: alice@example.com\n" + resent
        let incoming = path("incoming")
        try smimegate([
            "process", "incoming", try maildir("in", ["resent": resent, "delivered": delivered]), "--out", incoming,
        ]).expect(0)
        let records = try recordsByInput(incoming)
        XCTAssertEqual(records["resent"]?.outcome, "decrypted")
        XCTAssertEqual(records["resent"]?.outputs.first?.recipients, [], "never to the addresses the sender wrote")
        XCTAssertTrue(records["resent"]?.warning?.contains("2 recipient(s) outside our domains") == true)
        XCTAssertEqual(
            records["delivered"]?.outputs.first?.recipients, ["alice@example.com"], "the MTA's envelope recipient")
        let server = try SMTPPeer(dir)
        let run = try smimegate(["deliver", incoming, "--smtp", server.url, "--json"]).expect(0)
        XCTAssertTrue(run.out.contains("\"unaddressed\" : 1"), run.out)
        XCTAssertEqual(server.received.map(\.rcptTos), [["alice@example.com"]])
        // An operator who does deliver a domain's mail says so.
        let allowed = path("allowed")
        try smimegate([
            "process", "incoming", path("in"), "--out", allowed, "--local-domains", "evil.test,*.example.org",
        ]).expect(0)
        XCTAssertEqual(try recordsByInput(allowed)["resent"]?.outputs.first?.recipients, ["attacker@evil.test"])
    }

    func testALinkedFolderInTheOutputDirectoryIsNeverFollowed() throws {
        let out = try signedOutput()
        let file = try XCTUnwrap(try manifestEntries(out).first?.outputs.first?.file)
        let elsewhere = path("elsewhere")
        try FileManager.default.moveItem(atPath: out + "/signed/new", toPath: elsewhere)
        try FileManager.default.createSymbolicLink(atPath: out + "/signed/new", withDestinationPath: elsewhere)
        let server = try SMTPPeer(dir)
        let run = try smimegate(["deliver", out, "--smtp", server.url, "--consume"]).expect(1)
        XCTAssertTrue(run.stderr.contains("a symbolic link?"), run.stderr)
        XCTAssertTrue(server.received.isEmpty)
        XCTAssertTrue(
            FileManager.default.fileExists(atPath: elsewhere + "/" + URL(fileURLWithPath: file).lastPathComponent))
    }

    func testAHugeOutputIsOneLineNotACrash() throws {
        let out = try signedOutput()
        let file = try XCTUnwrap(try manifestEntries(out).first?.outputs.first?.file)
        XCTAssertEqual(truncate(out + "/" + file, 600 << 20), 0)
        let server = try SMTPPeer(dir)
        let run = try smimegate(["deliver", out, "--smtp", server.url]).expect(1)
        XCTAssertTrue(run.stderr.contains("more than the 512 MiB delivered at most"), run.stderr)
        XCTAssertTrue(server.received.isEmpty)
    }

    func testManifestAddressesThatWouldBeSMTPCommandsAreRefused() throws {
        let out = try signedOutput()
        var manifest = string(read("out/manifest.jsonl"))
        manifest = manifest.replacingOccurrences(
            of: "\"recipients\":[\"bob@partner.example\"]",
            with: "\"recipients\":[\"bob@partner.example>\\r\\nRCPT TO:<evil@attacker.test\"]")
        try write(manifest, to: URL(fileURLWithPath: out + "/manifest.jsonl"))
        let server = try SMTPPeer(dir)
        let run = try smimegate(["deliver", out, "--smtp", server.url]).expect(1)
        XCTAssertTrue(run.stderr.contains("cannot go into SMTP"), run.stderr)
        XCTAssertFalse(run.stderr.contains("\r"))
        XCTAssertTrue(server.received.isEmpty)
        XCTAssertFalse(server.commands.contains { $0.contains("evil") })
    }

    func testAnOutputTheManifestNamesTwiceIsSentOnce() throws {
        let out = try signedOutput()
        let line = string(read("out/manifest.jsonl"))
        try write(String(repeating: line, count: 8), to: URL(fileURLWithPath: out + "/manifest.jsonl"))
        let server = try SMTPPeer(dir)
        try smimegate(["deliver", out, "--smtp", server.url, "--workers", "4"]).expect(0)
        XCTAssertEqual(server.received.count, 1)
    }

    func testLocalPartsThatRouteElsewhereAreNotOurs() throws {
        let clear = try save(mail("secret", to: "alice@example.com", body: "TOP SECRET"), "clear.eml")
        let encrypted = try openssl(["cms", "-encrypt", "-aes256", "-in", clear, fixture("gateway.pem")]).expect(0).out
        func resent(_ header: String) -> String { "From: mallory@evil.test\n" + header + "Subject: hi\n" + encrypted }
        let incoming = path("incoming")
        try smimegate([
            "process", "incoming",
            try maildir(
                "in",
                [
                    // A quoted local part a sendmail would read as a list; the percent hack; a bang path; a quoted @.
                    "list": resent("To: \"a\\\"@evil.test,\\\"b\"@example.com\n"),
                    "percent": resent("To: a%evil.test@example.com\n"),
                    "bang": resent("To: evil.test!b@example.com\n"),
                    "quoted": resent("To: \"c@evil.test\"@example.com\n"),
                    // A Delivered-To the sender wrote, below the MTA's block: not the envelope recipient.
                    "below": "X-Original-To: alice@example.com\n"
                        + resent("To: alice@example.com\nDelivered-To: bob@example.com\n"),
                ]), "--out", incoming,
        ]).expect(0)
        let records = try recordsByInput(incoming)
        for name in ["list", "percent", "bang", "quoted"] {
            XCTAssertEqual(records[name]?.outputs.first?.recipients, [], name)
        }
        XCTAssertEqual(records["below"]?.outputs.first?.recipients, ["alice@example.com"])
    }

    func testAnAcceptanceIsRecordedEvenWhenTheDSNForAnotherRecipientCannotBeWritten() throws {
        let out = try signedOutput(to: "bob@partner.example, dan@partner.example")
        try FileManager.default.removeItem(atPath: out + "/bounced")
        try FileManager.default.createSymbolicLink(atPath: out + "/bounced", withDestinationPath: "/tmp")
        let server = try SMTPPeer(dir, options: ["--reject", "dan@partner.example"])
        try smimegate(["deliver", out, "--smtp", server.url]).expect(75)
        XCTAssertEqual(try deliveryEntries(out).map(\.result), ["delivered"])
        try FileManager.default.removeItem(atPath: out + "/bounced")
        try smimegate(["deliver", out, "--smtp", server.url]).expect(1)
        XCTAssertEqual(server.received.filter { $0.rcptTos.contains("bob@partner.example") }.count, 1, "bob once")
        XCTAssertEqual(server.received.filter { $0.mailFrom == "" }.count, 1, "the DSN for dan, once")
    }

    func testALockedDirectoryDoesNotHoldUpTheOthers() throws {
        let out = try signedOutput()
        let other = path("other")
        try FileManager.default.copyItem(atPath: out, toPath: other)
        let fd = open(out + "/.lock", O_RDWR | O_CREAT, 0o600)
        XCTAssertEqual(flock(fd, LOCK_EX), 0)
        defer { close(fd) }
        let server = try SMTPPeer(dir)
        let run = try smimegate(["deliver", out, other, "--smtp", server.url]).expect(75)
        XCTAssertTrue(run.stderr.contains("\(out) is in use by another run"), run.stderr)
        XCTAssertTrue(run.out.contains("delivered"), "the summary is printed")
        XCTAssertEqual(server.received.count, 1, "the other directory went")
        XCTAssertTrue(
            try smimegate(["deliver", other, other + "/", "--smtp", server.url]).expect(2).stderr.contains(
                "given twice"))
        XCTAssertTrue(
            try smimegate(["deliver", other, "--smtp", server.url, "--outcomes", ","]).expect(2).stderr.contains(
                "no folder"))
    }

    func testANullReversePathWithACommentIsStillNull() throws {
        try smimegate(["profile", "create", "bb", "--mode", "encrypt", "--missing-key", "bounce"]).expect(0)
        let out = path("out")
        try smimegate([
            "process", "outgoing",
            try maildir("in", ["dsn": "Return-Path: <> (a bounce)\n" + mail("dsn", to: "zed@elsewhere.test")]), "--out",
            out,
            "--profile", "bb",
        ]).expect(0)
        let record = try XCTUnwrap(try manifestEntries(out).first)
        XCTAssertEqual(record.outcome, "dropped", "no DSN answers a DSN")
        XCTAssertTrue(string(read("out/manifest.jsonl")).contains("\"sender\":\"<>\""))
    }
}
