import MIME
import TestSupport
import XCTest

/// What sloppy mailers write: read as a message where that is unambiguous,
/// reported as an `Irregularity` where the structure cannot be trusted.
final class ToleranceTests: XCTestCase {
    func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: The header

    func testLeadingMboxFromLineIsLeftOutOfTheMessage() throws {
        let envelope = "From alice@example.com Sun Nov 29 10:00:00 2026\n"
        let message = "From: alice@example.com\nSubject: x\n\nbody\n"
        let reading = try Entity.parseMessage(bytes(envelope + message))
        XCTAssertEqual(string(reading.entity.serialized()), message)
        XCTAssertEqual(reading.messageStart, envelope.utf8.count)
        XCTAssertEqual(reading.entity.field("From"), "alice@example.com")
        XCTAssertNil(reading.irregularity, "a delivery agent's envelope line is not the message's fault")
        XCTAssertEqual(reading.entity.lineEnding, .lf)

        let crlf = try Entity.parseMessage(bytes("From a@b.example  Mon Jan  1 00:00:00 2026\r\nSubject: y\r\n\r\nz"))
        XCTAssertEqual(string(crlf.entity.serialized()), "Subject: y\r\n\r\nz")
        XCTAssertEqual(crlf.entity.lineEnding, .crlf)
    }

    func testAFromFieldIsNotAnEnvelopeLine() throws {
        let message = "From: alice@example.com\nSubject: x\n\nbody\n"
        let reading = try Entity.parseMessage(bytes(message))
        XCTAssertEqual(reading.messageStart, 0)
        XCTAssertEqual(string(reading.entity.serialized()), message)
    }

