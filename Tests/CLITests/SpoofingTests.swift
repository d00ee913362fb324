import Foundation
import TestSupport
import XCTest

/// Issue 9, items 1, 3 and 7, attacked with real peers (the openssl command line,
/// and Tests/peers/attacks.py for ciphertext surgery): each attack next to a
/// genuine message of the same shape that must still go through.
final class SpoofingTests: CLITestCase {
    typealias Record = IncomingRecord

    static let ours = "mx.example.com"

    func header(_ id: String, from: String = "alice@example.com") -> String {
        "From: \(from)\r\nTo: bob@partner.example\r\nSubject: \(id)\r\nMessage-ID: <\(id)@example.com>\r\n"
    }

    func opensslSign(_ entity: String, detached: Bool = false) throws -> String {
        var arguments = ["cms", "-sign", "-signer", fixture("alice.pem"), "-inkey", fixture("alice.key")]
        if !detached { arguments.append("-nodetach") }
        return try openssl(arguments, input: Array(entity.utf8)).expect(0).out
    }

    func opensslEncrypt(_ entity: String) throws -> String {
        try openssl(["cms", "-encrypt", "-aes256", fixture("bob.pem")], input: Array(entity.utf8)).expect(0).out
    }

    static let forgedFields = [
        "Authentication-Results: mx.example.com; smime=pass body.smime-identifier=alice@example.com\r\n",
        "AUTHENTICATION-RESULTS: MX.EXAMPLE.COM; smime=pass\r\n",
        "Authentication-Results: (trust me) mx.example.com (really) 1; smime=pass\r\n",
        "Authentication-Results:\r\n mx.example.com;\r\n\tsmime=pass\r\n",
    ]

    // MARK: Item 1: forged results

    func testForgedResultsWithOurAuthservIDAreRemovedWhateverHappensNext() throws {
        let other = "Authentication-Results: relay.example.net; spf=pass smtp.mailfrom=example.com\r\n"
        let body = "Content-Type: text/plain\r\n\r\nhello\r\n"
        let plain = header("plain") + other + body
        let forgedPlain =
            Self.forgedFields[0] + header("forged-plain") + Self.forgedFields[1] + other
            + Self.forgedFields[2]
            + body.replacingOccurrences(of: "\r\n\r\n", with: "\r\n" + Self.forgedFields[3] + "\r\n")
        let signed = header("signed") + (try opensslSign("Content-Type: text/plain\r\n\r\nsigned\r\n", detached: true))
        let forgedBadSig =
            Self.forgedFields.joined()
            + (header("forged-bad") + signed.dropFirst(header("signed").count))
            .replacingOccurrences(of: "signed\r\n", with: "Signed\r\n")
        let encrypted = header("encrypted") + (try opensslEncrypt("Content-Type: text/plain\r\n\r\nsecret\r\n"))
        let forgedEncrypted =
            Self.forgedFields[2] + encrypted.replacingOccurrences(of: "<encrypted@", with: "<forged-enc@")
        let results = try deliverIncoming([
            "a": Array(plain.utf8), "b": Array(forgedPlain.utf8), "c": Array(signed.utf8),
            "d": Array(forgedBadSig.utf8),
            "e": Array(encrypted.utf8), "f": Array(forgedEncrypted.utf8),
        ])
        let expected = [
            "plain": "passed", "forged-plain": "passed", "signed": "verified", "forged-bad": "unverified",
            "encrypted": "decrypted", "forged-enc": "decrypted",
        ]
        for (id, outcome) in expected {
            let (record, text) = try XCTUnwrap(results[id], id)
            XCTAssertEqual(record.outcome, outcome, id)
            let ourFields = fields("Authentication-Results", in: text).filter {
                $0.lowercased().contains("mx.example.com")
            }
            XCTAssertEqual(ourFields.count, outcome == "passed" ? 0 : 1, "\(id): \(ourFields)")
            if outcome != "verified" { XCTAssertFalse(text.contains("smime=pass"), id) }
            XCTAssertEqual(record.warning != nil, id.hasPrefix("forged"), id)
        }
        XCTAssertEqual(results["plain"]?.1, plain, "genuine unsigned mail is delivered byte for byte")
        XCTAssertEqual(results["forged-plain"]?.1, header("forged-plain") + other + body)
        XCTAssertTrue(results["forged-bad"]?.1.hasPrefix("Authentication-Results: mx.example.com; smime=fail") == true)
    }

    // MARK: Item 1: inner header fields

