import Foundation
import TestSupport
import XCTest

/// F3, F11 against real peers: OpenSSL's `cms` command line and pyca.
final class EncryptDecryptInteropTests: CLITestCase {
    func testEveryCipherDecryptsWithOpenSSL() throws {
        let input = try save(Self.plainLF, "plain.eml")
        for (cipher, smimeType, printed) in [
            ("aes-256-cbc", "enveloped-data", ":aes-256-cbc"), ("aes-128-cbc", "enveloped-data", ":aes-128-cbc"),
            ("aes-128-gcm", "authEnveloped-data", ":aes-128-gcm"), ("aes-256-gcm", "authEnveloped-data", ":aes-256-gcm"),
        ] {
            let out = path("enc-\(cipher).eml")
            try smimegate(["encrypt", "--to", "bob@partner.example", "--cipher", cipher, input, "-o", out]).expect(0)
            let encrypted = string(read("enc-\(cipher).eml"))
            XCTAssertTrue(encrypted.contains("application/pkcs7-mime; smime-type=\(smimeType); name=\"smime.p7m\""), cipher)
            XCTAssertFalse(encrypted.contains("Hello Bob"), "\(cipher): plaintext leaked")
            XCTAssertTrue(encrypted.hasPrefix("From: Alice <alice@example.com>\nTo: Bob"), "outer fields stay outside, LF kept")
            let structure = try asn1Objects(out)
            XCTAssertTrue(structure.contains(printed), "\(cipher): \(structure)")
            XCTAssertEqual(structure.contains(":id-smime-ct-authEnvelopedData"), smimeType == "authEnveloped-data", cipher)
            XCTAssertEqual(structure.contains(":pkcs7-envelopedData"), smimeType == "enveloped-data", cipher)
            let decrypted = try openssl(["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", out]).expect(
                0)
            XCTAssertEqual(bodyText(decrypted.stdout), bodyText(Array(Self.plainLF.utf8)), cipher)
            XCTAssertTrue(decrypted.out.hasPrefix("Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"))
        }
    }

