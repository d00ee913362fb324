import Foundation
import Locking
import TestSupport
import XCTest

/// F1, F2, F10 against a real peer: OpenSSL's `cms` command line and pyca.
final class SignVerifyInteropTests: CLITestCase {
    func testOurSignaturesVerifyWithOpenSSLInBothModesAndLineEndings() throws {
        let lf = try save(Self.plainLF, "plain-lf.eml")
        let crlf = try save(Self.plainLF.replacingOccurrences(of: "\n", with: "\r\n"), "plain-crlf.eml")
        for (input, style) in [(lf, "lf"), (crlf, "crlf")] {
            for mode in ["detached", "opaque"] {
                let out = path("signed-\(mode)-\(style).eml")
                try smimegate(["sign", "--cert", "alice", "--sign-mode", mode, input, "-o", out]).expect(0)
                let signed = string(bytes(of: URL(fileURLWithPath: out)))
                XCTAssertEqual(
                    signed.contains("\r\n"), style == "crlf",
                    "output keeps the input's line endings (\(mode), \(style))")
                XCTAssertTrue(signed.hasPrefix("From: Alice <alice@example.com>"), "outer fields stay outside")
                let verified = try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", out]).expect(0)
                XCTAssertTrue(verified.out.contains("Gr"), "\(mode) \(style): \(verified.out)")
                XCTAssertTrue(verified.out.contains("starts with From") || verified.out.contains("=46rom now on"))
            }
        }
        let detached = string(read("signed-detached-lf.eml"))
        XCTAssertTrue(detached.contains("multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=sha-256"))
        XCTAssertTrue(
            detached.contains("Content-Transfer-Encoding: quoted-printable"),
            "8-bit text re-encoded before a detached signature")
        XCTAssertTrue(detached.contains("\n=46rom now on"), "a line starting with From is protected")
        XCTAssertTrue(
            string(read("signed-opaque-lf.eml")).contains(
                "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\""))
    }

    func testDigestAndPSSChoicesVerifyWithOpenSSL() throws {
        let input = try save(Self.plainLF, "plain.eml")
        for (arguments, micalg) in [
            (["--digest", "sha384"], "sha-384"), (["--digest", "sha512"], "sha-512"), (["--pss"], "sha-256"),
        ] {
            let out = path("signed.eml")
            try smimegate(["sign", "--cert", "alice"] + arguments + [input, "-o", out]).expect(0)
            XCTAssertTrue(string(read("signed.eml")).contains("micalg=\(micalg)"), "\(arguments)")
            try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", out, "-out", "/dev/null"]).expect(0)
            let printed = try openssl(["cms", "-cmsout", "-print", "-in", out]).expect(0).out
            if arguments == ["--pss"] { XCTAssertTrue(printed.contains("rsassaPss"), "RSA-PSS signature algorithm") }
        }
    }

    func testDomainCertificateSignsForAnyUserOfItsDomain() throws {
        let input = try save(
            Self.plainLF.replacingOccurrences(of: "Alice <alice@example.com>", with: "carl@example.com"), "carl.eml")
        try smimegate(["sign", "--cert", "gateway", input, "-o", path("signed.eml")]).expect(0)
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", path("signed.eml"), "-out", "/dev/null"])
            .expect(0)
        try smimegate(["verify", path("signed.eml")]).expect(0)
        let other = try save(
            Self.plainLF.replacingOccurrences(of: "Alice <alice@example.com>", with: "eve@elsewhere.example"), "eve.eml"
        )
        let refused = try smimegate(["sign", "--cert", "gateway", other]).expect(1)
        XCTAssertTrue(
            refused.stderr.contains("From address eve@elsewhere.example is not covered by certificate gateway"),
            refused.stderr)
    }

    func testOpenSSLSignaturesVerifyWithUs() throws {
        let content = try save("Content-Type: text/plain\r\n\r\nsigned by openssl\r\n", "content.txt")
        for mode in [[String](), ["-nodetach"]] {
            let smime = try openssl(
                ["cms", "-sign", "-signer", fixture("alice.pem"), "-inkey", fixture("alice.key"), "-in", content] + mode
            ).expect(0)
            let message = "From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: openssl\r\n" + smime.out
            let result = try smimegate(["verify", "-"], input: Array(message.utf8)).expect(0)
            XCTAssertTrue(result.out.contains("signed by openssl"), "\(mode): \(result.out)")
            XCTAssertTrue(result.out.hasPrefix("From: alice@example.com"))
            XCTAssertFalse(result.out.contains("pkcs7"), "signature removed")
            XCTAssertTrue(result.stderr.contains("signature valid and trusted"))
        }
    }

    func testPycaSignaturesVerifyWithUs() throws {
        let content = Array("Content-Type: text/plain\r\n\r\nsigned by pyca\r\n".utf8)
        for mode in ["sign-detached", "sign-opaque"] {
            let message = try pyca([mode, fixture("alice.pem"), fixture("alice.key")], input: content).expect(0)
            let result = try smimegate(["verify"], input: message.stdout).expect(0)
            XCTAssertTrue(result.out.contains("signed by pyca"), "\(mode): \(result.out)")
        }
    }

