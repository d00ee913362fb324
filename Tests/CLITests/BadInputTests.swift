import Foundation
import TestSupport
import XCTest

/// Bad input gets one clear line naming the input and the reason, exit 1,
/// never a crash or a hang.
final class BadInputTests: CLITestCase {
    func assertCleanFailure(
        _ arguments: [String], _ data: [UInt8], expect reason: String, file: StaticString = #filePath,
        line: UInt = #line
    ) throws {
        let input = try save(data, "bad.eml")
        let start = Date()
        let result = try smimegate(arguments + [input])
        XCTAssertEqual(result.status, 1, "stderr: \(result.stderr)", file: file, line: line)
        XCTAssertLessThan(Date().timeIntervalSince(start), 20, "took too long", file: file, line: line)
        let lines = result.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "one line: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(input), "names the input: \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(reason), "reason \(reason): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stdout.isEmpty, file: file, line: line)
    }

    var signedOpaque: String {
        get throws {
            let input = try save(Self.plainLF, "plain.eml")
            return string(try smimegate(["sign", "--cert", "alice", "--sign-mode", "opaque", input]).expect(0).stdout)
        }
    }

    func testEmptyFile() throws {
        for command in [["verify"], ["decrypt"], ["sign", "--cert", "alice"], ["encrypt", "--key", "bob"]] {
            try assertCleanFailure(command, [], expect: "empty message")
        }
    }

    func testBinaryJunk() throws {
        var generator = SystemRandomNumberGenerator()
        let junk = (0..<65536).map { _ in UInt8.random(in: 0...255, using: &generator) }
        for command in [["verify"], ["decrypt"], ["sign", "--cert", "alice"]] {
            try assertCleanFailure(command, [0x00, 0xFF] + junk, expect: "not an RFC 5322 message")
        }
    }

    func testTruncatedBase64() throws {
        let message = try signedOpaque
        let cut = message.index(message.endIndex, offsetBy: -7)
        try assertCleanFailure(["verify"], Array(message[..<cut].utf8), expect: "truncated base64")
    }

    func testTruncatedCMS() throws {
        let message = try signedOpaque
        // Keep whole base64 lines (valid base64) but lose the second half of the CMS.
        var lines = message.components(separatedBy: "\n")
        let blank = try XCTUnwrap(lines.firstIndex(of: ""))
        lines.removeSubrange((blank + 1 + (lines.count - blank) / 2)...)
        try assertCleanFailure(
            ["verify"], Array((lines.joined(separator: "\n") + "\n").utf8), expect: "corrupted or truncated CMS")
    }

    func testCorruptedEnvelope() throws {
        let input = try save(Self.plainLF, "plain.eml")
        var message = string(try smimegate(["encrypt", "--key", "bob", input]).expect(0).stdout)
        let range = try XCTUnwrap(message.range(of: "\n\n"))
        message.replaceSubrange(
            range.upperBound..<message.index(range.upperBound, offsetBy: 40), with: String(repeating: "A", count: 40))
        try assertCleanFailure(["decrypt", "--cert", "bob"], Array(message.utf8), expect: "corrupted or truncated CMS")
    }

    func testMultipartWithoutClosingBoundary() throws {
        let message =
            "From: alice@example.com\nContent-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; boundary=zz\n\n--zz\nContent-Type: text/plain\n\nhi\n--zz\nContent-Type: application/pkcs7-signature\n\nAAAA\n"
        try assertCleanFailure(["verify"], Array(message.utf8), expect: "multipart has no closing boundary \"zz\"")
        let mixed = "From: alice@example.com\nContent-Type: multipart/mixed; boundary=zz\n\n--zz\n\nhi\n"
        try assertCleanFailure(
            ["sign", "--cert", "alice"], Array(mixed.utf8), expect: "multipart has no closing boundary \"zz\"")
    }