    func testInnerFromAndResultsNeverReachTheDeliveredHeader() throws {
        let inner = "Authentication-Results: mx.example.com; smime=pass\r\nFrom: ceo@example.com\r\n"
        let entity = "Content-Type: text/plain; charset=utf-8\r\n\r\nPay the invoice.\r\n"
        var messages: [String: [UInt8]] = [:]
        for (kind, innerFields) in [("genuine", ""), ("attack", inner)] {
            messages["opaque-\(kind)"] = Array(
                (header("opaque-\(kind)") + (try opensslSign(innerFields + entity))).utf8)
            messages["detached-\(kind)"] = Array(
                (header("detached-\(kind)") + (try opensslSign(innerFields + entity, detached: true))).utf8)
            messages["enc-\(kind)"] = Array((header("enc-\(kind)") + (try opensslEncrypt(innerFields + entity))).utf8)
        }
        let results = try deliverIncoming(messages)
        for (id, (record, text)) in results {
            XCTAssertEqual(
                record.outcome, id.hasPrefix("enc") ? "decrypted" : "verified", "\(id): \(record.reason ?? "")")
            XCTAssertEqual(fields("From", in: text), ["From: alice@example.com"], id)
            XCTAssertEqual(fields("Authentication-Results", in: text).count, 1, id)
            XCTAssertFalse(text.contains("ceo@example.com"), id)
            XCTAssertTrue(text.contains("Pay the invoice."), id)
        }
        // Item 7: verify -o and decrypt -o follow the same rules.
        let forged = Array((Self.forgedFields[1]).utf8)
        for id in ["opaque-attack", "detached-attack"] {
            let out = try smimegate(
                ["verify", "--authserv-id", Self.ours, "-o", path("\(id).out"), "-"], input: forged + messages[id]!
            ).expect(0)
            _ = out
            let text = string(read("\(id).out"))
            XCTAssertEqual(fields("From", in: text), ["From: alice@example.com"], id)
            XCTAssertEqual(fields("Authentication-Results", in: text), [], id)
        }
        try smimegate(
            ["decrypt", "--authserv-id", Self.ours, "-o", path("dec.out"), "-"], input: forged + messages["enc-attack"]!
        ).expect(0)
        XCTAssertEqual(fields("From", in: string(read("dec.out"))), ["From: alice@example.com"])
        XCTAssertEqual(fields("Authentication-Results", in: string(read("dec.out"))), [])
    }

    // MARK: Item 3: CBC without integrity

    static let captured = """
        Content-Type: text/html; charset=utf-8\r
        Content-Transfer-Encoding: 8bit\r
        \r
        <html><body><p>The merger code is TIGER-42. Do not forward.</p></body></html>\r

        """

    func attack(_ message: String, _ arguments: [String]) throws -> [UInt8] {
        try runProcess(
            Paths.python, [Paths.packageRoot.appendingPathComponent("Tests/peers/attacks.py").path] + arguments,
            input: Array(message.utf8)
        ).expect(0).stdout
    }

