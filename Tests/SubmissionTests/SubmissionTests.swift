import XCTest

@testable import Submission

/// The SMTP client's pieces that need no server: URLs (RFC 5321 ports, RFC 3986 hosts),
/// replies (RFC 5321 §4.2, RFC 3463 status codes) and the DATA block (§4.5.2 dot-stuffing).
final class SubmissionTests: XCTestCase {
    func testEndpointsTakeTheSchemesAndTheirPortsAndNothingElse() throws {
        XCTAssertEqual(
            try SMTPEndpoint(url: "smtp://mx.example.com"),
            SMTPEndpoint(security: .plain, host: "mx.example.com", port: 25))
        XCTAssertEqual(try SMTPEndpoint(url: "SMTP+STARTTLS://mx.example.com/").port, 587)
        XCTAssertEqual(try SMTPEndpoint(url: "smtps://mx.example.com").port, 465)
        XCTAssertEqual(
            try SMTPEndpoint(url: "smtp://127.0.0.1:2525"),
            SMTPEndpoint(security: .plain, host: "127.0.0.1", port: 2525))
        XCTAssertEqual(try SMTPEndpoint(url: "smtp://[::1]:26"), SMTPEndpoint(security: .plain, host: "::1", port: 26))
        XCTAssertEqual(try SMTPEndpoint(url: "smtp://[::1]:26").description, "smtp://[::1]:26")
        for bad in [
            "mx.example.com", "http://mx.example.com", "smtp://", "smtp://user:pw@mx", "smtp://mx:0", "smtp://mx:70000",
            "smtp://mx:x", "smtp://mx/path", "smtp://[::1", "smtp://[::1]x", "smtp://mx?a=b",
        ] {
            XCTAssertThrowsError(try SMTPEndpoint(url: bad), bad)
        }
    }

    func testRepliesKeepTheirEnhancedStatusOrTheClassOfTheirCode() {
        let unknown = SMTPReply(code: 550, lines: ["5.1.1 <bob@x>: Recipient address rejected"])
        XCTAssertEqual(unknown.status, "5.1.1")
        XCTAssertTrue(unknown.isPermanent)
        XCTAssertEqual(SMTPReply(code: 451, lines: ["Try again"]).status, "4.0.0")
        XCTAssertTrue(SMTPReply(code: 451, lines: []).isTransient)
        XCTAssertEqual(SMTPReply(code: 554, lines: ["5.x.1 odd"]).status, "5.0.0")
        XCTAssertEqual(
            SMTPReply(code: 250, lines: ["first", "second\u{1B}[31m\u{9B}é"]).description, "250 first / second?[31m??")
        XCTAssertEqual(SMTPReply(code: 99, lines: ["odd"]).description, "099 odd")
        XCTAssertFalse(SMTPReply(code: 199, lines: []).isSuccess)
        XCTAssertFalse(SMTPReply(code: 354, lines: []).isSuccess)
        XCTAssertFalse(SMTPReply(code: 600, lines: []).isPermanent)
    }

    func testDataIsDotStuffedWithCRLFLineEndsAndTerminated() {
        let block = SMTPSession.dataBlock(Array("a\n.\n..b\r\n.c\nend".utf8))
        XCTAssertEqual(String(decoding: block, as: UTF8.self), "a\r\n..\r\n...b\r\n..c\r\nend\r\n.\r\n")
        // A bare CR is a line end too (RFC 5321 §2.3.8): "line\r.\r\n" must not end the data at a lenient server.
        let smuggled = SMTPSession.dataBlock(Array("line\r.\r\nMAIL FROM:<ceo@x>\r\n".utf8))
        XCTAssertEqual(String(decoding: smuggled, as: UTF8.self), "line\r\n..\r\nMAIL FROM:<ceo@x>\r\n.\r\n")
        XCTAssertEqual(String(decoding: SMTPSession.dataBlock([]), as: UTF8.self), ".\r\n")
        XCTAssertEqual(String(decoding: SMTPSession.dataBlock(Array(".\n".utf8)), as: UTF8.self), "..\r\n.\r\n")
    }

    func testSendmailExitStatusesMapToResults() throws {
        let accepted = try Sendmail(path: "/bin/true")
        XCTAssertEqual(accepted.submit(sender: "a@example.com", recipients: ["b@example.com"], message: []), .accepted)
        let script = NSTemporaryDirectory() + "/sendmail-\(getpid())"
        defer { unlink(script) }
        for (status, expected) in [(75, "deferred"), (67, "rejected"), (1, "deferred")] {
            try "#!/bin/sh\ncat >/dev/null\necho \"said $*\" >&2\nexit \(status)\n".write(
                toFile: script, atomically: true, encoding: .utf8)
            chmod(script, 0o755)
            let result = try Sendmail(path: script).submit(
                sender: "", recipients: ["b@example.com"], message: Array("x\r\n".utf8))
            switch result {
            case .deferred(let why) where expected == "deferred", .rejected(let why) where expected == "rejected":
                XCTAssertTrue(why.contains("sendmail exit \(status)"), why)
                XCTAssertTrue(why.contains("said -i -f <> -- b@example.com"), why)
            default:
                XCTFail("exit \(status): \(result)")
            }
        }
        XCTAssertThrowsError(try Sendmail(path: "/nonexistent/sendmail"))
        // One that hangs (with a child of its own) is killed, children and all, after the timeout.
        try "#!/bin/sh\nsleep 30 &\nsleep 30\n".write(toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let started = Date()
        let slow = try Sendmail(path: script, timeout: 0.3)
        XCTAssertEqual(
            slow.submit(sender: "a@b", recipients: ["c@d"], message: []),
            .deferred("sendmail did not finish within 0.3 s"))
        XCTAssertLessThan(Date().timeIntervalSince(started), 10)
        // One that hands over the message and leaves a child holding its output open: accepted, not waited for.
        try "#!/bin/sh\ncat >/dev/null\n(sleep 1000 &)\nexit 0\n".write(
            toFile: script, atomically: true, encoding: .utf8)
        chmod(script, 0o755)
        let lingering = Date()
        XCTAssertEqual(try Sendmail(path: script).submit(sender: "a@b", recipients: ["c@d"], message: []), .accepted)
        XCTAssertLessThan(Date().timeIntervalSince(lingering), 10)
    }
}