    func testTamperedContentFailsWithBadSignature() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["sign", "--cert", "alice", input, "-o", path("signed.eml")]).expect(0)
        let tampered = string(read("signed.eml")).replacingOccurrences(of: "Hello Bob", with: "Hello Eve")
        let result = try smimegate(["verify", try save(tampered, "tampered.eml")]).expect(1)
        XCTAssertTrue(
            result.stderr.hasPrefix(
                "smimegate: verify: \(path("tampered.eml")) <interop-1@example.com>: bad signature"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, "one line")
        XCTAssertTrue(result.stdout.isEmpty, "nothing delivered as verified")
        // OpenSSL agrees.
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", path("tampered.eml"), "-out", "/dev/null"])
            .expect(4)
    }

    func testUntrustedCAFails() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["sign", "--cert", "alice", input, "-o", path("signed.eml")]).expect(0)
        let other = CLIHome(dir.appendingPathComponent("other"))
        try other.run(["init"]).expect(0)
        try other.run(["ca", "add", fixture("other-ca.pem")]).expect(0)
        let result = try other.run(["verify", path("signed.eml")]).expect(1)
        XCTAssertTrue(
            result.stderr.contains("untrusted signer certificate: self-signed certificate in certificate chain"),
            result.stderr)
    }

    func testExpiredSignerFails() throws {
        let content = try save("Content-Type: text/plain\r\n\r\nold\r\n", "content.txt")
        let smime = try openssl([
            "cms", "-sign", "-signer", fixture("expired.pem"), "-inkey", fixture("expired.key"), "-in", content,
        ])
        .expect(0)
        let message = "From: expired@example.com\r\nSubject: old\r\n" + smime.out
        let result = try smimegate(["verify"], input: Array(message.utf8)).expect(1)
        XCTAssertTrue(result.stderr.contains("signer certificate expired on 2021-01-01 00:00:00 UTC"), result.stderr)
    }

    func testFromNotCoveredByTheSignerFails() throws {
        let content = try save("Content-Type: text/plain\r\n\r\nspoof\r\n", "content.txt")
        let smime = try openssl([
            "cms", "-sign", "-signer", fixture("alice.pem"), "-inkey", fixture("alice.key"), "-in", content,
        ]).expect(0)
        let message = "From: Mallory <mallory@example.com>\r\nSubject: spoof\r\n" + smime.out
        let result = try smimegate(["verify"], input: Array(message.utf8)).expect(1)
        XCTAssertTrue(
            result.stderr.contains(
                "From address mallory@example.com is not covered by the signer certificate (alice@example.com)"),
            result.stderr)
        // Sender may be the signer instead only with RFC 8550 §3's option: the reader sees From.
        let withSender =
            "From: Mallory <mallory@example.com>\r\nSender: alice@example.com\r\nSubject: spoof\r\n" + smime.out
        try smimegate(["verify"], input: Array(withSender.utf8)).expect(1)
        try smimegate(["verify", "--accept-sender-match"], input: Array(withSender.utf8)).expect(0)
    }

    func testSigningCertificateMustAllowSigningAndECDSAWorks() throws {
        // F18: Dan's certificate has digitalSignature but not nonRepudiation: the gateway will not sign with it.
        let input = try save(
            Self.plainLF.replacingOccurrences(of: "Alice <alice@example.com>", with: "dan@partner.example"), "dan.eml")
        let refused = try smimegate(["sign", "--cert", "dan", input]).expect(1)
        XCTAssertTrue(refused.stderr.contains("cannot sign with dan: keyUsage lacks nonRepudiation"), refused.stderr)
        // ... but a signature made with it by someone else verifies (either bit suffices, RFC 8550 §4.4.2).
        let content = try save("Content-Type: text/plain\r\n\r\nfrom dan\r\n", "content.txt")
        let smime = try openssl([
            "cms", "-sign", "-signer", fixture("dan.pem"), "-inkey", fixture("dan.key"), "-in", content,
        ]).expect(0)
        try smimegate(["verify"], input: Array(("From: dan@partner.example\r\n" + smime.out).utf8)).expect(0)
        // Carol's EC certificate signs with ECDSA, and OpenSSL verifies it.
        let carol = try save(
            Self.plainLF.replacingOccurrences(of: "Alice <alice@example.com>", with: "carol@partner.example"), "c.eml")
        try smimegate(["sign", "--cert", "carol", carol, "-o", path("ec-signed.eml")]).expect(0)
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", path("ec-signed.eml"), "-out", "/dev/null"])
            .expect(0)
        let printed = try openssl(["cms", "-cmsout", "-print", "-in", path("ec-signed.eml")]).expect(0).out
        XCTAssertTrue(printed.contains("ecdsa-with-SHA256"), "ECDSA signature")
    }
}

/// A second home for tests that need a different trust configuration.
struct CLIHome {
    let url: URL
    init(_ url: URL) { self.url = url }

    @discardableResult
    func run(_ arguments: [String], input: [UInt8] = [], environment: [String: String] = [:]) throws -> ProcessResult {
        try runProcess(
            Paths.binary.path, ["--home", url.path] + arguments, input: input,
            environment: try keystore().merging(environment) { $1 })
    }

    /// In the PostgreSQL pass, a second home has a keystore database of its own.
    func keystore() throws -> [String: String] {
        guard ProcessInfo.processInfo.environment["SMIMEGATE_TEST_KEYSTORE"] == "postgresql" else { return [:] }
        return try CLIHome.databases.withLock { databases in
            if let url = databases[url.path] { return ["SMIMEGATE_KEYSTORE": url] }
            let created = try PostgresServer.shared.createDatabase()
            databases[url.path] = created
            return ["SMIMEGATE_KEYSTORE": created]
        }
    }

    static let databases = Locked<[String: String]>([:])

    /// Runs SQL in this home's keystore, the way an administrator would look: sqlite3 on keystore.sqlite, or
    /// psql on its PostgreSQL database (output as sqlite3 prints it: "|" between columns).
    func sql(_ statement: String) throws -> String {
        if let url = try keystore()["SMIMEGATE_KEYSTORE"] {
            let database = String(url.split(separator: "/").last!.prefix { $0 != "?" })
            return try PostgresServer.shared.psql(statement, database: database)
        }
        return try runProcess("sqlite3", [url.path + "/keystore.sqlite", statement]).expect(0).out
    }
}