    func testTamperedCBCCiphertextIsNotDeliveredAndGenuineCBCSaysItHasNoIntegrity() throws {
        let genuine = header("genuine") + (try opensslEncrypt(Self.captured))
        // The header up to and including the blank line is what an attacker knows of every such message.
        let prefix = String(Self.captured.prefix { $0 != "<" }).utf8.count
        func renamed(_ id: String) -> String { genuine.replacingOccurrences(of: "<genuine@", with: "<\(id)@") }
        let results = try deliverIncoming([
            "g": Array(genuine.utf8),
            "flip": try attack(renamed("flip"), ["flip-bit", "6"]),
            "iv": try attack(renamed("iv"), ["chosen-iv", #"From: e@evil.x\r\n"#]),
            "efail": try attack(renamed("efail"), ["efail", String(prefix + 16)]),
        ])
        let (record, text) = try XCTUnwrap(results["genuine"])
        XCTAssertEqual(record.outcome, "decrypted")
        XCTAssertEqual(record.authenticated, false)
        XCTAssertTrue(
            text.hasPrefix(
                "Authentication-Results: mx.example.com; "
                    + "smime=neutral (encrypted without integrity protection, AES-256-CBC)"
            ), text)
        XCTAssertTrue(text.contains("TIGER-42"))
        for id in ["flip", "iv", "efail"] {
            let (record, text) = try XCTUnwrap(results[id], id)
            XCTAssertEqual(record.outcome, "unverified", id)
            XCTAssertEqual(record.reason, "decrypted content is malformed: possible ciphertext tampering", id)
            XCTAssertEqual(record.authenticated, false, id)
            XCTAssertTrue(text.hasPrefix("Authentication-Results: mx.example.com; smime=permerror ("), id)
            XCTAssertTrue(text.contains("smime-type=enveloped-data"), "\(id): delivered still encrypted")
            XCTAssertFalse(text.contains("<img") || text.contains("evil"), id)
            XCTAssertEqual(fields("From", in: text), ["From: alice@example.com"], id)
        }
        // decrypt -o refuses the same content.
        let efail = try attack(renamed("efail"), ["efail", String(prefix + 16)])
        let refused = try smimegate(["decrypt", "-o", path("efail.out"), "-"], input: efail).expect(1)
        XCTAssertTrue(refused.stderr.contains("possible ciphertext tampering"), refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("efail.out")))
    }

    func testGCMAndSignedContentAreAuthenticated() throws {
        let entity = "Content-Type: text/plain\r\n\r\nhello\r\n"
        let gcm = try smimegate(
            ["encrypt", "--key", "bob", "--cipher", "aes-256-gcm", "-"], input: Array((header("gcm") + entity).utf8)
        )
        .expect(0).stdout
        let signedInside = header("signed-cbc") + (try opensslEncrypt(try opensslSign(entity)))
        let results = try deliverIncoming(["gcm": gcm, "s": Array(signedInside.utf8)])
        XCTAssertEqual(results["gcm"]?.0.outcome, "decrypted")
        XCTAssertEqual(results["gcm"]?.0.authenticated, true)
        XCTAssertTrue(
            results["gcm"]?.1.hasPrefix("Authentication-Results: mx.example.com; smime=neutral (encrypted, not signed)")
                == true)
        XCTAssertEqual(results["signed-cbc"]?.0.outcome, "verified", results["signed-cbc"]?.0.reason ?? "")
        XCTAssertEqual(results["signed-cbc"]?.0.authenticated, true)
    }

    func testRemoteReferencesInUnauthenticatedHTMLAreNeutralised() throws {
        let html = """
            Content-Type: text/html; charset=utf-8\r
            \r
            <p>Hi</p><img src="https://tracker.example/p.gif"><img src="cid:logo"><a href="//x.example/">x</a>\r

            """
        let cbc = header("cbc") + (try opensslEncrypt(html))
        let gcm = try smimegate(
            ["encrypt", "--key", "bob", "--cipher", "aes-256-gcm", "-"], input: Array((header("gcm") + html).utf8)
        ).expect(0).stdout
        let neutralised = try deliverIncoming(["cbc": Array(cbc.utf8), "gcm": gcm])
        let (record, text) = try XCTUnwrap(neutralised["cbc"])
        XCTAssertEqual(record.outcome, "decrypted")
        XCTAssertTrue(text.contains(##"<img src="#blocked"><img src="cid:logo"><a href="#blocked">"##), text)
        XCTAssertFalse(text.contains("tracker.example") || text.contains("//x.example"), text)
        XCTAssertNotNil(record.warning)
        XCTAssertTrue(
            try XCTUnwrap(neutralised["gcm"]).1.contains("https://tracker.example/p.gif"), "authenticated: kept")
        let kept = try deliverIncoming(["cbc": Array(cbc.utf8)], ["--unauthenticated-html", "keep"])
        XCTAssertTrue(try XCTUnwrap(kept["cbc"]).1.contains("https://tracker.example/p.gif"))
        // decrypt -o: the same rule.
        try smimegate(["decrypt", "-o", path("cbc.out"), "-"], input: Array(cbc.utf8)).expect(0)
        XCTAssertFalse(string(read("cbc.out")).contains("tracker.example"))
        try smimegate(
            ["decrypt", "--unauthenticated-html", "keep", "-o", path("kept.out"), "-"], input: Array(cbc.utf8)
        )
        .expect(0)
        XCTAssertTrue(string(read("kept.out")).contains("tracker.example"))
    }

    func testAmbiguousOrHiddenMarkupInUnauthenticatedContent() throws {
        let dupType = "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n<img src=\"http://a.evil/ct\">\r\n"
        let dupBoundary =
            "Content-Type: multipart/mixed; boundary=\"a\"; boundary=\"b\"\r\n\r\n--a\r\nContent-Type: text/plain\r\n"
            + "\r\n--b\r\nContent-Type: text/html\r\n\r\n<img src=\"http://a.evil/b\">\r\n--b--\r\n--a--\r\n"
        let escaped = "Content-Type: text/html; charset=iso-2022-jp\r\n\r\n<img s\u{1B}(Brc=\"http://a.evil/e\">\r\n"
        let digest =
            "Content-Type: multipart/digest; boundary=\"b\"\r\n\r\n--b\r\n\r\nContent-Type: text/html\r\n\r\n"
            + "<p>SECRET</p><img src=\"http://a.evil/d\">\r\n--b--\r\n"
        let japanese = "Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\u{1B}$B$3$s\u{1B}(B\r\n"
        var messages: [String: [UInt8]] = [:]
        for (id, entity) in [
            ("dup-type", dupType), ("dup-boundary", dupBoundary), ("escaped", escaped), ("digest", digest),
            ("japanese", japanese),
        ] {
            messages[id] = Array((header(id) + (try opensslEncrypt(entity))).utf8)
        }
        let results = try deliverIncoming(messages)
        for id in ["dup-type", "dup-boundary", "escaped"] {
            let (record, text) = try XCTUnwrap(results[id], id)
            XCTAssertEqual(record.outcome, "unverified", id)
            XCTAssertEqual(record.reason, "decrypted content is malformed: possible ciphertext tampering", id)
            XCTAssertFalse(text.contains("a.evil"), id)
        }
        let (record, text) = try XCTUnwrap(results["digest"])
        XCTAssertEqual(record.outcome, "decrypted")
        XCTAssertTrue(text.contains(##"<p>SECRET</p><img src="#blocked">"##), text)
        XCTAssertFalse(text.contains("a.evil"), text)
        XCTAssertEqual(results["japanese"]?.0.outcome, "decrypted", "ISO-2022 text keeps its escapes")
    }
}
