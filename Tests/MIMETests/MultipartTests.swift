import MIME
import TestSupport
import XCTest

final class MultipartTests: XCTestCase {
    let body = Array(
        "preamble text\r\n--b1\r\nContent-Type: text/plain\r\n\r\npart one\r\n--b1\r\nContent-Type: multipart/mixed; boundary=b2\r\n\r\n--b2\r\n\r\ninner\r\n--b2--\r\n\r\n--b1--\r\nepilogue\r\n"
            .utf8)

    func testPreamblePartsEpilogue() throws {
        let multipart = try Multipart.parse(body, boundary: "b1")
        XCTAssertEqual(multipart.preamble.map(string), "preamble text")
        XCTAssertEqual(multipart.parts.count, 2)
        XCTAssertEqual(string(multipart.parts[0]), "Content-Type: text/plain\r\n\r\npart one")
        XCTAssertEqual(string(multipart.epilogue), "epilogue\r\n")
        XCTAssertEqual(multipart.serialized(.crlf), body)
    }

    func testNestedMultipartParses() throws {
        let outer = try Multipart.parse(body, boundary: "b1")
        let child = try Entity.parse(outer.parts[1])
        let inner = try Multipart.parse(child.body, boundary: try XCTUnwrap(child.contentType["boundary"]))
        XCTAssertEqual(inner.parts.map(string), ["\r\ninner"])
    }

    func testBoundaryPrefixIsNotADelimiter() throws {
        let text = Array("--b1\r\nx\r\n--b1x\r\ny\r\n--b1--\r\n".utf8)
        let multipart = try Multipart.parse(text, boundary: "b1")
        XCTAssertEqual(multipart.parts.map(string), ["x\r\n--b1x\r\ny"])
    }

    func testMissingClosingBoundaryIsAnError() {
        let text = Array("--b1\r\nContent-Type: text/plain\r\n\r\nnever closed\r\n".utf8)
        XCTAssertThrowsError(try Multipart.parse(text, boundary: "b1")) {
            XCTAssertEqual($0 as? Irregularity, .boundaryNotClosed("b1"))
        }
    }

    func testDeepNestingIsRefused() throws {
        var message = "From: a@example.com\r\nContent-Type: text/plain\r\n\r\nleaf\r\n"
        for depth in 0..<200 {
            let b = "d\(depth)"
            let inner = message.components(separatedBy: "\r\n\r\n").dropFirst().joined(separator: "\r\n\r\n")
            let innerType = message.components(separatedBy: "\r\n").first { $0.hasPrefix("Content-Type") }!
            message =
                "From: a@example.com\r\nContent-Type: multipart/mixed; boundary=\(b)\r\n\r\n--\(b)\r\n\(innerType)\r\n\r\n\(inner)\r\n--\(b)--\r\n"
        }
        let entity = try Entity.parse(Array(message.utf8))
        XCTAssertThrowsError(try Canonical.prepare(entity, options: .init(sevenBitSafe: true))) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "MIME nesting deeper than 64 levels")
        }
    }
}
