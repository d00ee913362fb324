import Foundation
import TestSupport
import XCTest

/// Attacks on the archive features (issue 13), made at test time by real peers on the archive PKI of
/// Tests/peers/archive_pki.sh: the openssl command line, Tests/peers/archive_attacks.py (pyca/cryptography and
/// asn1crypto: certificates, RFC 3161 tokens, an added SignerInfo, re-signing with openssl) and
/// Tests/peers/attacks.py (one flipped bit of CBC ciphertext).
final class ArchiveAttackTests: CLITestCase {
    struct Record: Decodable {
        struct File: Decodable { let file: String }
        let input: String
        let outcome: String
        let outputs: [File]
        let reason: String?
        let warning: String?
        let authenticated: Bool?
        let validationTimeSource: String?
    }

    static let url = "http://tracker.attacker.example/"

    /// HTML whose remote references a mail client would load.
    static let html = """
        Content-Type: text/html; charset=us-ascii\r
        Content-Transfer-Encoding: 7bit\r
        \r
        <html><body><p>Please find the figures for the second quarter below; call me if anything is unclear.</p>\
        <img src="\(url)p.png"><a href="\(url)">figures</a></body></html>\r

        """

    static let mallory = "Mallory <mallory@evil.example>"

    /// Runs Tests/peers/archive_attacks.py.
    func peer(_ arguments: [String]) throws {
        let script = Paths.packageRoot.appendingPathComponent("Tests/peers/archive_attacks.py").path
        try runProcess(Paths.python, [script] + arguments).expect(0)
    }

    /// DIR/name: `file` (an S/MIME message) with one bit of its CBC ciphertext block `block` flipped, which
    /// turns plaintext block `block` into 16 random bytes (Tests/peers/attacks.py; no key needed).
    func flipped(_ file: String, block: Int, as name: String) throws -> String {
        let script = Paths.packageRoot.appendingPathComponent("Tests/peers/attacks.py").path
        let out = try runProcess(
            Paths.python, [script, "flip-bit", String(block)], input: bytes(of: URL(fileURLWithPath: file))
        ).expect(0)
        return try save(out.stdout, name)
    }

    /// The CBC block after the one where `text` starts in `file`, the plaintext: one inside `text`'s line.
    func block(after text: String, in file: String) -> Int {
        string(bytes(of: URL(fileURLWithPath: file))).components(separatedBy: text)[0].utf8.count / 16 + 1
    }

    /// DIR/name: `file` encrypted by openssl to the organisation certificate with AES-256-CBC.
    func encrypted(_ file: String, as name: String) throws -> String {
        try openssl(["cms", "-encrypt", "-aes256", "-in", file, "-out", path(name), path("org.pem")]).expect(0)
        return path(name)
    }

    /// DIR/name: `file`'s entity signed by Mallory, whom the archive CA vouches for, as her own mail.
    func wrapped(_ file: String, pki: String, subject: String, as name: String) throws -> String {
        try peer([
            "wrap", file, path(name), "--cert", pki + "/mallory.pem", "--key", pki + "/mallory.key", "--from",
            Self.mallory, "--subject", subject,
        ])
        return path(name)
    }

    /// `text` with CRLF line ends.
    func crlf(_ text: String) -> String {
        text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n", with: "\r\n")
    }

