import MIME
import TestSupport
import XCTest

/// RFC 2231 parameter value and encoded word extensions, starting with the RFC's own examples.
final class ExtendedParameterTests: XCTestCase {
    /// RFC 2231 §3: a long value split over numbered sections.
    func testContinuationsAreJoinedInOrder() throws {
        let type = try XCTUnwrap(
            ContentType(
                parsing: "message/external-body; access-type=URL;\r\n URL*0=\"ftp://\";\r\n"
                    + " URL*1=\"cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar\""))
        XCTAssertEqual(type["url"], "ftp://cs.utk.edu/pub/moore/bulk-mailer/bulk-mailer.tar")
        XCTAssertEqual(type.parameters.map(\.name), ["access-type", "URL"])
        XCTAssertEqual(type["access-type"], "URL")
    }

    /// RFC 2231 §4: charset and language before the percent-encoded value.
    func testCharsetAndLanguageAreDecoded() throws {
        let type = try XCTUnwrap(
            ContentType(parsing: "application/x-stuff;\r\n title*=us-ascii'en-us'This%20is%20%2A%2A%2Afun%2A%2A%2A"))
        XCTAssertEqual(type["title"], "This is ***fun***")
        XCTAssertEqual(type.parameters.map(\.name), ["title"])
    }

    /// RFC 2231 §4.1: encoded and plain sections mixed in one value.
    func testEncodedAndPlainSectionsMix() throws {
        let type = try XCTUnwrap(
            ContentType(
                parsing: "application/x-stuff;\r\n title*0*=us-ascii'en'This%20is%20even%20more%20;\r\n"
                    + " title*1*=%2A%2A%2Afun%2A%2A%2A%20;\r\n title*2=\"isn't it!\""))
        XCTAssertEqual(type["title"], "This is even more ***fun*** isn't it!")
    }

    func testUTF8AndLatin1ValuesBecomeText() throws {
        let utf8 = try XCTUnwrap(
            ContentType(parsing: "text/plain; name*=UTF-8''Gr%C3%BC%C3%9Fe%20aus%20%E6%9D%B1%E4%BA%AC.txt"))
        XCTAssertEqual(utf8["name"], "Grüße aus 東京.txt")
        let latin1 = try XCTUnwrap(ContentType(parsing: "text/plain; name*=ISO-8859-1'de'Gr%FC%DFe.txt"))
        XCTAssertEqual(latin1["name"], "Grüße.txt")
        let quoted = try XCTUnwrap(ContentType(parsing: "text/plain; name*=\"utf-8''a%20b.txt\""))
        XCTAssertEqual(quoted["name"], "a b.txt", "a quoted extended value, as some mailers write it")
    }

    func testExtendedBoundaryFindsTheParts() throws {
        let type = try XCTUnwrap(ContentType(parsing: "multipart/mixed; boundary*=''%3D%3D_part%201_%3D%3D"))
        XCTAssertEqual(type["boundary"], "==_part 1_==")
        let body = Array("--==_part 1_==\r\n\r\none\r\n--==_part 1_==--\r\n".utf8)
        XCTAssertEqual(
            try Multipart.parse(body, boundary: try XCTUnwrap(type["boundary"])).parts.map(string), ["\r\none"])
    }

    func testSectionsOutOfOrderWithNamesInAnyCase() throws {
        let type = try XCTUnwrap(ContentType(parsing: "text/plain; NAME*2=c; name*0*=utf-8''%61; Name*1=b"))
        XCTAssertEqual(type["name"], "abc")
        XCTAssertEqual(type.parameters.count, 1)
    }

    func testExtendedValueWinsOverThePlainFallback() throws {
        let type = try XCTUnwrap(
            ContentType(parsing: "application/pdf; name=\"fallback.pdf\"; name*=UTF-8''Gr%C3%BC%C3%9Fe.pdf; x=1"))
        XCTAssertEqual(type["name"], "Grüße.pdf")
        XCTAssertEqual(type.parameters.map(\.name), ["name", "x"])
    }

    func testMalformedEscapesAreKeptAsWritten() throws {
        XCTAssertEqual(try XCTUnwrap(ContentType(parsing: "text/plain; name*=UTF-8''100%zz%4"))["name"], "100%zz%4")
        XCTAssertEqual(
            try XCTUnwrap(ContentType(parsing: "text/plain; name*=no-quotes%20here"))["name"], "no-quotes here")
    }

    func testPlainParametersAreUntouched() throws {
        let type = try XCTUnwrap(ContentType(parsing: "text/plain; charset=\"utf-8\"; format=flowed; note=\"50%25\""))
        XCTAssertEqual(type.parameters.map(\.name), ["charset", "format", "note"])
        XCTAssertEqual(type["note"], "50%25", "only name* parameters are percent-decoded")
    }

    /// As written: the plain value beside an RFC 2231 one is kept, repeated names stay, and
    /// sections are neither joined nor decoded.
    func testParametersAsWrittenKeepEveryValue() throws {
        let value = "x/attachment; filename*=utf-8''a%2Etxt; filename=\"b.exe\"; filename=c.scr; name*0=d; name*1=e"
        let written = try XCTUnwrap(ContentType.parsingAsWritten(value))
        XCTAssertEqual(written.subtype, "attachment")
        XCTAssertEqual(written.parameters.map(\.name), ["filename*", "filename", "filename", "name*0", "name*1"])
        XCTAssertEqual(written.parameters.map(\.value), ["utf-8''a%2Etxt", "b.exe", "c.scr", "d", "e"])
        let joined = try XCTUnwrap(ContentType(parsing: value))
        XCTAssertEqual(joined.parameters.map(\.value), ["a.txt", "de"])
        XCTAssertNil(ContentType.parsingAsWritten("attachment; filename=a"))
    }
}
