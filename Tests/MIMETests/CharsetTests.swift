import MIME
import XCTest

/// `Charset.scannableText`: what a content scanner reads, for every label a sender may use.
final class CharsetTests: XCTestCase {
    func testWhatDecodeReadsIsReadTheSame() {
        XCTAssertEqual(Charset.scannableText(Array("café".utf8), charset: "UTF-8"), "café")
        XCTAssertEqual(Charset.scannableText([0x63, 0x61, 0x66, 0xE9], charset: "iso-8859-1"), "café")
    }

    /// RFC 2152's own examples, `+-` for "+", and a shift ended by a character outside base64.
    func testUTF7IsDecoded() {
        XCTAssertEqual(Charset.scannableText(Array("Hi Mom -+Jjo--!".utf8), charset: "utf-7"), "Hi Mom -☺-!")
        XCTAssertEqual(Charset.scannableText(Array("+ZeVnLIqe-".utf8), charset: "UTF-7"), "日本語")
        XCTAssertEqual(Charset.scannableText(Array("A+ImIDkQ.".utf8), charset: "unicode-1-1-utf-7"), "A≢Α.")
        XCTAssertEqual(Charset.scannableText(Array("1 +- 1 = 2".utf8), charset: "utf-7"), "1 + 1 = 2")
        XCTAssertEqual(Charset.scannableText(Array("strictly+ACA-private".utf8), charset: "utf-7"), "strictly private")
        XCTAssertEqual(Charset.scannableText([0x61, 0xFF], charset: "utf-7"), "a\u{FFFD}")
    }

    /// RFC 2781: a byte order mark decides the order, big-endian without one; the labelled
    /// orders read no mark; a lone last byte is shown as U+FFFD.
    func testUTF16AndUTF32AreDecoded() {
        XCTAssertEqual(Charset.scannableText([0xFE, 0xFF, 0, 0x61, 0x26, 0x3A], charset: "utf-16"), "a☺")
        XCTAssertEqual(Charset.scannableText([0xFF, 0xFE, 0x61, 0, 0x3A, 0x26], charset: "utf-16"), "a☺")
        XCTAssertEqual(Charset.scannableText([0, 0x61, 0, 0x62], charset: "UTF-16"), "ab")
        XCTAssertEqual(Charset.scannableText([0x61, 0, 0x62, 0], charset: "utf-16le"), "ab")
        XCTAssertEqual(Charset.scannableText([0, 0x61, 0], charset: "utf-16be"), "a\u{FFFD}")
        XCTAssertEqual(Charset.scannableText([0xD8, 0x3D, 0xDE, 0x00], charset: "utf-16be"), "😀")
        XCTAssertEqual(Charset.scannableText([0, 0, 0xFE, 0xFF, 0, 0, 0, 0x61], charset: "utf-32"), "a")
        XCTAssertEqual(Charset.scannableText([0x00, 0xF6, 0x01, 0x00, 0x61, 0, 0, 0], charset: "utf-32le"), "😀a")
        XCTAssertEqual(Charset.scannableText([0, 0x11, 0, 0], charset: "utf-32be"), "\u{FFFD}", "no such scalar")
    }

    /// A label nobody knows, or bytes that do not decode in theirs: read as UTF-8, so ASCII stays.
    func testAnythingElseIsReadAsUTF8() {
        XCTAssertEqual(Charset.scannableText(Array("plain text".utf8), charset: "x-unknown"), "plain text")
        XCTAssertEqual(Charset.scannableText([0x61, 0xFF, 0x62], charset: "euc-kr"), "a\u{FFFD}b")
        XCTAssertNil(Charset.decode(Array("+AEA-".utf8), charset: "utf-7"), "decode still leaves UTF-7 alone")
    }
}
