import MIME
import XCTest

/// RFC 9788 header work without the cryptography: what goes inside and outside on the way out, what is
/// promoted on the way in (CLITests/HeaderProtectionTests has the same against openssl and Python).
final class HeaderProtectionUnitTests: XCTestCase {
    func entity(_ text: String) throws -> Entity { try Entity.parse(Array(text.utf8)) }

    static let message = """
        From: Alice <alice@example.com>\r
        To: bob@partner.example\r
        Subject: Secret\r
        Keywords: plans\r
        Comments: see inside\r
        HP-Outer: Subject: forged by the input\r
        Received: from a by b\r
        Content-Type: text/plain; charset=us-ascii; hp="clear"\r
        \r
        body\r

        """

    func testEncryptObscuresTheBaselineFieldsAndRecordsWhatWentOutside() throws {
        let (outer, inner) = try XCTUnwrap(HeaderProtection.encrypt.prepare(try entity(Self.message), encrypted: true))
        XCTAssertEqual(outer.field("Subject"), "[...]")
        XCTAssertNil(outer.field("Keywords"))
        XCTAssertNil(outer.field("Comments"))
        XCTAssertNil(outer.field("HP-Outer"), "HP-Outer from the input is never kept")
        XCTAssertEqual(outer.field("Received"), "from a by b")
        XCTAssertEqual(outer.field("Content-Type"), "text/plain; charset=us-ascii; hp=\"cipher\"", "one hp, ours")
        XCTAssertEqual(
            inner.map { "\($0.name): \($0.value)" },
            [
                "From: Alice <alice@example.com>", "To: bob@partner.example", "Subject: Secret", "Keywords: plans",
                "Comments: see inside", "HP-Outer: From: Alice <alice@example.com>",
                "HP-Outer: To: bob@partner.example", "HP-Outer: Subject: [...]",
            ])
        XCTAssertNil(HeaderProtection.none.prepare(try entity(Self.message), encrypted: true))
        let (clear, fields) = try XCTUnwrap(
            HeaderProtection.encrypt.prepare(try entity(Self.message), encrypted: false))
        XCTAssertEqual(clear.field("Subject"), "Secret", "nothing is obscured in a message that is not encrypted")
        XCTAssertFalse(fields.contains { $0.name == "HP-Outer" })
        let (visible, _) = try XCTUnwrap(HeaderProtection.sign.prepare(try entity(Self.message), encrypted: true))
        XCTAssertEqual(visible.field("Subject"), "Secret")
        XCTAssertEqual(visible.field("Keywords"), "plans")
    }

    func delivered(_ subject: String, from: String = "alice@example.com") throws -> Entity {
        try entity(
            "From: \(from)\r\nTo: bob@partner.example\r\nSubject: \(subject)\r\nHP-Outer: Subject: planted\r\n"
                + "Content-Type: text/plain\r\n\r\nbody\r\n")
    }

    func fields(_ lines: [String]) throws -> [HeaderField] {
        try entity(lines.map { $0 + "\r\n" }.joined() + "\r\n").fields
    }

    func testSignedFieldsArePromotedAndChangesRecorded() throws {
        let inner = try fields(["From: alice@example.com", "To: bob@partner.example", "Subject: Real"])
        let promotion = try XCTUnwrap(
            HeaderProtection.promote(
                into: try delivered("Forged"), payloadType: "text/plain; hp=clear", inner: inner,
                signed: true, encrypted: false))
        XCTAssertEqual(promotion.entity.fields(named: "Subject").map(\.value), ["Real"])
        XCTAssertNil(promotion.entity.field("HP-Outer"), "an HP-Outer outside is nobody's record")
        XCTAssertEqual(promotion.promoted, ["from", "to", "subject"])
        XCTAssertEqual(promotion.changed, ["Subject"])
        XCTAssertEqual(
            promotion.note, "header.protected=from,to,subject; outer field changed in transit: Subject")
        XCTAssertNotNil(promotion.warning)
        XCTAssertNil(
            HeaderProtection.promote(
                into: try delivered("x"), payloadType: "text/plain; hp=maybe", inner: inner,
                signed: true, encrypted: false), "an unknown hp value protects nothing")
        XCTAssertNil(
            HeaderProtection.promote(
                into: try delivered("x"), payloadType: "text/plain", inner: inner, signed: true,
                encrypted: false))
    }

    /// Unsigned: only what the HP-Outer record shows was hidden comes back; never a From.
    func testUnsignedRestoresOnlyWhatWasHidden() throws {
        let inner = try fields([
            "From: ceo@example.com", "To: everyone@partner.example", "Subject: Real", "HP-Outer: From: ceo@example.com",
            "HP-Outer: To: everyone@partner.example", "HP-Outer: Subject: [...]",
        ])
        let promotion = try XCTUnwrap(
            HeaderProtection.promote(
                into: try delivered("[...]"), payloadType: "text/plain; hp=\"cipher\"",
                inner: inner, signed: false, encrypted: true))
        XCTAssertEqual(promotion.entity.field("Subject"), "Real")
        XCTAssertEqual(promotion.entity.field("From"), "alice@example.com")
        XCTAssertEqual(promotion.entity.field("To"), "bob@partner.example", "not hidden: not restored")
        XCTAssertEqual(promotion.promoted, ["subject"])
        XCTAssertEqual(promotion.withheld, ["from", "to"])
        XCTAssertEqual(promotion.changed, [], "without a signature nothing says what the sender sent")
        XCTAssertNil(promotion.warning)
        // A Reply-To "hidden" by a forged record is not restored: only what a policy hides (Subject) is.
        let replyTo = try fields(["Reply-To: attacker@evil.example", "Subject: [...]", "HP-Outer: Subject: [...]"])
        let forged = try XCTUnwrap(
            HeaderProtection.promote(
                into: try delivered("[...]"), payloadType: "text/plain; hp=cipher", inner: replyTo, signed: false,
                encrypted: true))
        XCTAssertNil(forged.entity.field("Reply-To"))
        XCTAssertEqual(forged.withheld, ["reply-to"])
    }

