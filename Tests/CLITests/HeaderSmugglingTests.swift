import Foundation
import TestSupport
import XCTest

/// Issue 9, found by attacking it: a lone CR inside a header field is a line break
/// to some readers (Python's `email`, some clients) and not to RFC 5322, so a
/// `From:` or a forged `Authentication-Results:` could hide behind one; and mail
/// that cannot be parsed must not carry a forged result into `failed/` either.
/// What a reader sees is checked with Python's `email` package, a real peer.
final class HeaderSmugglingTests: CLITestCase {
    let authserv = "gw.example"

    func incoming(_ messages: [String: [UInt8]]) throws -> String {
        let inbox = path("in")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: inbox + "/" + sub, withIntermediateDirectories: true)
        }
        for (name, bytes) in messages { try write(bytes, to: URL(fileURLWithPath: inbox + "/new/" + name)) }
        let out = path("out")
        let run = try smimegate(["process", "incoming", inbox, "--out", out, "--authserv-id", authserv])
        XCTAssertTrue(run.status == 0 || run.status == 1, run.stderr)
        return out
    }

    /// The only output of input `name`, by the manifest.
    func output(_ out: String, _ name: String) throws -> (outcome: String, bytes: [UInt8]) {
        let entry = try XCTUnwrap(try manifestEntries(out).first { $0.input.hasSuffix("/" + name) }, name)
        let file = try XCTUnwrap(entry.outputs.first).file
        return (entry.outcome, bytes(of: URL(fileURLWithPath: out + "/" + file)))
    }

    /// What Python's email parser reads as From fields and as results claiming our authserv-id.
    func pythonSees(_ bytes: [UInt8]) throws -> (froms: Int, forged: [String]) {
        let script = """
            import email, sys
            m = email.message_from_bytes(sys.stdin.buffer.read())
            results = m.get_all('Authentication-Results') or []
            ours = [v for v in results if v.strip().lower().startswith('gw.example')]
            print(len(m.get_all('From') or []))
            for v in ours: print(' '.join(v.split()))
            """
        let run = try runProcess(Paths.python, ["-c", script], input: bytes)
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.out.split(separator: "\n").map(String.init)
        return (Int(lines.first ?? "") ?? -1, Array(lines.dropFirst()))
    }

    func testALoneCRSmugglesNoFieldIntoTheOuterOrUnwrappedHeader() throws {
        let smuggled = "x\rFrom: ceo@example.org\rAuthentication-Results: gw.example; smime=pass"
        let unsigned = Array(
            ("From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: hi\r\nContent-Description: \(smuggled)\r\n"
                + "\r\nhello\r\n").utf8)
        let inner = Array(
            ("Content-Type: text/plain\r\nContent-Description: \(smuggled)\r\n\r\nsecret\r\n").utf8)
        let envelope = try openssl(
            ["cms", "-encrypt", "-binary", "-aes-256-gcm", fixture("bob.pem")], input: inner
        ).expect(0).stdout
        let encrypted = Array("From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: enc\r\n".utf8) + envelope
        let out = try incoming(["unsigned": unsigned, "encrypted": encrypted])

        for (name, outcome) in [("unsigned", "passed"), ("encrypted", "decrypted")] {
            let (got, bytes) = try output(out, name)
            XCTAssertEqual(got, outcome, name)
            let seen = try pythonSees(bytes)
            XCTAssertEqual(seen.froms, 1, "\(name): one From for every reader")
            XCTAssertTrue(seen.forged.allSatisfy { !$0.contains("smime=pass") }, "\(name): \(seen.forged)")
            XCTAssertFalse(string(bytes).contains("\rFrom:"), name)
        }
        let warned = try manifestEntries(out).first { $0.input.hasSuffix("/unsigned") }
        XCTAssertNotNil(warned)
        // A genuine message of the same shape is still delivered byte for byte.
        let genuine = Array(
            "From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: hi\r\n\r\nhello\r\n".utf8)
        let out2 = path("out2")
        try FileManager.default.createDirectory(atPath: path("in2/new"), withIntermediateDirectories: true)
        try write(genuine, to: URL(fileURLWithPath: path("in2/new/genuine")))
        try smimegate(["process", "incoming", path("in2"), "--out", out2, "--authserv-id", authserv]).expect(0)
        XCTAssertEqual(try output(out2, "genuine").bytes, genuine)
    }

    func testMailThatCannotBeParsedKeepsNoForgedResultInFailed() throws {
        let forged = "Authentication-Results: gw.example; smime=pass body.smime-identifier=ceo@example.org\r\n"
        let spaced = "Authentication-Results : GW.example. ; smime=pass\r\n"
        let other = "Authentication-Results: mx.other.example; spf=pass\r\n"
        let withNUL = Array(("From: alice@example.com\r\nX-Bad: a\u{0}b\r\n" + forged + other + "\r\nbody\r\n").utf8)
        let leading = Array((" continuation first\r\n" + spaced + "From: a@example.com\r\n\r\nbody\r\n").utf8)
        let out = try incoming(["nul": withNUL, "leading": leading])
        for name in ["nul", "leading"] {
            let (outcome, bytes) = try output(out, name)
            XCTAssertEqual(outcome, "failed", name)
            XCTAssertFalse(string(bytes).lowercased().contains("smime=pass"), "\(name): \(string(bytes))")
            XCTAssertTrue(string(bytes).hasSuffix("\r\n\r\nbody\r\n"), "the rest as received")
        }
        XCTAssertTrue(string(try output(out, "nul").bytes).contains(other), "other hosts' results are kept")
    }

    /// The signed layer's own header is not signed: with two Content-Types or boundaries a
    /// client may show other content next to the pass than the one that was verified.
    func testAmbiguousMIMEAroundASignatureIsAPermanentError() throws {
        let content = Array(
            "Content-Type: text/plain\r\n\r\nPlease pay account 123.\r\n".utf8)
        let signed = try openssl(
            ["cms", "-sign", "-signer", fixture("alice.pem"), "-inkey", fixture("alice.key")], input: content
        ).expect(0).out
        let header = "From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: pay\r\n"
        let genuine = header + signed
        // The duplicates come last, where a reader that takes the last value finds them.
        let blank = try XCTUnwrap(signed.range(of: "\n\n"))
        let twoTypes =
            header + signed[..<blank.lowerBound] + "\nContent-Type: multipart/mixed; boundary=\"EVIL\""
            + signed[blank.lowerBound...]
        let boundary = try XCTUnwrap(signed.range(of: #"boundary="[^"]*""#, options: .regularExpression))
        let twoBoundaries =
            header + signed[..<boundary.upperBound] + "; boundary=\"EVIL\"" + signed[boundary.upperBound...]
        XCTAssertNotEqual(twoBoundaries, genuine)
        try smimegate(["ca", "add", fixture("ca.pem")])
        let inbox = path("in")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: inbox + "/" + sub, withIntermediateDirectories: true)
        }
        for (name, text) in ["genuine": genuine, "types": twoTypes, "boundaries": twoBoundaries] {
            try write(text, to: URL(fileURLWithPath: inbox + "/new/" + name))
        }
        let out = path("out")
        try smimegate(["process", "incoming", inbox, "--out", out, "--signature", "keep", "--authserv-id", authserv])
        let entries = try manifestEntries(out)
        func outcome(_ name: String) -> ManifestEntry? { entries.first { $0.input.hasSuffix("/" + name) } }
        XCTAssertEqual(outcome("genuine")?.outcome, "verified")
        for name in ["types", "boundaries"] {
            XCTAssertEqual(outcome(name)?.outcome, "unverified", name)
            XCTAssertTrue(
                outcome(name)?.reason?.contains("ambiguous MIME around the signature") ?? false,
                "\(name): \(outcome(name)?.reason ?? "-")")
        }
    }
}