    func testStrictParsingStillRefusesTheEnvelopeLine() {
        let text = "From alice@example.com Sun Nov 29 10:00:00 2026\nFrom: a@b\n\nx"
        XCTAssertThrowsError(try Entity.parse(bytes(text))) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "not an RFC 5322 message: line 1 is not a header field")
        }
    }

    func testHeaderRunningIntoTheBodyEndsAtTheFirstLineThatIsNoField() throws {
        let text = "From: a@example.com\nSubject: x\nHello Bob,\nsecond line: with a colon\n"
        let reading = try Entity.parseMessage(bytes(text))
        XCTAssertEqual(reading.irregularity, .headerRunsIntoBody(line: 3))
        XCTAssertEqual(reading.irregularity?.description, "the header runs into the body at line 3 (no blank line)")
        XCTAssertEqual(reading.entity.fields.map(\.name), ["From", "Subject"])
        XCTAssertEqual(string(reading.entity.body), "Hello Bob,\nsecond line: with a colon\n")
        XCTAssertEqual(
            string(reading.entity.serialized()),
            "From: a@example.com\nSubject: x\n\nHello Bob,\nsecond line: with a colon\n",
            "written back with the blank line it lacked")
        XCTAssertThrowsError(try Entity.parse(bytes(text))) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "malformed header: line 3 is not a header field")
        }
    }

    func testLineNumbersCountFromTheMessageAfterTheEnvelopeLine() throws {
        let reading = try Entity.parseMessage(bytes("From x@y Sun Nov 29 10:00:00 2026\nFrom: a@example.com\nbody\n"))
        XCTAssertEqual(reading.irregularity, .headerRunsIntoBody(line: 2))
    }

    func testAMessageWithoutAnyHeaderFieldStillFails() {
        let cases: [(String, String)] = [
            ("", "empty message"),
            ("Hello\nworld\n", "not an RFC 5322 message: line 1 is not a header field"),
            ("From x@y Sun Nov 29 10:00:00 2026\nHello\n", "not an RFC 5322 message: line 1 is not a header field"),
            ("From x@y Sun Nov 29 10:00:00 2026\n", "empty message"),
            (" folded\nFrom: a@b\n\n", "not an RFC 5322 message: the header begins with a continuation line"),
            ("\nbody\n", "not an RFC 5322 message: no header fields"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try Entity.parseMessage(bytes(text)), text) {
                XCTAssertEqual(($0 as? MIMEError)?.reason, reason, text)
            }
        }
    }

    func testLimitsStillApplyWhenReadingLeniently() {
        let huge = "From: a@b.example\nSubject: " + String(repeating: "x", count: 70_000) + "\n\nbody"
        XCTAssertThrowsError(try Entity.parseMessage(bytes(huge))) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "header line 2 longer than 65536 bytes")
        }
    }

    // MARK: The structure

    func entity(_ type: String, _ body: String) throws -> Entity {
        try Entity.parse(bytes("Content-Type: \(type)\n\n\(body)"))
    }

    func assertIrregular(
        _ entity: Entity, _ expected: Irregularity, file: StaticString = #filePath, line: UInt = #line
    ) {
        for sevenBitSafe in [true, false] {
            XCTAssertThrowsError(
                try Canonical.prepare(entity, options: .init(sevenBitSafe: sevenBitSafe)), file: file, line: line
            ) {
                XCTAssertEqual($0 as? Irregularity, expected, file: file, line: line)
            }
        }
    }

    func testMultipartWithoutBoundaryParameter() throws {
        let message = try entity("multipart/mixed", "--x\nContent-Type: text/plain\n\nhi\n--x--\n")
        assertIrregular(message, .missingBoundary(mediaType: "multipart/mixed"))
        assertIrregular(
            try entity("multipart/mixed; boundary=\"\"", "text\n"), .missingBoundary(mediaType: "multipart/mixed"))
        XCTAssertEqual(
            Irregularity.missingBoundary(mediaType: "multipart/mixed").description,
            "multipart/mixed without a boundary parameter")
    }

    func testBoundaryNeverFound() throws {
        let message = try entity(
            "multipart/alternative; boundary=abc", "--xyz\nContent-Type: text/plain\n\nhi\n--xyz--\n")
        assertIrregular(message, .boundaryNotFound("abc"))
        XCTAssertEqual(Irregularity.boundaryNotFound("abc").description, "multipart boundary \"abc\" never found")
    }

    func testBoundaryNeverClosed() throws {
        assertIrregular(try entity("multipart/mixed; boundary=b1", "--b1\n\nno end\n"), .boundaryNotClosed("b1"))
        XCTAssertEqual(Irregularity.boundaryNotClosed("b1").description, "multipart has no closing boundary \"b1\"")
    }

    func testPartHeaderWithoutItsBlankLine() throws {
        let message = try entity("multipart/mixed; boundary=b", "--b\nContent-Type: text/plain\nhello part\n--b--\n")
        assertIrregular(message, .partHeaderWithoutBlankLine)
        let headerless = try entity(
            "multipart/mixed; boundary=b", "--b\n\nfine\n--b\nplain text, no blank line\n--b--\n")
        assertIrregular(headerless, .partHeaderWithoutBlankLine)
        let nested = try entity(
            "multipart/mixed; boundary=outer",
            "--outer\nContent-Type: message/rfc822\n\nSubject: inner\nbody runs on\n--outer--\n")
        assertIrregular(nested, .partHeaderWithoutBlankLine)
        let deeper = try entity(
            "multipart/mixed; boundary=outer",
            "--outer\nContent-Type: multipart/alternative; boundary=inner\n\n--wrong\n\nx\n--wrong--\n--outer--\n")
        assertIrregular(deeper, .boundaryNotFound("inner"))
    }

    func testWellFormedPartsAreNotIrregular() throws {
        let message = try entity(
            "multipart/mixed; boundary*=us-ascii''b%201",
            "--b 1\n\n--b 1\nContent-Type: text/plain\n\nGr\u{fc}\u{df}e\n--b 1\n\nheaderless part\n--b 1--\n")
        let canonical = string(try Canonical.prepare(message, options: .init(sevenBitSafe: true)).serialized())
        XCTAssertTrue(
            canonical.contains(
                "--b 1\r\n\r\n--b 1\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable"),
            canonical)
        XCTAssertTrue(canonical.contains("\r\n--b 1\r\n\r\nheaderless part\r\n--b 1--\r\n"), canonical)
    }

    func testOneLeafIsOnlyMadeCRLF() throws {
        let body = "--x\nContent-Type: text/plain\n\nGr\u{fc}\u{df}e, From here\n--x--\n"
        let message = try entity("multipart/mixed", body)
        for sevenBitSafe in [true, false] {
            let leaf = try Canonical.prepare(message, options: .init(sevenBitSafe: sevenBitSafe, asOneLeaf: true))
            XCTAssertEqual(
                string(leaf.serialized()),
                "Content-Type: multipart/mixed\r\n\r\n" + body.replacingOccurrences(of: "\n", with: "\r\n"))
        }
        let crlf = try Entity.parse(bytes("Content-Type: multipart/mixed\r\n\r\nx\r\n"))
        XCTAssertEqual(try Canonical.prepare(crlf, options: .init(sevenBitSafe: true, asOneLeaf: true)), crlf)
    }
}
