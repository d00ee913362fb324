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
        do {
            let condition = PolicyFixtures.condition(text, file: file, line: line)
            return try MessageFacts(message: message, context: context).holds(condition)
        } catch {
            XCTFail("\(text): \(error)", file: file, line: line)
            return false
        }
    }

    /// Why the condition cannot be decided on the message, or nil when it can.
    private func failure(
        _ text: String, _ message: Entity, budget: Duration = FilterEvaluator.matchingBudget,
        file: StaticString = #filePath, line: UInt = #line
    ) -> ConditionFailure? {
        let facts = MessageFacts(message: message, context: PolicyFixtures.context, matchingBudget: budget)
        do {
            _ = try facts.holds(PolicyFixtures.condition(text, file: file, line: line))
            return nil
        } catch {
            return error
        }
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

    /// Nothing a reader may see is left out: what does not parse or decode is searched as
    /// far as it goes, or as the bytes it is, rather than passed over.
    func testBrokenPartsAreSearchedAsFarAsTheyDecode() {
        let broken = PolicyFixtures.message([
            "Subject: x", "Content-Type: multipart/mixed; boundary=b", "",
            "--b", "Content-Type: text/plain", "Content-Transfer-Encoding: base64", "", "!!!bm90IGJhc2U2NA==!!!",
            "--b", "Content-Type: text/plain", "Content-Transfer-Encoding: x-unknown", "", "hidden one",
            "--b", "Content-Type: multipart/mixed", "", "no boundary parameter",
            "--b", "Content-Type: multipart/mixed; boundary=never", "", "the boundary never comes",
            "--b", "Content-Type: message/rfc822", "", "no header at all",
            "--b", "Content-Type: text/plain", "", "the good part",
            "--b", "Content-Type: application/octet-stream", "", "not text",
            "--b--", "",
        ])
        for text in ["not base64", "hidden one", "no boundary", "never comes", "no header", "the good part"] {
            XCTAssertTrue(holds(#"body-contains("\#(text)")"#, broken), text)
        }
        XCTAssertFalse(holds(#"body-contains("not text")"#, broken), "only text parts are searched")
        let unclosed = PolicyFixtures.message([
            "Subject: x", "Content-Type: multipart/mixed; boundary=b", "", "--b", "", "text", "",
        ])
        XCTAssertTrue(holds(#"body-contains("text")"#, unclosed), "a client shows an unclosed multipart's parts")
    }

    /// A charset label cannot hide text: UTF-7, UTF-16 and UTF-32 are decoded as clients
    /// decode them, and text under a label nobody knows is read as UTF-8, keeping its ASCII.
    func testTextInAnyCharsetIsSearched() {
        func part(_ charset: String, _ body: [UInt8], encoding: String = "base64") -> Entity {
            PolicyFixtures.message([
                "Subject: x", "Content-Type: text/plain; charset=\(charset)", "Content-Transfer-Encoding: \(encoding)",
                "", encoding == "base64" ? PolicyFixtures.base64(body) : String(decoding: body, as: UTF8.self), "",
            ])
        }
        let secret = "strictly private"
        let utf16BE = secret.utf16.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let utf16LE = secret.utf16.flatMap { [UInt8($0 & 0xFF), UInt8($0 >> 8)] }
        let utf32LE = secret.unicodeScalars.flatMap { s in (0..<4).map { UInt8(s.value >> (8 * $0) & 0xFF) } }
        let cases: [(String, Entity)] = [
            ("x-unknown", part("x-unknown", Array(secret.utf8), encoding: "7bit")),
            ("utf-7", part("utf-7", Array("strictly+ACA-private".utf8), encoding: "7bit")),
            ("UTF-7 of every letter", part("UTF-7", Array("+AHMAdAByAGkAYwB0AGwAeQAgAHAAcgBpAHYAYQB0AGU".utf8))),
            ("utf-16 with a little-endian BOM", part("utf-16", [0xFF, 0xFE] + utf16LE)),
            ("utf-16 without a BOM: big-endian", part("UTF-16", utf16BE)),
            ("utf-16le", part("utf-16le", utf16LE)),
            ("utf-32le", part("utf-32le", utf32LE)),
            ("iso-2022-jp that does not decode", part("iso-2022-jp", Array(secret.utf8) + [0x1B, 0x24, 0xFF])),
        ]
        for (label, message) in cases {
            XCTAssertTrue(holds(#"body-contains("strictly private")"#, message), label)
        }
    }

    /// MIME nesting deeper than `MIMELimits.maxDepth` is not searched, and that is no "no":
    /// the condition cannot be decided. Conditions that do not read the body still decide.
    func testTextDeeperThanTheLimitCannotBeDecided() {
        func nested(_ levels: Int) -> Entity {
            var lines = ["Subject: deep"]
            for level in 0..<levels {
                lines += ["Content-Type: multipart/mixed; boundary=b\(level)", "", "--b\(level)"]
            }
            lines += ["Content-Type: text/plain", "", "at the bottom"]
            for level in (0..<levels).reversed() { lines.append("--b\(level)--") }
            return PolicyFixtures.message(lines + [""])
        }
        XCTAssertEqual(failure(#"body-contains("bottom")"#, nested(200)), .nestedTooDeep(limit: 64))
        XCTAssertEqual(failure(#"attachment-type == "*""#, nested(65)), .nestedTooDeep(limit: 64))
        XCTAssertEqual(
            failure(#"body-contains("bottom")"#, nested(65))?.description,
            "a part nested deeper than 64 MIME levels cannot be searched")
        XCTAssertTrue(holds(#"subject == "deep""#, nested(200)))
        XCTAssertTrue(holds(#"body-contains("bottom")"#, nested(64)), "64 levels are read")
    }

    func testAttachmentFilenamesAreDecoded() {
        XCTAssertTrue(holds(#"attachment-filename == "^Bericht März\.pdf$""#), "RFC 2231, joined and decoded")
        XCTAssertTrue(holds(#"attachment-filename == "^fallback\.pdf$""#), "Content-Type's name is a name too")
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

    /// Readers differ in which name they show when a part has several, so every name counts:
    /// each Content-Disposition's, each repeated `filename`, the plain one beside RFC 2231
    /// `filename*`, and Content-Type's `name`.
    func testEveryNameAReaderMayShowIsAFileName() {
        let cases: [(String, [String])] = [
            (
                "Content-Type name",
                ["Content-Type: x/y; name=\"evil.exe\"", "Content-Disposition: attachment; filename=a.txt"]
            ),
            (
                "two dispositions",
                ["Content-Disposition: attachment; filename=a.txt", "Content-Disposition: inline; filename=evil.exe"]
            ),
            ("two filenames", ["Content-Disposition: attachment; filename=\"a.txt\"; filename=\"evil.exe\""]),
            ("plain beside RFC 2231", ["Content-Disposition: attachment; filename*=utf-8''a.txt; filename=evil.exe"]),
            ("RFC 2231 beside plain", ["Content-Disposition: attachment; filename=a.txt; filename*=utf-8''evil%2Eexe"]),
            ("two Content-Types", ["Content-Type: x/y; name=a.txt", "Content-Type: x/z; name=evil.exe"]),
        ]
        for (label, header) in cases {
            let message = PolicyFixtures.message(
                ["Subject: x", "Content-Type: multipart/mixed; boundary=b", "", "--b", "", "hi", "--b"] + header
                    + ["", "AAAA", "--b--", ""])
            XCTAssertTrue(holds(#"attachment-filename == "(?i)\.exe$""#, message), label)
            XCTAssertTrue(holds(#"attachment-filename == "^a\.txt$""#, message), label)
            XCTAssertFalse(holds(#"attachment-filename != "\.exe$""#, message), label)
        }
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

    func testHeaderChangesAreSeenAndTheBodyIsNotWalkedAgain() throws {
        var message = PolicyFixtures.rich
        let facts = MessageFacts(message: message, context: PolicyFixtures.context)
        let tag = PolicyFixtures.condition(#"header("X-Tag")"#)
        let added = PolicyFixtures.condition(#"header("X-Added") == "^yes$""#)
        let text = PolicyFixtures.condition(#"body-contains("Schlüssel")"#)
        XCTAssertTrue(try facts.holds(text))
        message.removeFields(named: "X-Tag")
        message.fields.append(HeaderField(name: "X-Added", value: "yes"))
        message.body = []
        facts.headersChanged(message)
        XCTAssertFalse(try facts.holds(tag))
        XCTAssertTrue(try facts.holds(added))
        XCTAssertTrue(try facts.holds(text), "the body facts stay cached")
    }
}