    /// Under a signature, what the payload lacks was added in transit: removed (but Date and Message-ID).
    /// An `hp` given twice, or in an RFC 2231 form, protects nothing: readers would disagree on it.
    func testSignedPayloadDropsOuterOnlyFieldsAndAmbiguousMarksProtectNothing() throws {
        let inner = try fields(["From: alice@example.com", "Subject: Real"])
        var outer = try delivered("Real")
        outer.fields.insert(contentsOf: try fields(["Reply-To: x@evil.example", "Message-ID: <relay@x>"]), at: 0)
        let promotion = try XCTUnwrap(
            HeaderProtection.promote(
                into: outer, payloadType: "text/plain; hp=clear", inner: inner, signed: true, encrypted: false))
        XCTAssertNil(promotion.entity.field("Reply-To"))
        XCTAssertNil(promotion.entity.field("To"))
        XCTAssertEqual(promotion.entity.field("Message-ID"), "<relay@x>")
        XCTAssertEqual(promotion.removed, ["to", "reply-to"])
        for type in [
            "text/plain; hp=clear; hp=cipher", "text/plain; hp*=utf-8''clear", "text/plain; hp*0=cl; hp*1=ear",
            "text/plain; hp=\"clear\"; hp*=utf-8''cipher",
        ] {
            XCTAssertNil(
                HeaderProtection.promote(into: outer, payloadType: type, inner: inner, signed: true, encrypted: false),
                type)
        }
        // On the way out every form of it goes, ours alone stays; a long record is folded.
        var message = try entity(
            "From: a@example.com\r\nReferences: " + (1...70).map { "<id\($0)@example.com>" }.joined(separator: " ")
                + "\r\nContent-Type: text/plain; hp*0=cl; hp*1=ear; charset=us-ascii\r\n\r\nx\r\n")
        let (prepared, record) = try XCTUnwrap(HeaderProtection.encrypt.prepare(message, encrypted: true))
        XCTAssertEqual(prepared.field("Content-Type"), "text/plain; charset=us-ascii; hp=\"cipher\"")
        let references = try XCTUnwrap(record.last)
        XCTAssertTrue(references.value.hasPrefix("References: <id1@example.com> <id2@example.com>"))
        message.fields = [references]
        XCTAssertTrue(
            String(decoding: message.serialized(), as: UTF8.self).split(separator: "\r\n").allSatisfy {
                $0.utf8.count <= 78
            })
    }

    func testLegacyDisplayGoesIntoEveryMainBodyPartAndNoAttachment() throws {
        let html = Base64.encode(Array("<html><BODY class=x><p>Hi</p></body></html>".utf8))
        let text = """
            From: a@example.com\r
            Subject: Dinner <plans> & more\r
            Content-Type: multipart/mixed; boundary="outer"\r
            \r
            --outer\r
            Content-Type: multipart/alternative; boundary="alt"\r
            \r
            --alt\r
            Content-Type: text/plain; charset=us-ascii\r
            \r
            Let's meet.\r
            --alt\r
            Content-Type: text/html; charset=us-ascii\r
            Content-Transfer-Encoding: base64\r
            \r
            \(String(decoding: html, as: UTF8.self))\r
            --alt--\r
            --outer\r
            Content-Type: text/plain\r
            Content-Disposition: attachment; filename=a.txt\r
            \r
            attached\r
            --outer--\r

            """
        let (prepared, _) = try XCTUnwrap(
            HeaderProtection.encrypt.prepare(try entity(text), encrypted: true, legacyDisplay: true))
        let serialized = String(decoding: prepared.serialized(), as: UTF8.self)
        XCTAssertTrue(
            serialized.contains(
                "Content-Type: text/plain; charset=us-ascii; hp-legacy-display=\"1\"\r\n\r\n"
                    + "Subject: Dinner <plans> & more\r\n\r\nLet's meet."), serialized)
        let outer = try Multipart.parse(prepared.body, boundary: "outer")
        let alternative = try Entity.parse(outer.parts[0], allowEmptyHeader: true)
        let htmlPart = try Entity.parse(try Multipart.parse(alternative.body, boundary: "alt").parts[1])
        XCTAssertEqual(htmlPart.field("Content-Type"), "text/html; charset=us-ascii; hp-legacy-display=\"1\"")
        XCTAssertEqual(
            String(decoding: try htmlPart.decodedBody(), as: UTF8.self),
            "<html><BODY class=x><div class=\"header-protection-legacy-display\">\r\n"
                + "<pre>Subject: Dinner &lt;plans&gt; &amp; more</pre>\r\n</div>\r\n<p>Hi</p></body></html>")
        XCTAssertTrue(String(decoding: outer.parts[1], as: UTF8.self).hasSuffix("\r\n\r\nattached"))
        XCTAssertFalse(String(decoding: outer.parts[1], as: UTF8.self).contains("legacy"))
    }
}
