import MIME
import TestSupport
import XCTest

final class EntityTests: XCTestCase {
    let folded = Array(
        "Received: from a.example by b.example;\r\n\tSun, 29 Nov 2026 10:00:00 +0000\r\nReceived: from c.example\r\nSubject: =?UTF-8?B?w5xiZXI=?= folded\r\n  onto two lines\r\nFrom: Alice <alice@example.com>\r\n\r\nbody line\r\n"
            .utf8)

    func testUnchangedMessageSerialisesByteForByte() throws {
        for sample in [folded, Array(string(folded).replacingOccurrences(of: "\r\n", with: "\n").utf8)] {
            let entity = try Entity.parse(sample)
            XCTAssertEqual(entity.serialized(), sample)
        }
    }

    func testFoldedDuplicateAndEncodedWordFieldsAreKept() throws {
        let entity = try Entity.parse(folded)
        XCTAssertEqual(entity.fields(named: "received").count, 2)
        XCTAssertEqual(entity.field("Received"), "from a.example by b.example;\tSun, 29 Nov 2026 10:00:00 +0000")
        XCTAssertEqual(entity.field("subject"), "=?UTF-8?B?w5xiZXI=?= folded  onto two lines")
        XCTAssertEqual(entity.body, Array("body line\r\n".utf8))
    }

    func testLineEndingStyleIsDetectedAndKept() throws {
        let lf = try Entity.parse(Array("From: a@b.example\nSubject: x\n\nhi\n".utf8))
        XCTAssertEqual(lf.lineEnding, .lf)
        var changed = lf
        changed.setField("X-Test", "1")
        XCTAssertEqual(string(changed.serialized()), "From: a@b.example\nSubject: x\nX-Test: 1\n\nhi\n")
    }

    func testEmptyInputIsAnError() {
        XCTAssertThrowsError(try Entity.parse([])) { XCTAssertEqual(($0 as? MIMEError)?.reason, "empty message") }
    }

    func testBinaryJunkIsNotAMessage() {
        let junk: [UInt8] = (0..<4096).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }
        XCTAssertThrowsError(try Entity.parse(junk)) {
            XCTAssertTrue(($0 as? MIMEError)?.reason.hasPrefix("not an RFC 5322 message") ?? false, "\($0)")
        }
    }

    func testMegabyteHeaderLineIsRefusedQuickly() {
        let huge = Array("From: a@b.example\r\nSubject: ".utf8) + [UInt8](repeating: 65, count: 1 << 20) + Array("\r\n\r\nbody".utf8)
        XCTAssertThrowsError(try Entity.parse(huge)) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "header line 2 longer than 65536 bytes")
        }
    }

    func testContentTypeParametersQuotedAndCaseInsensitive() throws {
        let type = try XCTUnwrap(
            ContentType(
                parsing: "Multipart/Signed; Protocol=\"application/pkcs7-signature\";\r\n micalg=SHA-256; boundary=\"a b\" (comment)"))
        XCTAssertEqual(type.mediaType, "multipart/signed")
        XCTAssertEqual(type["protocol"], "application/pkcs7-signature")
        XCTAssertEqual(type["MICALG"], "SHA-256")
        XCTAssertEqual(type["boundary"], "a b")
    }

    func testMissingContentTypeDefaultsToTextPlain() throws {
        XCTAssertEqual(try Entity.parse(Array("From: a@b.example\n\nx".utf8)).contentType.mediaType, "text/plain")
    }

    func testSplitKeepsRFC5322FieldsOutsideAndContentFieldsInside() throws {
        let message = try Entity.parse(
            Array(
                "From: a@b.example\r\nTo: c@d.example\r\nMIME-Version: 1.0\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\nSubject: s\r\n\r\n<p>x</p>\r\n"
                    .utf8))
        let parts = MessageParts(splitting: message)
        XCTAssertEqual(parts.outer.map(\.name), ["From", "To", "MIME-Version", "Subject"])
        XCTAssertEqual(parts.content.fields.map(\.name), ["Content-Type", "Content-Transfer-Encoding"])
        XCTAssertEqual(string(parts.content.serialized()), "Content-Type: text/html\r\nContent-Transfer-Encoding: 8bit\r\n\r\n<p>x</p>\r\n")
        let joined = MessageParts.join(outer: parts.outer, content: parts.content, ending: .crlf)
        XCTAssertEqual(joined.fields.map(\.name), ["From", "To", "MIME-Version", "Subject", "Content-Type", "Content-Transfer-Encoding"])
    }

    func testAddressListParsing() {
        XCTAssertEqual(Address.parseList("Alice <alice@example.com>, bob@example.org"), ["alice@example.com", "bob@example.org"])
        XCTAssertEqual(
            Address.parseList("\"Doe, John\" <john@x.example> (work), undisclosed: a@b.example, c@d.example;"),
            ["john@x.example", "a@b.example", "c@d.example"])
        XCTAssertEqual(Address.first("Alice@Example.COM"), "Alice@Example.COM")
        XCTAssertNil(Address.first("no address here"))
    }
}