    /// `process incoming` over `files` (name in the maildir → path): each record, by that name, with the text
    /// delivered.
    func incoming(_ files: [String: String], _ extra: [String] = []) throws -> [String: (record: Record, text: String)]
    {
        let inbox = try maildir("in-\(UUID().uuidString)", [:])
        for (name, file) in files { try FileManager.default.copyItem(atPath: file, toPath: "\(inbox)/new/\(name)") }
        let out = path("out-\(UUID().uuidString)")
        try smimegate(["process", "incoming", inbox, "--out", out, "--authserv-id", "gw.test"] + extra).expect(0)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var results: [String: (record: Record, text: String)] = [:]
        for line in string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n") {
            let record = try decoder.decode(Record.self, from: Data(line.utf8))
            let text = string(bytes(of: URL(fileURLWithPath: out + "/" + record.outputs[0].file)))
            results[URL(fileURLWithPath: record.input).lastPathComponent] = (record, text)
        }
        XCTAssertEqual(results.count, files.count)
        return results
    }

    /// F1: Mallory passes CBC ciphertext addressed to us on under her own valid signature. A signature around
    /// ciphertext does not cover its plaintext, which she may have changed: the result passes but says so, the
    /// manifest does not call it authenticated, and remote references are neutralised; plaintext that looks
    /// tampered with is not delivered. (Before: verified and authenticated, the HTML as decrypted; the garbled
    /// one too.)
    func testSignatureAroundCBCCiphertextDoesNotCoverItsPlaintext() throws {
        let pki = try archivePKI()
        try peer(["issue", pki, "mallory", "--kind", "signer", "--email", "mallory@evil.example"])
        let entity = try save(Self.html, "html.txt")
        let cbc = try encrypted(entity, as: "html.p7m")
        let garbled = try flipped(cbc, block: block(after: "Please find", in: entity), as: "garbled.p7m")
        let results = try incoming([
            "html": try wrapped(cbc, pki: pki, subject: "Figures", as: "html.eml"),
            "garbled": try wrapped(garbled, pki: pki, subject: "Figures again", as: "garbled.eml"),
        ])
        // Mallory's signature is sound: openssl verifies it.
        try openssl(["cms", "-verify", "-CAfile", pki + "/ca.pem", "-in", path("html.eml"), "-out", "/dev/null"])
            .expect(0)

        let (record, text) = try XCTUnwrap(results["html"])
        XCTAssertEqual(record.outcome, "verified", record.reason ?? "")
        XCTAssertEqual(record.authenticated, false)
        XCTAssertTrue(text.hasPrefix("Authentication-Results: gw.test; smime=pass ("), text)
        XCTAssertTrue(
            text.contains(
                "content decrypted from AES-256-CBC outside the signature has no integrity protection) "
                    + "body.smime-identifier=mallory@evil.example"), text)
        XCTAssertEqual(
            record.warning,
            "neutralised 2 remote reference(s) in HTML content decrypted from AES-256-CBC outside the signature "
                + "has no integrity protection")
        XCTAssertTrue(text.contains(##"<img src="#blocked"><a href="#blocked">figures</a>"##), text)
        XCTAssertFalse(text.contains(Self.url), text)
        XCTAssertTrue(text.contains("Please find the figures"), "the content is delivered decrypted")

        let (tampered, received) = try XCTUnwrap(results["garbled"])
        XCTAssertEqual(tampered.outcome, "unverified")
        XCTAssertEqual(tampered.reason, "decrypted content is malformed: possible ciphertext tampering")
        XCTAssertEqual(tampered.authenticated, false)
        XCTAssertTrue(received.hasPrefix("Authentication-Results: gw.test; smime=permerror ("), received)
        XCTAssertTrue(received.contains("smime-type=enveloped-data"), "delivered as received: still encrypted")
        XCTAssertFalse(received.contains(Self.url) || received.contains("Please find"), received)
    }

    /// F1, the inner signature failing: Alice's signature over the HTML fails (her certificate expired in 2017),
    /// and Mallory's valid signature around the CBC ciphertext vouches for nothing inside. The decrypted content
    /// is delivered with its remote references neutralised, or as received when its signed content is garbled.
    /// (Before: delivered decrypted, the HTML's references live, the garbled content too.)
    func testFailingSignatureInsideWrappedCBCReleasesNoRemoteReferences() throws {
        let pki = try archivePKI()
        try peer(["issue", pki, "mallory", "--kind", "signer", "--email", "mallory@evil.example"])
        let signed = try openssl([
            "cms", "-sign", "-md", "sha256", "-signer", pki + "/partner.pem", "-inkey", pki + "/partner.key", "-in",
            try save(Self.html, "html.txt"),
        ]).expect(0).out
        let inner = try save(
            crlf("From: Alice <alice@partner.example>\nTo: bob@example.com\nSubject: Figures\n" + signed), "inner.eml")
        let cbc = try encrypted(inner, as: "inner.p7m")
        let garbled = try flipped(cbc, block: block(after: "Please find", in: inner), as: "garbled.p7m")
        let results = try incoming([
            "expired": try wrapped(cbc, pki: pki, subject: "Signed figures", as: "expired.eml"),
            "garbled": try wrapped(garbled, pki: pki, subject: "Signed figures again", as: "garbled.eml"),
        ])

        let (record, text) = try XCTUnwrap(results["expired"])
        XCTAssertEqual(record.outcome, "unverified")
        XCTAssertEqual(record.reason, "signer certificate expired on 2017-01-01 00:00:00 UTC")
        XCTAssertEqual(record.authenticated, false)
        XCTAssertEqual(
            record.warning,
            "neutralised 2 remote reference(s) in HTML decrypted without integrity protection (AES-256-CBC) "
                + "and not covered by a valid signature")
        XCTAssertTrue(text.hasPrefix("Authentication-Results: gw.test; smime=fail (signer certificate expired"), text)
        XCTAssertTrue(text.contains(##"<img src="#blocked"><a href="#blocked">figures</a>"##), text)
        XCTAssertFalse(text.contains(Self.url), text)
        XCTAssertTrue(text.contains("Please find the figures"), "delivered decrypted")
        XCTAssertFalse(text.contains("enveloped-data"), text)

        let (tampered, received) = try XCTUnwrap(results["garbled"])
        XCTAssertEqual(tampered.outcome, "unverified")
        XCTAssertTrue(tampered.reason?.hasPrefix("bad signature") == true, tampered.reason ?? "")
        XCTAssertTrue(received.contains("; decrypted content is malformed: possible ciphertext tampering: "), received)
        XCTAssertTrue(received.contains("; delivered as received)"), received)
        XCTAssertTrue(received.contains("smime-type=enveloped-data"), "delivered as received: still encrypted")
        XCTAssertFalse(received.contains(Self.url) || received.contains("Please find"), received)
    }

    /// F2: one flipped bit of the archive's CBC ciphertext garbles the partner's signed text; the signature then
    /// fails, and the plaintext it no longer vouches for is checked: it looks tampered with, so the message is
    /// delivered as received, still encrypted. (Before: the garbled plaintext, "delivered decrypted".) The
    /// genuine message still verifies, authenticated.
    func testBitFlippedArchiveIsDeliveredAsReceived() throws {
        let pki = try archivePKI()
        // The plaintext is signed-2016.eml byte for byte (archive_pki.sh encrypts it).
        let inText = block(after: "quarterly report", in: pki + "/signed-2016.eml")
        let tampered = try flipped(pki + "/encrypted-2016.eml", block: inText, as: "flipped.eml")
        let results = try incoming(
            ["flipped": tampered, "genuine": pki + "/encrypted-2016.eml"], ["--validation-time", "signing-time"])

        let (record, text) = try XCTUnwrap(results["flipped"])
        XCTAssertEqual(record.outcome, "unverified")
        XCTAssertTrue(record.reason?.hasPrefix("bad signature") == true, record.reason ?? "")
        XCTAssertEqual(record.authenticated, false)
        XCTAssertTrue(text.hasPrefix("Authentication-Results: gw.test; smime=fail (bad signature"), text)
        XCTAssertTrue(text.contains("; decrypted content is malformed: possible ciphertext tampering: "), text)
        XCTAssertTrue(text.contains("; delivered as received)"), text)
        XCTAssertFalse(text.contains("delivered decrypted"), text)
        XCTAssertTrue(text.contains("smime-type=enveloped-data"), text)
        XCTAssertEqual(bodyText(Array(text.utf8)), bodyText(read("flipped.eml")), "the ciphertext as received")

        let (genuine, clear) = try XCTUnwrap(results["genuine"])
        XCTAssertEqual(genuine.outcome, "verified", genuine.reason ?? "")
        XCTAssertEqual(genuine.authenticated, true)
        XCTAssertEqual(genuine.validationTimeSource, "signing-time")
        XCTAssertFalse(clear.contains("outside the signature"), clear)
        XCTAssertTrue(clear.contains("quarterly report for Q2 2016"), clear)
    }

    /// F3: anyone can add a SignerInfo of her own, with the signingTime she likes, to a signed message. With
    /// --validation-time signing-time, a SignedData with several SignerInfos is not verified: each claims its
    /// own time. (Before: the attacker's SignerInfo came first, so its 2016 signingTime judged Alice's
    /// signature of 2018, made after her certificate expired, and both messages verified.)
    func testSigningTimeValidationRefusesSeveralSigners() throws {
        let pki = try archivePKI()
        try peer(["issue", pki, "attacker", "--kind", "signer", "--email", "attacker@evil.example", "--self-signed"])
        var files: [String: String] = [:]
        for name in ["signed-2018", "signed-2016"] {
            try peer([
                "cosign", "\(pki)/\(name).eml", path(name), "--cert", pki + "/attacker.pem", "--key",
                pki + "/attacker.key", "--signing-time", "2016-06-01 12:00:00",
            ])
            // Both signatures are sound: openssl verifies them (trust aside).
            try openssl(["cms", "-verify", "-noverify", "-in", path(name), "-out", "/dev/null"]).expect(0)
            files[name] = path(name)
        }
        let results = try incoming(files, ["--validation-time", "signing-time"])
        for name in ["signed-2018", "signed-2016"] {
            let (record, text) = try XCTUnwrap(results[name], name)
            XCTAssertEqual(record.outcome, "unverified", name)
            XCTAssertEqual(record.reason, "several signers: signing-time validation takes one", name)
            XCTAssertNil(record.validationTimeSource, name)
            XCTAssertTrue(
                text.hasPrefix(
                    "Authentication-Results: gw.test; smime=fail (several signers: signing-time validation takes one"),
                text)
        }
    }

    /// RFC 3161 §2.3: a time-stamping authority's certificate has a critical extendedKeyUsage with
    /// id-kp-timeStamping as its only purpose, is no CA, and has a key for signatures; and a token signed with
    /// SHA-1 proves nothing. Such tokens on Alice's signature of 2018 are not used, and its signingTime, after
    /// her certificate expired, decides. (Before: all verified, at the token's time.) The same token by the
    /// archive's TSA, openssl-verified, still wins.
    func testTimestampTokensFromUnfitAuthoritiesAreNotUsed() throws {
        let pki = try archivePKI()
        var files: [String: String] = [:]
        func stamp(_ name: String, by tsa: String, digest: String = "sha256") throws {
            try peer([
                "token", pki + "/signed-2018.eml", path(name), "--cert", "\(pki)/\(tsa).pem", "--key",
                "\(pki)/\(tsa).key", "--at", "2016-06-01 12:05:00", "--digest", digest,
            ])
            files[name] = path(name)
        }
        let unfit = ["tsa-extra-purpose", "tsa-non-critical", "tsa-ca", "tsa-key-encipherment"]
        for kind in unfit {
            try peer(["issue", pki, kind, "--kind", kind])
            try stamp(kind, by: kind)
        }
        try stamp("control", by: "tsa")
        try stamp("sha1", by: "tsa", digest: "sha1")
        // openssl ts verifies both tokens of the archive's TSA: the SHA-1 one fails on its digest alone.
        for name in ["control", "sha1"] {
            try openssl([
                "ts", "-verify", "-token_in", "-in", path(name) + ".token.der", "-data", path(name) + ".sigvalue.bin",
                "-CAfile", pki + "/ca.pem",
            ]).expect(0)
        }
        let results = try incoming(files, ["--validation-time", "signing-time"])
        let control = try XCTUnwrap(results["control"]).record
        XCTAssertEqual(control.outcome, "verified", control.reason ?? "")
        XCTAssertEqual(control.validationTimeSource, "timestamp")

        let signingTime =
            "signingTime 2018-03-01T12:00:00Z lies outside the signer certificate's validity "
            + "(2016-01-01T00:00:00Z to 2017-01-01T00:00:00Z); time-stamp token not used: "
        for kind in unfit {
            let record = try XCTUnwrap(results[kind], kind).record
            XCTAssertEqual(record.outcome, "unverified", kind)
            XCTAssertEqual(
                record.reason, signingTime + "CN=\(kind) is not a time-stamping authority (extendedKeyUsage)", kind)
            XCTAssertNil(record.validationTimeSource, kind)
        }
        let sha1 = try XCTUnwrap(results["sha1"]).record
        XCTAssertEqual(sha1.outcome, "unverified")
        XCTAssertEqual(sha1.reason, signingTime + "the time-stamp token is signed with SHA1")
    }

    /// --validation-time DATE takes only what it says: no 30 February, no 24:00, ASCII digits, no date before
    /// 1970 (exit 2); and a DATE before the signature's signingTime fails. (Before: each was read leniently, as
    /// 1 March, 2 June, the digits they look like, and the signature verified at a time before it was made;
    /// the dates before 1970 failed on the certificate, exit 1.)
    func testValidationTimeArgumentIsStrict() throws {
        let pki = try archivePKI()
        let message = pki + "/signed-2016.eml"
        for (index, date) in ["2016-07-01", "2016-06-01T12:00:00Z"].enumerated() {
            try smimegate(["verify", "--validation-time", date, message, "-o", path("v\(index)")]).expect(0)
        }
        // Full-width digits, and an Arabic-Indic one at the end.
        let refused = [
            "2016-02-30", "2016-06-01T24:00:00Z", "２０１６-０６-０１", "2016-06-0١", "1969-12-31",
            "1969-12-31T23:59:59Z",
        ]
        for date in refused {
            let run = try smimegate(["verify", "--validation-time", date, message])
            XCTAssertEqual(run.status, 2, "\(date): \(run.stderr)")
            XCTAssertTrue(run.stderr.contains("--validation-time"), run.stderr)
        }
        let inbox = try maildir("inbox", ["1": string(read("archive/signed-2016.eml"))])
        let process = try smimegate([
            "process", "incoming", inbox, "--out", path("out"), "--validation-time", "2016-02-30",
        ])
        XCTAssertEqual(process.status, 2, process.stderr)

        let early = [("2016-05-01", "2016-05-01T00:00:00Z"), ("2016-06-01T11:00:00Z", "2016-06-01T11:00:00Z")]
        for (date, shown) in early {
            let run = try smimegate(["verify", "--validation-time", date, message])
            XCTAssertEqual(run.status, 1, "\(date): \(run.stderr)")
            XCTAssertTrue(
                run.stderr.contains("signingTime 2016-06-01T12:00:00Z lies after the validation time \(shown)"),
                run.stderr)
        }
    }
}