    func testOAEPDecryptsWithOpenSSL() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["encrypt", "--key", "bob", "--oaep", input, "-o", path("oaep.eml")]).expect(0)
        let structure = try openssl(["cms", "-cmsout", "-print", "-in", path("oaep.eml")]).expect(0).out
        XCTAssertTrue(structure.contains("rsaesOaep"), "RSA-OAEP key transport")
        let decrypted = try openssl([
            "cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", path("oaep.eml"),
        ]).expect(0)
        XCTAssertEqual(bodyText(decrypted.stdout), bodyText(Array(Self.plainLF.utf8)))
    }

    func testECRecipientAndThreeRecipientsDecryptWithOpenSSL() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["encrypt", "--to", "carol@partner.example", input, "-o", path("ec.eml")]).expect(0)
        XCTAssertTrue(
            try openssl(["cms", "-cmsout", "-print", "-in", path("ec.eml")]).out.contains("dhSinglePass-stdDH"), "ECDH key agreement")
        try openssl([
            "cms", "-decrypt", "-recip", fixture("carol-ec.pem"), "-inkey", fixture("carol-ec.key"), "-in", path("ec.eml"), "-out",
            "/dev/null",
        ]).expect(0)

        try smimegate([
            "encrypt", "--to", "bob@partner.example", "--to", "dan@partner.example", "--key", "carol-ec", input, "-o", path("three.eml"),
        ]).expect(0)
        for (cert, key) in [("bob.pem", "bob.key"), ("dan.pem", "dan.key"), ("carol-ec.pem", "carol-ec.key")] {
            let decrypted = try openssl(["cms", "-decrypt", "-recip", fixture(cert), "-inkey", fixture(key), "-in", path("three.eml")])
                .expect(0)
            XCTAssertEqual(bodyText(decrypted.stdout), bodyText(Array(Self.plainLF.utf8)), cert)
        }
        // And our own decrypt finds whichever organisation key fits.
        for name in ["bob", "dan", "carol"] {
            let ours = try smimegate(["decrypt", "--cert", name, path("three.eml")]).expect(0)
            XCTAssertEqual(bodyText(ours.stdout), bodyText(Array(Self.plainLF.utf8)), name)
        }
    }

    func testOpenSSLEnvelopesDecryptWithUs() throws {
        let content = try save("Content-Type: text/plain\r\n\r\nsecret from openssl\r\n", "content.txt")
        for options in [
            ["-aes-256-cbc"], ["-aes-128-cbc"], ["-aes-128-gcm"], ["-aes-256-gcm"],
            ["-aes-256-cbc", "-recip", fixture("bob.pem"), "-keyopt", "rsa_padding_mode:oaep"],
            ["-aes-128-cbc", "-keyid"],  // recipient identified by subject key identifier
        ] {
            let recipient = options.contains("-recip") ? [] : ["-recip", fixture("bob.pem")]
            let smime = try openssl(["cms", "-encrypt", "-in", content] + options + recipient).expect(0)
            let message = "From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: openssl\r\n" + smime.out
            let result = try smimegate(["decrypt", "--cert", "bob"], input: Array(message.utf8)).expect(0)
            XCTAssertTrue(
                result.out.hasPrefix(
                    "From: alice@example.com\r\nTo: bob@partner.example\r\nSubject: openssl\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nsecret from openssl"
                ), "\(options): \(result.out)")
        }
        // EC key agreement from OpenSSL.
        let smime = try openssl(["cms", "-encrypt", "-in", content, "-aes-256-cbc", "-recip", fixture("carol-ec.pem")]).expect(0)
        let result = try smimegate(["decrypt"], input: Array(("From: a@example.com\r\n" + smime.out).utf8)).expect(0)
        XCTAssertTrue(result.out.contains("secret from openssl"))
    }

    func testPycaEnvelopesDecryptWithUsAndOursWithPyca() throws {
        let content = Array("Content-Type: text/plain\r\n\r\nsecret from pyca\r\n".utf8)
        for cipher in ["aes128", "aes256"] {
            let message = try pyca(["encrypt", cipher, fixture("bob.pem")], input: content).expect(0)
            let result = try smimegate(["decrypt", "--cert", "bob"], input: message.stdout).expect(0)
            XCTAssertTrue(result.out.contains("secret from pyca"), "\(cipher): \(result.out)")
        }
        for cipher in ["aes-128-cbc", "aes-256-cbc"] {
            let input = try save(Self.plainLF, "plain.eml")
            let encrypted = try smimegate(["encrypt", "--to", "bob@partner.example", "--cipher", cipher, input]).expect(0)
            let decrypted = try pyca(["decrypt", fixture("bob.pem"), fixture("bob.key")], input: encrypted.stdout).expect(0)
            XCTAssertTrue(string(decrypted.stdout).contains("Gr\u{fc}\u{df}e aus Tokyo."), "\(cipher): \(decrypted.stderr)")
        }
    }

    /// The OBJECT lines of `openssl asn1parse` over the CMS of an S/MIME file
    /// (`cms -print` of OpenSSL 3.0 cannot print AuthEnvelopedData).
    func asn1Objects(_ file: String) throws -> String {
        try openssl(["cms", "-cmsout", "-outform", "DER", "-in", file, "-out", file + ".der"]).expect(0)
        return try openssl(["asn1parse", "-inform", "DER", "-in", file + ".der"]).expect(0).out
    }

    func testWrongKeyFailsCleanly() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["encrypt", "--to", "bob@partner.example", input, "-o", path("enc.eml")]).expect(0)
        let result = try smimegate(["decrypt", "--cert", "alice", path("enc.eml")]).expect(1)
        XCTAssertTrue(
            result.stderr.contains("<interop-1@example.com>: cannot decrypt: the message is not encrypted to CN=Alice,O=Example Corp"),
            result.stderr)
        XCTAssertTrue(result.stdout.isEmpty)
    }

    func testSignThenEncryptRoundTrip() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["sign", "--cert", "alice", input, "-o", path("signed.eml")]).expect(0)
        try smimegate(["encrypt", "--to", "bob@partner.example", "--cipher", "aes-256-gcm", path("signed.eml"), "-o", path("both.eml")])
            .expect(0)
        try smimegate(["decrypt", path("both.eml"), "-o", path("opened.eml")]).expect(0)
        let verified = try smimegate(["verify", path("opened.eml")]).expect(0)
        XCTAssertEqual(
            bodyText(verified.stdout),
            bodyText(Array(Self.plainLF.utf8)).replacingOccurrences(of: "From now", with: "=46rom now").replacingOccurrences(
                of: "Grüße", with: "Gr=C3=BC=C3=9Fe"))
    }
}