    func testMegabyteHeaderLine() throws {
        let message = "From: alice@example.com\nX-Huge: " + String(repeating: "x", count: 1 << 20) + "\n\nbody\n"
        try assertCleanFailure(
            ["sign", "--cert", "alice"], Array(message.utf8), expect: "header line 2 longer than 65536 bytes")
    }

    func testTwoHundredDeepNesting() throws {
        var body = "Content-Type: text/plain\n\nleaf\n"
        for depth in 0..<200 {
            body = "Content-Type: multipart/mixed; boundary=b\(depth)\n\n--b\(depth)\n\(body)--b\(depth)--\n"
        }
        let message = "From: alice@example.com\nMIME-Version: 1.0\n" + body
        try assertCleanFailure(
            ["sign", "--cert", "alice"], Array(message.utf8), expect: "MIME nesting deeper than 64 levels")
    }

    func testNotSMIME() throws {
        try assertCleanFailure(
            ["verify"], Array(Self.plainLF.utf8), expect: "not an S/MIME signed message (text/plain)")
        try assertCleanFailure(
            ["decrypt"], Array(Self.plainLF.utf8), expect: "not an S/MIME encrypted message (text/plain)")
    }
}

/// Exit code 2 for usage and configuration errors, with one line saying why.
final class UsageTests: CLITestCase {
    func testUnknownCertificateIsAConfigurationError() throws {
        let input = try save(Self.plainLF, "plain.eml")
        let result = try smimegate(["sign", "--cert", "nobody", input]).expect(2)
        XCTAssertEqual(result.stderr, "smimegate: no certificate named \"nobody\" (see 'smimegate cert list')\n")
    }

    func testMissingHomeSaysToRunInit() throws {
        let result = try runProcess(
            Paths.binary.path, ["--home", path("nowhere"), "verify", "-"], input: Array("x".utf8)
        ).expect(2)
        XCTAssertTrue(result.stderr.contains("run 'smimegate init' first"), result.stderr)
    }

    func testEncryptNeedsARecipient() throws {
        let result = try smimegate(["encrypt", "-"]).expect(2)
        XCTAssertTrue(result.stderr.contains("name at least one recipient with --to or --key"), result.stderr)
        try smimegate(["sign", "--bogus"]).expect(2)
    }

    func testRecipientWithoutUsableKeyFails() throws {
        let input = try save(Self.plainLF, "plain.eml")
        XCTAssertTrue(
            try smimegate(["encrypt", "--to", "nobody@nowhere.example", input]).expect(1).stderr.contains(
                "no usable certificate for nobody@nowhere.example"))
        XCTAssertTrue(
            try smimegate(["encrypt", "--key", "signonly", input]).expect(1).stderr.contains(
                "cannot encrypt to signonly: keyUsage lacks keyEncipherment"))
        XCTAssertTrue(
            try smimegate(["encrypt", "--key", "expired", input]).expect(1).stderr.contains(
                "cannot encrypt to expired: certificate expired on 2021-01-01"))
        XCTAssertTrue(
            try smimegate(["encrypt", "--to", "expired@example.com", input]).expect(1).stderr.contains(
                "no usable certificate"))
    }

