import MIME
import Policy
import XCTest

/// Builds messages and conditions for the policy tests: conditions come from the parser,
/// so each test reads the way an operator writes the filter.
enum PolicyFixtures {
    /// The condition of `name: if (COND) { deliver(); }`.
    static func condition(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> Condition {
        let (document, problems) = PolicyParser.parse("[message filters]\nf: if (\(text)) { deliver(); }")
        XCTAssertEqual(problems, [], text, file: file, line: line)
        return document?.messageFilters.first?.condition ?? .constant(false)
    }

    /// The filters of a `[content filters]` section made of `text`.
    static func contentFilters(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> [Filter] {
        let (document, problems) = PolicyParser.parse("[content filters]\n" + text)
        XCTAssertEqual(problems, [], file: file, line: line)
        return document?.contentFilters ?? []
    }

    static func message(_ lines: [String]) -> Entity {
        // Parsing cannot fail on the fixtures; a failure shows as a test failure on their facts.
        (try? Entity.parse(Array(lines.joined(separator: "\r\n").utf8)))
            ?? Entity(fields: [], body: [], lineEnding: .crlf)
    }

    /// One line of base64, without its line end.
    static func base64(_ bytes: [UInt8]) -> String {
        String(decoding: Base64.encode(bytes, lineLength: 1000).dropLast(2), as: UTF8.self)
    }

    /// A multipart/mixed message as mailers write it: an alternative of a base64 ISO-8859-1
    /// text and quoted-printable UTF-8 HTML, a PDF with an RFC 2231 file name, a forwarded
    /// message, an inline image without a name, and a Subject of two encoded-words.
    static let rich = message([
        "Return-Path: <alice@example.test>",
        "From: Alice <alice@example.test>",
        "To: bob@partner.example",
        "Subject: =?UTF-8?Q?Vertraulich:_Gr=C3=BC=C3=9Fe?= =?ISO-8859-1?Q?_f=FCr_Bob?=",
        "X-Tag: first",
        "X-Tag: =?utf-8?B?" + base64(Array("zweite Straße".utf8)) + "?=",
        "X-Folded: part one",
        "\tpart two",
        "MIME-Version: 1.0",
        "Content-Type: multipart/mixed; boundary=\"outer\"",
        "",
        "--outer",
        "Content-Type: multipart/alternative; boundary=alt",
        "",
        "--alt",
        "Content-Type: text/plain; charset=ISO-8859-1",
        "Content-Transfer-Encoding: base64",
        "",
        // "Der Schlüssel ist geheim." in ISO-8859-1: ü is the single byte 0xFC.
        base64(Array("Der Schl".utf8) + [0xFC] + Array("ssel ist geheim.\r\n".utf8)),
        "--alt",
        "Content-Type: text/html; charset=utf-8",
        "Content-Transfer-Encoding: quoted-printable",
        "",
        "<p>Gro=C3=9Fe Stra=C3=9Fe, STRICTLY private</p>",
        "--alt--",
        "--outer",
        "Content-Type: application/pdf; name=\"fallback.pdf\"",
        "Content-Disposition: attachment;",
        " filename*=UTF-8''Bericht%20M%C3%A4rz.pdf",
        "Content-Transfer-Encoding: base64",
        "",
        "JVBERi0xLjQK",
        "--outer",
        "Content-Type: message/rfc822",
        "",
        "Subject: inner",
        "Content-Type: text/plain; charset=utf-8",
        "",
        "forwarded: the password is bananas",
        "--outer",
        "Content-Type: image/png",
        "Content-Disposition: inline",
        "Content-Transfer-Encoding: base64",
        "",
        "iVBORw0KGgo=",
        "--outer--",
        "",
    ])

    static let context = FilterContext(
        mailFrom: "alice@example.test", recipients: ["bob@partner.example", "carol@customer.example"], encrypted: false,
        size: 3 * 1024)
}

final class MessageFactsTests: XCTestCase {
    private func holds(
        _ text: String, _ message: Entity = PolicyFixtures.rich, _ context: FilterContext = PolicyFixtures.context,
        file: StaticString = #filePath, line: UInt = #line
    ) -> Bool {
        MessageFacts(message: message, context: context).holds(PolicyFixtures.condition(text, file: file, line: line))
    }

    func testConstants() {
        XCTAssertTrue(holds("true"))
        XCTAssertFalse(holds("false"))
    }

    func testSubjectIsDecodedFromItsEncodedWords() {
        XCTAssertTrue(holds(#"subject == "^Vertraulich: Grüße für Bob$""#))
        XCTAssertTrue(holds(#"subject == "(?i)GRÜSSE|grüße""#))
        XCTAssertFalse(holds(#"subject == "=\?UTF-8""#), "the raw encoded-word must not be what filters see")
        XCTAssertFalse(holds(#"subject != "Bob""#))
        XCTAssertTrue(holds(#"subject != "Alice""#))
    }

    func testAMissingSubjectIsEmpty() {
        let bare = PolicyFixtures.message(["From: a@example.test", "", "body", ""])
        XCTAssertTrue(holds(#"subject == "^$""#, bare))
        XCTAssertFalse(holds(#"subject == ".""#, bare))
        XCTAssertTrue(holds(#"subject != ".""#, bare))
    }

    func testHeaderTestsLookAtEveryInstanceDecodedAndUnfolded() {
        XCTAssertTrue(holds(#"header("X-Tag")"#))
        XCTAssertTrue(holds(#"header("x-tag")"#), "field names ignore case")
        XCTAssertFalse(holds(#"header("X-Absent")"#))
        XCTAssertTrue(holds(#"header("X-Tag") == "^first$""#))
        XCTAssertTrue(holds(#"header("X-Tag") == "^zweite Straße$""#), "the second instance, decoded")
        XCTAssertTrue(holds(#"header("X-Folded") == "^part one\tpart two$""#), "unfolded")
        // != holds only when no instance matches.
        XCTAssertFalse(holds(#"header("X-Tag") != "first""#))
        XCTAssertTrue(holds(#"header("X-Tag") != "third""#))
        XCTAssertTrue(holds(#"header("X-Absent") != "anything""#))
        XCTAssertFalse(holds(#"header("X-Absent") == """#))
    }

    func testBodyContainsSearchesDecodedTextPartsInTheirCharsets() {
        XCTAssertTrue(holds(#"body-contains("Schlüssel ist geheim")"#), "base64 ISO-8859-1 text/plain")
        XCTAssertTrue(holds(#"body-contains("Große Straße")"#), "quoted-printable UTF-8 text/html")
        XCTAssertTrue(holds(#"body-contains("(?i)strictly private")"#))
        XCTAssertFalse(holds(#"body-contains("strictly private")"#), "case matters without (?i)")
        XCTAssertTrue(holds(#"body-contains("password is bananas")"#), "inside the forwarded message")
        XCTAssertFalse(holds(#"body-contains("=C3=9F")"#), "the transfer encoding is removed")
        XCTAssertFalse(holds(#"body-contains("JVBERi0")"#), "only text parts are searched")
        XCTAssertFalse(holds(#"body-contains("Vertraulich")"#), "the header is not the body")
    }

    func testBodyContainsOfASinglePartMessage() {
        let plain = PolicyFixtures.message([
            "Subject: x", "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: quoted-printable", "",
            "caf=C3=A9 au lait", "",
        ])
        XCTAssertTrue(holds(#"body-contains("café au lait")"#, plain))
        let noType = PolicyFixtures.message(["Subject: x", "", "plain us-ascii text", ""])
        XCTAssertTrue(holds(#"body-contains("us-ascii text")"#, noType), "RFC 2045 default: text/plain")
    }

    func testBrokenPartsAreSkippedAndTheRestSearched() {
        let broken = PolicyFixtures.message([
            "Subject: x", "Content-Type: multipart/mixed; boundary=b", "",
            "--b", "Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "!!!not base64 at all!!!",
            "--b", "Content-Type: text/plain", "Content-Transfer-Encoding: x-unknown", "", "hidden one",
            "--b", "Content-Type: multipart/mixed", "", "no boundary parameter",
            "--b", "Content-Type: multipart/mixed; boundary=never", "", "the boundary never comes",
            "--b", "Content-Type: text/plain; charset=utf-7", "", "seven",
            "--b", "Content-Type: message/rfc822", "", "no header at all",
            "--b", "Content-Type: text/plain", "", "the good part",
            "--b--", "",
        ])
        XCTAssertTrue(holds(#"body-contains("the good part")"#, broken))
        XCTAssertFalse(holds(#"body-contains("hidden one|no boundary|never comes|seven|no header")"#, broken))
        let unclosed = PolicyFixtures.message([
            "Subject: x", "Content-Type: multipart/mixed; boundary=b", "", "--b", "", "text", "",
        ])
        XCTAssertFalse(holds(#"body-contains("text")"#, unclosed), "an unclosed multipart is not read")
    }

    func testDeepNestingStopsWithoutCrashing() {
        var lines = ["Subject: deep"]
        for level in 0..<200 { lines += ["Content-Type: multipart/mixed; boundary=b\(level)", "", "--b\(level)"] }
        lines += ["Content-Type: text/plain", "", "at the bottom"]
        for level in (0..<200).reversed() { lines.append("--b\(level)--") }
        XCTAssertFalse(holds(#"body-contains("bottom")"#, PolicyFixtures.message(lines + [""])))
        var shallow = ["Subject: shallow"]
        for level in 0..<5 { shallow += ["Content-Type: multipart/mixed; boundary=b\(level)", "", "--b\(level)"] }
        shallow += ["Content-Type: text/plain", "", "at the bottom"]
        for level in (0..<5).reversed() { shallow.append("--b\(level)--") }
        XCTAssertTrue(holds(#"body-contains("bottom")"#, PolicyFixtures.message(shallow + [""])))
    }

    func testAttachmentFilenamesAreDecoded() {
        XCTAssertTrue(holds(#"attachment-filename == "^Bericht März\.pdf$""#), "RFC 2231 wins over Content-Type name")
        XCTAssertFalse(holds(#"attachment-filename == "fallback""#))
        XCTAssertFalse(holds(#"attachment-filename == "\.exe$""#))
        XCTAssertTrue(holds(#"attachment-filename != "\.exe$""#))
        XCTAssertFalse(holds(#"attachment-filename != "\.pdf$""#))
        let named = PolicyFixtures.message([
            "Subject: x", "Content-Type: multipart/mixed; boundary=b", "",
            "--b", "Content-Type: application/octet-stream; name=\"setup.exe\"", "", "MZ",
            "--b", "Content-Type: application/zip",
            "Content-Disposition: attachment; filename=\"=?utf-8?Q?R=C3=A9sum=C3=A9.zip?=\"", "", "PK",
            "--b", "Content-Type: text/plain", "Content-Disposition: attachment", "", "no name",
            "--b--", "",
        ])
        XCTAssertTrue(holds(#"attachment-filename == "^setup\.exe$""#, named), "a Content-Type name makes a file")
        XCTAssertTrue(holds(#"attachment-filename == "^Résumé\.zip$""#, named), "encoded-words in a file name")
        XCTAssertTrue(holds(#"attachment-filename == "^$""#, named), "an unnamed attachment's name is empty")
        XCTAssertTrue(holds(#"body-contains("no name")"#, named), "a text attachment is text too")
        let none = PolicyFixtures.message(["Subject: x", "", "just text", ""])
        XCTAssertFalse(holds(#"attachment-filename == """#, none))
        XCTAssertTrue(holds(#"attachment-filename != """#, none))
    }

    func testAttachmentTypesAreGlobs() {
        XCTAssertTrue(holds(#"attachment-type == "application/pdf""#))
        XCTAssertTrue(holds(#"attachment-type == "APPLICATION/*""#), "case-insensitive")
        XCTAssertTrue(holds(#"attachment-type == "*/pdf""#))
        XCTAssertTrue(holds(#"attachment-type == "*""#))
        XCTAssertTrue(holds(#"attachment-type == "application/p?f""#))
        XCTAssertFalse(holds(#"attachment-type == "image/*""#), "the inline image without a name is no attachment")
        XCTAssertFalse(holds(#"attachment-type == "application/""#), "a glob matches the whole type")
        XCTAssertFalse(holds(#"attachment-type == "text/*""#))
        XCTAssertTrue(holds(#"attachment-type != "image/*""#))
        XCTAssertFalse(holds(#"attachment-type != "application/*""#))
        let image = PolicyFixtures.message([
            "Subject: x", "Content-Type: multipart/mixed; boundary=b", "",
            "--b", "Content-Type: text/plain", "", "see the picture",
            "--b", "Content-Type: image/JPEG", "Content-Disposition: attachment; filename=cat.jpg", "", "jpg",
            "--b--", "",
        ])
        XCTAssertTrue(holds(#"attachment-type == "image/*""#, image))
        XCTAssertTrue(holds(#"attachment-type == "image/jpeg""#, image))
        let forwarded = PolicyFixtures.message([
            "Subject: x", "Content-Type: message/rfc822", "Content-Disposition: attachment; filename=fwd.eml", "",
            "Subject: inner", "", "inner text", "",
        ])
        XCTAssertTrue(holds(#"attachment-type == "message/rfc822""#, forwarded))
        XCTAssertTrue(holds(#"body-contains("inner text")"#, forwarded))
    }

    func testEnvelopeConditionsReadTheContext() {
        XCTAssertTrue(holds(#"mail-from == "@example\.test$""#))
        XCTAssertFalse(holds(#"mail-from == "bob""#))
        XCTAssertTrue(holds(#"mail-from != "bob""#))
        var noSender = PolicyFixtures.context
        noSender.mailFrom = nil
        XCTAssertTrue(holds(#"mail-from == "^$""#, PolicyFixtures.rich, noSender))
        XCTAssertTrue(holds(#"rcpt-to == "^carol@""#), "any recipient of the copy")
        XCTAssertFalse(holds(#"rcpt-to == "dave""#))
        XCTAssertFalse(holds(#"rcpt-to != "carol""#), "!=: no recipient matches")
        XCTAssertTrue(holds(#"rcpt-to != "dave""#))
        var nobody = PolicyFixtures.context
        nobody.recipients = []
        XCTAssertFalse(holds(#"rcpt-to == """#, PolicyFixtures.rich, nobody))
        XCTAssertTrue(holds(#"rcpt-to != """#, PolicyFixtures.rich, nobody))
    }

    func testBodySizeComparesTheContextSize() {
        XCTAssertTrue(holds("body-size == 3K"))
        XCTAssertTrue(holds("body-size > 3071"))
        XCTAssertFalse(holds("body-size > 3K"))
        XCTAssertTrue(holds("body-size >= 3K"))
        XCTAssertTrue(holds("body-size < 1M"))
        XCTAssertFalse(holds("body-size < 3K"))
        XCTAssertTrue(holds("body-size <= 3072"))
        XCTAssertTrue(holds("body-size != 1G"))
        XCTAssertFalse(holds("body-size != 3072"))
    }

    func testSMIMEConditionsReadTheContext() {
        let checks = ["encrypted", "smime-gateway-message", "smime-gateway-verified", "smime-gateway-authenticated"]
        for check in checks { XCTAssertFalse(holds(check), check) }
        let incoming = FilterContext(
            mailFrom: nil, recipients: [], encrypted: true, size: 0, smimeMessage: true, smimeVerified: true,
            smimeAuthenticated: true)
        for check in checks { XCTAssertTrue(holds(check, PolicyFixtures.rich, incoming), check) }
        let onlyFound = FilterContext(mailFrom: nil, recipients: [], encrypted: false, size: 0, smimeMessage: true)
        XCTAssertTrue(holds("smime-gateway-message and not smime-gateway-verified", PolicyFixtures.rich, onlyFound))
    }

    func testLogicAndPrecedence() {
        XCTAssertTrue(holds("true or false and false"), "and binds tighter: true or (false and false)")
        XCTAssertFalse(holds("(true or false) and false"))
        XCTAssertTrue(holds("not false and true"))
        XCTAssertFalse(holds("not (false or true)"))
        XCTAssertTrue(holds("not not true"))
        XCTAssertTrue(holds("false or not false"))
        XCTAssertTrue(holds("TRUE AND Not FALSE"), "keywords ignore case")
    }

    func testHeaderChangesAreSeenAndTheBodyIsNotWalkedAgain() {
        var message = PolicyFixtures.rich
        let facts = MessageFacts(message: message, context: PolicyFixtures.context)
        let tag = PolicyFixtures.condition(#"header("X-Tag")"#)
        let added = PolicyFixtures.condition(#"header("X-Added") == "^yes$""#)
        let text = PolicyFixtures.condition(#"body-contains("Schlüssel")"#)
        XCTAssertTrue(facts.holds(text))
        message.removeFields(named: "X-Tag")
        message.fields.append(HeaderField(name: "X-Added", value: "yes"))
        message.body = []
        facts.headersChanged(message)
        XCTAssertFalse(facts.holds(tag))
        XCTAssertTrue(facts.holds(added))
        XCTAssertTrue(facts.holds(text), "the body facts stay cached")
    }
}
