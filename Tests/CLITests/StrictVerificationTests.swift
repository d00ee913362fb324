import Foundation
import TestSupport
import XCTest

/// Issue 9, items 2, 4, 5 and 6: the attacks on signature verification and
/// AuthEnvelopedData that used to end in a pass, each beside a genuine message
/// of the same shape that must still pass. Messages are made by real peers (the
/// openssl command line, and Tests/peers/cms_craft.py with asn1crypto for the one
/// change an attacker makes to a genuine CMS structure).
final class StrictVerificationTests: CLITestCase {
    static let content = "Content-Type: text/plain\r\n\r\nPay invoice 42 to account 123.\r\n"

    struct Delivery {
        let outcome: String
        let reason: String?
        /// The Authentication-Results field we added (the first line of the delivered message).
        let result: String
        let message: String
    }

    /// Runs `process incoming` over one message and returns what became of it.
    func incoming(_ message: String, _ flags: [String] = [], name: String = #function) throws -> Delivery {
        let run = name.filter { $0.isLetter } + String(UInt32.random(in: 0...UInt32.max))
        let inbox = path("in-\(run)")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: inbox + "/" + sub, withIntermediateDirectories: true)
        }
        try write(message, to: URL(fileURLWithPath: inbox + "/new/m1"))
        let out = path("out-\(run)")
        try smimegate(["process", "incoming", inbox, "--out", out, "--authserv-id", "mx.example.com"] + flags).expect(0)
        let entry = try XCTUnwrap(try manifestEntries(out).first)
        let file = try XCTUnwrap(entry.outputs.first?.file)
        let delivered = string(bytes(of: URL(fileURLWithPath: out + "/" + file)))
        let first = delivered.split(maxSplits: 1, whereSeparator: \.isNewline).first.map(String.init) ?? ""
        return Delivery(outcome: entry.outcome, reason: entry.reason, result: first, message: delivered)
    }

    func craft(_ arguments: [String], _ input: String) throws -> String {
        let script = Paths.packageRoot.appendingPathComponent("Tests/peers/cms_craft.py").path
        return try runProcess(Paths.python, [script] + arguments, input: Array(input.utf8)).expect(0).out
    }

    /// An opaque or detached S/MIME signature by openssl over `content`, under `header`.
    func signed(
        _ header: String, cert: String = "alice", detached: Bool = false, options: [String] = [],
        content: String = content
    ) throws -> String {
        let input = try save(content, "content-\(UUID().uuidString).txt")
        let certificate = cert.hasPrefix("/") ? cert : fixture("\(cert).pem")
        let key = cert.hasPrefix("/") ? String(cert.dropLast(4)) + ".key" : fixture("\(cert).key")
        let smime = try openssl(
            ["cms", "-sign", "-signer", certificate, "-inkey", key, "-md", "sha256", "-in", input]
                + (detached ? [] : ["-nodetach"]) + options
        ).expect(0).out
        return header + smime
    }

    static let aliceHeader =
        "From: Alice <alice@example.com>\r\nTo: bob@partner.example\r\nSubject: invoice\r\n"
        + "Message-ID: <m1@example.com>\r\n"

    func header(from: String, extra: String = "") -> String {
        "From: \(from)\r\n\(extra)To: bob@partner.example\r\nSubject: invoice\r\nMessage-ID: <m1@example.com>\r\n"
    }

    // MARK: Item 2: AES-GCM tags (RFC 5084 §3.2)

    /// An AuthEnvelopedData for bob made by openssl (16-byte tag).
    func gcmMessage() throws -> String {
        let input = try save(Self.content, "gcm-content.txt")
        let smime = try openssl(["cms", "-encrypt", "-aes-256-gcm", "-in", input, fixture("bob.pem")]).expect(0).out
        return Self.aliceHeader + smime
    }

    func testGCMTagsShorterThan12BytesArePermanentErrors() throws {
        let genuine = try gcmMessage()
        for length in [16, 12] {
            let message = length == 16 ? genuine : try craft(["gcm-tag", "\(length)"], genuine)
            let delivery = try incoming(message)
            XCTAssertEqual(delivery.outcome, "decrypted", "\(length)-byte tag: \(delivery.reason ?? "")")
            XCTAssertTrue(delivery.message.contains("Pay invoice 42"), "\(length)")
            let out = try smimegate(["decrypt", "-"], input: Array(message.utf8)).expect(0)
            XCTAssertTrue(out.out.contains("Pay invoice 42"))
        }
        for length in [8, 4, 1] {
            let forged = try craft(["gcm-tag", "\(length)"], genuine)
            let delivery = try incoming(forged)
            XCTAssertEqual(delivery.outcome, "unverified", "\(length)")
            XCTAssertTrue(
                delivery.result.contains("smime=permerror (")
                    && delivery.result.contains("authentication tag too short"),
                "\(length): \(delivery.result)")
            XCTAssertFalse(delivery.message.contains("Pay invoice 42"), "nothing decrypted with a \(length)-byte tag")
            let refused = try smimegate(["decrypt", "-"], input: Array(forged.utf8)).expect(1)
            XCTAssertTrue(refused.stderr.contains("authentication tag too short"), refused.stderr)
        }
        // A 16-byte ICVlen with an 8-byte tag is no better.
        let mismatched = try incoming(try craft(["gcm-tag", "8", "16"], genuine))
        XCTAssertTrue(mismatched.result.contains("smime=permerror"), mismatched.result)
    }

    func testAFailedGCMTagCheckSaysSo() throws {
        let forged = try craft(["gcm-flip"], try gcmMessage())
        let delivery = try incoming(forged)
        XCTAssertEqual(delivery.outcome, "unverified")
        XCTAssertTrue(delivery.result.contains("smime=permerror"), delivery.result)
        XCTAssertTrue(delivery.result.contains("authentication tag check failed"), delivery.result)
        XCTAssertFalse(delivery.result.contains("private key does not decrypt"), delivery.result)
        let refused = try smimegate(["decrypt", "-"], input: Array(forged.utf8)).expect(1)
        XCTAssertTrue(refused.stderr.contains("authentication tag check failed"), refused.stderr)
    }

    // MARK: Item 4: CMS strictness (RFC 5652 §5.2, §11.1; RFC 8551 §3.5.3)

    func testDetachedSignatureCarryingEContentIsAPermanentError() throws {
        let genuine = try signed(Self.aliceHeader, detached: true)
        XCTAssertEqual(try incoming(genuine).outcome, "verified")
        let forged = try craft(["add-econtent", "Content-Type: text/plain\r\n\r\nPay to account 666.\r\n"], genuine)
        for flags in [[], ["--signature", "keep"]] {
            let delivery = try incoming(forged, flags)
            XCTAssertEqual(delivery.outcome, "unverified", "\(flags)")
            XCTAssertTrue(delivery.result.contains("smime=permerror"), delivery.result)
            XCTAssertTrue(delivery.result.contains("detached signature carries content"), delivery.result)
        }
        let refused = try smimegate(["verify", "-"], input: Array(forged.utf8)).expect(1)
        XCTAssertTrue(refused.stderr.contains("detached signature carries content"), refused.stderr)
    }

    func testEContentTypeOtherThanDataIsAPermanentError() throws {
        XCTAssertEqual(try incoming(try signed(Self.aliceHeader)).outcome, "verified")
        let types = ["1.2.840.113549.1.9.16.1.4", "1.2.840.113549.1.9.16.1.1", "1.3.6.1.4.1.99999.1"]
        for type in types {  // TSTInfo, receipt, a private OID: genuinely signed with that type
            let message = try signed(Self.aliceHeader, options: ["-econtent_type", type])
            let delivery = try incoming(message)
            XCTAssertEqual(delivery.outcome, "unverified", type)
            XCTAssertTrue(delivery.result.contains("smime=permerror"), delivery.result)
            XCTAssertTrue(delivery.result.contains("eContentType"), delivery.result)
            try smimegate(["verify", "-"], input: Array(message.utf8)).expect(1)
        }
    }

    func testContentTypeAttributeDifferentFromEContentTypeIsAPermanentError() throws {
        // Signed as a private type; the attacker relabels the (unsigned) eContentType as id-data.
        let signedAsOther = try signed(Self.aliceHeader, options: ["-econtent_type", "1.3.6.1.4.1.99999.1"])
        let forged = try craft(["set-econtent-type", "data"], signedAsOther)
        try openssl([
            "cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try save(forged, "f.eml"), "-out", "/dev/null",
        ])
        .expect(0)  // OpenSSL itself accepts it
        let delivery = try incoming(forged)
        XCTAssertEqual(delivery.outcome, "unverified")
        XCTAssertTrue(delivery.result.contains("smime=permerror"), delivery.result)
        XCTAssertTrue(delivery.result.contains("contentType attribute"), delivery.result)
        // The same relabelling of a genuine id-data signature changes nothing.
        let relabelled = try craft(["set-econtent-type", "data"], try signed(Self.aliceHeader))
        XCTAssertEqual(try incoming(relabelled).outcome, "verified")
    }

    // MARK: Item 5: identity strictness (RFC 5322 §3.6.2, RFC 8550 §3)

    func testFromMustBeExactlyOneMailboxWithoutAForeignAddressInItsName() throws {
        let genuine = [
            "Alice <alice@example.com>", "alice@example.com", "\"Alice Example\" <alice@example.com>",
            "\"alice@example.com\" <alice@example.com>", "=?utf-8?q?Alice_M=C3=BCller?= <alice@example.com>",
            "alice@example.com (Alice)",
        ]
        for from in genuine {
            let delivery = try incoming(try signed(header(from: from)))
            XCTAssertEqual(delivery.outcome, "verified", "\(from): \(delivery.reason ?? "")")
            try smimegate(["verify", "-"], input: Array(try signed(header(from: from)).utf8)).expect(0)
        }
        let attacks = [
            ("alice@example.com\r\nFrom: ceo@example.org", "From fields"),
            ("alice@example.com, ceo@example.org", "mailboxes"),
            ("ceo@example.org, alice@example.com", "mailboxes"),
            ("Board: alice@example.com;", "group"),
            ("<@relay.example.org:alice@example.com>", "route"),
            ("\"ceo@example.org\" <alice@example.com>", "ceo@example.org"),
            ("ceo@example.org <alice@example.com>", "ceo@example.org"),
            ("=?utf-8?q?ceo=40example=2Eorg?= <alice@example.com>", "ceo@example.org"),
            ("=?utf-8?b?Y2VvQGV4YW1wbGUub3Jn?= <alice@example.com>", "ceo@example.org"),
            ("alice@example.com (ceo@example.org)", "ceo@example.org"),
        ]
        for (from, why) in attacks {
            let message = try signed(header(from: from))
            let delivery = try incoming(message)
            XCTAssertEqual(delivery.outcome, "unverified", from)
            XCTAssertTrue(delivery.result.contains("smime=fail ("), "\(from): \(delivery.result)")
            XCTAssertTrue(delivery.result.contains(why), "\(from): \(delivery.result)")
            let refused = try smimegate(["verify", "-"], input: Array(message.utf8)).expect(1)
            XCTAssertTrue(refused.stderr.contains(why), "\(from): \(refused.stderr)")
        }
    }

    /// Adversarial tests F5 and F8: a display name in a charset we cannot decode fails; a quoted
    /// local part needing no quotes, and an "@" forming no address, are genuine mail.
    func testUndecodableDisplayNamesFailAndHarmlessQuotingPasses() throws {
        for from in ["\"alice\"@example.com", "\"Alice @ Example\" <alice@example.com>"] {
            let message = try signed(header(from: from))
            let delivery = try incoming(message)
            XCTAssertEqual(delivery.outcome, "verified", "\(from): \(delivery.reason ?? "")")
            XCTAssertTrue(delivery.result.hasSuffix("body.smime-identifier=alice@example.com"), delivery.result)
            try smimegate(["verify", "-"], input: Array(message.utf8)).expect(0)
        }
        for from in ["=?utf-7?q?ceo+AEA-example.org?= <alice@example.com>", "=?x-unknown?q?ceo?= <alice@example.com>"] {
            let message = try signed(header(from: from))
            let delivery = try incoming(message)
            XCTAssertEqual(delivery.outcome, "unverified", from)
            XCTAssertTrue(delivery.result.contains("smime=fail ("), "\(from): \(delivery.result)")
            XCTAssertTrue(delivery.result.contains("undecodable charset"), "\(from): \(delivery.result)")
            let refused = try smimegate(["verify", "-"], input: Array(message.utf8)).expect(1)
            XCTAssertTrue(refused.stderr.contains("undecodable charset"), refused.stderr)
        }
    }

    /// Adversarial test F6: From is covered by any valid, trusted signer, not only the first;
    /// a signer that is not trusted covers nothing.
    func testFromCoveredByAnyTrustedSignerOfSeveral() throws {
        let dan = ["-signer", fixture("dan.pem"), "-inkey", fixture("dan.key")]
        for from in ["alice@example.com", "Dan <dan@partner.example>"] {
            let message = try signed(header(from: from), options: dan)
            let delivery = try incoming(message)
            XCTAssertEqual(delivery.outcome, "verified", "\(from): \(delivery.reason ?? "")")
            try smimegate(["verify", "-"], input: Array(message.utf8)).expect(0)
        }
        let neither = try incoming(try signed(header(from: "ceo@example.org"), options: dan))
        XCTAssertEqual(neither.outcome, "unverified")
        XCTAssertTrue(neither.result.contains("From address ceo@example.org is not covered by"), neither.result)
        // A self-signed certificate for mallory beside alice's: From mallory is not covered.
        let mallory = path("mallory")
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", mallory + ".key", "-out", mallory + ".pem",
            "-subj", "/CN=Mallory", "-days", "30", "-addext", "subjectAltName=email:mallory@example.org",
            "-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=emailProtection",
        ]).expect(0)
        let untrusted = ["-signer", mallory + ".pem", "-inkey", mallory + ".key"]
        let forged = try signed(header(from: "mallory@example.org"), options: untrusted)
        XCTAssertEqual(try incoming(forged).outcome, "unverified")
        try smimegate(["verify", "-"], input: Array(forged.utf8)).expect(1)
        XCTAssertEqual(
            try incoming(try signed(header(from: "alice@example.com"), options: untrusted)).outcome, "verified")
    }

    func testSenderCoveredBySignerPassesOnlyWithAcceptSenderMatch() throws {
        let message = try signed(header(from: "ceo@example.org", extra: "Sender: alice@example.com\r\n"))
        let strict = try incoming(message)
        XCTAssertEqual(strict.outcome, "unverified")
        XCTAssertTrue(strict.result.contains("smime=fail (From address ceo@example.org is not covered"), strict.result)
        try smimegate(["verify", "-"], input: Array(message.utf8)).expect(1)
        let lax = try incoming(message, ["--accept-sender-match"])
        XCTAssertEqual(lax.outcome, "verified", lax.reason ?? "")
        XCTAssertTrue(lax.result.contains("smime=pass body.smime-identifier=alice@example.com"), lax.result)
        try smimegate(["verify", "--accept-sender-match", "-"], input: Array(message.utf8)).expect(0)
        // A Sender the signer does not cover is no help, even with the option.
        let other = try signed(header(from: "ceo@example.org", extra: "Sender: eve@example.org\r\n"))
        XCTAssertEqual(try incoming(other, ["--accept-sender-match"]).outcome, "unverified")
    }

    // MARK: Item 6: algorithm floor (RFC 8551 §2.5.1, OpenSSL security level 2)

    /// A certificate for weak@example.com from the test CA with an RSA key of `bits`,
    /// signed by the CA with `digest`; returns the PEM path (the key sits beside it).
    func weakCertificate(bits: Int, digest: String) throws -> String {
        let name = path("weak-\(bits)-\(digest)")
        let ext = try save(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
                + "extendedKeyUsage=emailProtection\nsubjectAltName=email:weak@example.com\n", "weak-ext.cnf")
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:\(bits)", "-out", name + ".key"])
            .expect(0)
        try openssl([
            "req", "-new", "-key", name + ".key", "-subj", "/CN=Weak \(bits) \(digest)", "-out", name + ".csr",
        ])
        .expect(0)
        try openssl([
            "x509", "-req", "-in", name + ".csr", "-CA", fixture("ca.pem"), "-CAkey", fixture("ca.key"),
            "-set_serial", "\(bits)\(digest.count)", "-days", "3650", "-\(digest)", "-extfile", ext, "-out",
            name + ".pem",
        ]).expect(0)
        return name + ".pem"
    }

    func testWeakSignerKeysAndCertificateSignaturesFailUnlessAllowed() throws {
        let cases = [
            (512, "sha256", "RSA-512 key"), (1024, "sha256", "RSA-1024 key"), (2048, "md5", "md5"),
            (2048, "sha1", "sha1"), (2000, "sha256", "RSA-2000 key"), (2047, "sha256", "RSA-2047 key"),
        ]
        for (bits, digest, weakness) in cases {
            let certificate = try weakCertificate(bits: bits, digest: digest)
            let message = try signed(header(from: "weak@example.com"), cert: certificate)
            let strict = try incoming(message)
            XCTAssertEqual(strict.outcome, "unverified", weakness)
            XCTAssertTrue(strict.result.contains("smime=fail ("), strict.result)
            XCTAssertTrue(strict.result.contains(weakness), "\(weakness): \(strict.result)")
            let refused = try smimegate(["verify", "-"], input: Array(message.utf8)).expect(1)
            XCTAssertTrue(refused.stderr.contains(weakness), refused.stderr)

            let archive = try incoming(message, ["--allow-weak"])
            XCTAssertEqual(archive.outcome, "verified", "\(weakness): \(archive.reason ?? "")")
            XCTAssertTrue(archive.result.contains("smime=pass (weak algorithms accepted: "), archive.result)
            XCTAssertTrue(archive.result.contains(weakness), archive.result)
            XCTAssertTrue(archive.result.hasSuffix("body.smime-identifier=weak@example.com"), archive.result)
            let allowed = try smimegate(["verify", "--allow-weak", "-"], input: Array(message.utf8)).expect(0)
            XCTAssertTrue(allowed.stderr.contains("weak algorithms accepted"), allowed.stderr)
        }
        // The genuine shape: a 2048-bit key the CA signed with SHA-256, and an EC P-256 key.
        let strong = try weakCertificate(bits: 2048, digest: "sha256")
        let genuine = try incoming(try signed(header(from: "weak@example.com"), cert: strong))
        XCTAssertEqual(genuine.outcome, "verified", genuine.reason ?? "")
        XCTAssertTrue(genuine.result.hasSuffix("smime=pass body.smime-identifier=weak@example.com"), genuine.result)
        let carol = try incoming(try signed(header(from: "carol@partner.example"), cert: "carol-ec"))
        XCTAssertEqual(carol.outcome, "verified", carol.reason ?? "")
    }
}