    func testWildcardDomainLookup() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["encrypt", "--to", "user@mx.example.net", input, "-o", path("w.eml")]).expect(0)
        try openssl([
            "cms", "-decrypt", "-recip", fixture("wildcard.pem"), "-inkey", fixture("wildcard.key"), "-in",
            path("w.eml"), "-out",
            "/dev/null",
        ]).expect(0)
        try smimegate(["encrypt", "--to", "user@a.b.example.net", input]).expect(1)
        try smimegate(["encrypt", "--to", "user@example.net", input]).expect(1)
    }

    func testWrongPassphraseStoresNothing() throws {
        let pass = try save("wrong\n", "wrong.pass")
        let result = try smimegate(["cert", "import", "alice2", fixture("alice.p12"), "--passphrase-file", pass])
            .expect(2)
        XCTAssertTrue(result.stderr.contains("wrong passphrase"), result.stderr)
        XCTAssertFalse(try smimegate(["cert", "list"]).expect(0).out.contains("alice2"))
        let env = try runProcess(
            Paths.binary.path,
            ["--home", home, "cert", "import", "alice3", fixture("alice.p12"), "--passphrase-env", "P12PASS"],
            environment: ["P12PASS": "correct horse battery staple"]
        ).expect(0)
        XCTAssertFalse(env.out.contains("correct horse"), "the passphrase is never printed")
    }

    func testJunkFilesAreRefusedAsCertificatesAndKeys() throws {
        let junk = try save("not a certificate\n", "junk.pem")
        XCTAssertTrue(try smimegate(["keys", "add", "junk", junk]).expect(2).stderr.contains("not a certificate"))
        try smimegate(["ca", "add", junk]).expect(2)
        try smimegate(["cert", "import", "junk", junk, "--passphrase-env", "HOME"]).expect(2)
        XCTAssertTrue(
            try smimegate(["cert", "import", "mismatch", fixture("alice.pem"), "--key", fixture("bob.key")]).expect(2)
                .stderr.contains(
                    "does not match"))
    }

    func testHomeAndKeystoreModes() throws {
        let attributes = try FileManager.default.attributesOfItem(atPath: home)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o700)
        for file in try FileManager.default.contentsOfDirectory(atPath: home) {
            let mode =
                try FileManager.default.attributesOfItem(atPath: home + "/" + file)[.posixPermissions] as? NSNumber
            XCTAssertEqual(mode?.intValue, 0o600, file)
        }
        let dump = try runProcess("sqlite3", [home + "/keystore.sqlite", "PRAGMA user_version"]).expect(0)
        XCTAssertEqual(dump.out.trimmingCharacters(in: .whitespacesAndNewlines), "6", "migration 6: retired certificates")
    }

    func testHomeFromEnvironmentAndDemo() throws {
        let result = try runProcess(Paths.binary.path, ["ca", "list"], environment: ["SMIMEGATE_HOME": home]).expect(0)
        XCTAssertTrue(result.out.contains("smimegate Test Root CA"))
        let demo = try runProcess(Paths.binary.path, ["demo", path("demo"), "--messages", "60"]).expect(0)
        XCTAssertTrue(demo.out.contains("demo finished."), demo.out)
        XCTAssertTrue(demo.out.contains("process outgoing"))
        XCTAssertTrue(demo.out.contains("process incoming"))
        let manifest = string(bytes(of: URL(fileURLWithPath: path("demo/outgoing/manifest.jsonl"))))
        XCTAssertEqual(manifest.split(separator: "\n").count, 60)
        for outcome in [
            "\"outcome\":\"encrypted\"", "\"outcome\":\"split\"", "\"outcome\":\"bounced\"", "\"outcome\":\"signed\"",
            "\"outcome\":\"quarantined\",\"outputs\":[{\"file\":\"quarantined/Audit/new/",
            "\"policy\":\"partners\",\"profile\":\"demo\"",
        ] {
            XCTAssertTrue(manifest.contains(outcome), outcome)
        }
        XCTAssertFalse(
            try FileManager.default.contentsOfDirectory(atPath: path("demo/outgoing/notifications/new")).isEmpty)
        let verified = try FileManager.default.contentsOfDirectory(
            atPath: path("demo/partner.example-incoming/verified/new"))
        XCTAssertFalse(verified.isEmpty)
        // The partner's verified copy came through a real S/MIME round trip; OpenSSL agrees on an encrypted one.
        let encrypted = try FileManager.default.contentsOfDirectory(atPath: path("demo/outgoing/encrypted/new"))
        try openssl(["cms", "-cmsout", "-in", path("demo/outgoing/encrypted/new/" + encrypted[0]), "-out", "/dev/null"])
            .expect(0)
    }
}
