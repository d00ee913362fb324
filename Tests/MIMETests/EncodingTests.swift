import MIME
import TestSupport
import XCTest

final class EncodingTests: XCTestCase {
    func testBase64RoundTripAndLineLength() throws {
        let data = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 31) }
        let encoded = Base64.encode(data)
        XCTAssertTrue(string(encoded).components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        XCTAssertEqual(try Base64.decode(encoded), data)
        XCTAssertEqual(try Base64.decode(Array("TWFu\r\nTWE=\n".utf8)), Array("ManMa".utf8))
    }

    /// Python's base64 module is the peer: its `encodebytes` writes 76-character lines ended by LF,
    /// exactly what ours writes with `ending: .lf`, for every length across the group, line and
    /// fast-path boundaries; and what it encodes in other shapes (64-character lines, CRLF, a group
    /// split across lines, white space inside) decodes to the same bytes here.
    func testBase64AgreesWithPythonAtEveryBoundary() throws {
        let script = """
            import base64, sys
            data = bytes((i * 37 + i // 7) % 256 for i in range(700))
            out = []
            for n in list(range(0, 240)) + [570, 571, 572, 699]:
                chunk = data[:n]
                b = base64.b64encode(chunk)
                out.append(base64.encodebytes(chunk))
                out.append(b"\\r\\n".join(b[i:i + 64] for i in range(0, len(b), 64)))
                out.append(b"\\n ".join(b[i:i + 6] for i in range(0, len(b), 6)) + b" \\t")
            sys.stdout.buffer.write(b"#".join(out))
            """
        let result = try runProcess(Paths.python, ["-c", script])
        XCTAssertEqual(result.status, 0, result.stderr)
        let shapes = result.stdout.split(separator: UInt8(ascii: "#"), omittingEmptySubsequences: false).map(Array.init)
        let sizes = Array(0..<240) + [570, 571, 572, 699]
        XCTAssertEqual(shapes.count, sizes.count * 3)
        let data: [UInt8] = (0..<700).map { (i: Int) -> UInt8 in UInt8((i * 37 + i / 7) % 256) }
        for (k, n) in sizes.enumerated() {
            let chunk = Array(data[..<n])
            let encoded = Base64.encode(chunk, ending: .lf)
            XCTAssertTrue(encoded == shapes[3 * k], "\(n) bytes: not what Python's encodebytes writes")
            for shape in shapes[(3 * k)..<(3 * k + 3)] {
                XCTAssertTrue((try? Base64.decode(shape)) == chunk, "\(n) bytes: \(string(shape)) decodes differently")
            }
        }
        // Any line length: one line, and no overflow for the largest.
        XCTAssertEqual(Base64.encode(Array(data[..<5]), lineLength: Int.max), Array("ACVKb5Q=\r\n".utf8))
    }

    func testTruncatedBase64IsAnError() {
        XCTAssertThrowsError(try Base64.decode(Array("TWFuTW".utf8))) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "truncated base64: the final group is incomplete")
        }
        XCTAssertThrowsError(try Base64.decode(Array("TW*u".utf8))) {
            XCTAssertEqual(($0 as? MIMEError)?.reason, "broken base64: invalid character 0x2a")
        }
    }

    /// For scanning: characters outside the alphabet are skipped, `=` ends its group, and
    /// what strict decoding rejects still gives the bytes a forgiving reader shows.
    func testLenientBase64DecodesWhatStrictRejects() {
        func lenient(_ text: String) -> String {
            String(decoding: Base64.decodeLeniently(Array(text.utf8)), as: UTF8.self)
        }
        XCTAssertEqual(lenient("dGhpcyBpcyBzdHJpY3RseSBwcml2YXRl!\r\n"), "this is strictly private")
        XCTAssertEqual(lenient("aGVs!bG8=\n"), "hello")
        XCTAssertEqual(lenient("YQ==Yg==Yw"), "abc", "padding ends a group; more may follow")
        XCTAssertEqual(lenient("YWJ"), "ab", "a truncated group gives what it holds")
        XCTAssertEqual(lenient("Y"), "")
        XCTAssertEqual(Base64.decodeLeniently(Base64.encode(Array(0...255))), Array(0...255))
    }

    func testQuotedPrintableProtectsFromLinesEightBitAndTrailingSpace() {
        let text = Array("From here\r\nGrüße \r\n.\r\n".utf8)
        let encoded = string(QuotedPrintable.encode(text))
        XCTAssertEqual(encoded, "=46rom here\r\nGr=C3=BC=C3=9Fe=20\r\n=2E\r\n")
        XCTAssertEqual(QuotedPrintable.decode(Array(encoded.utf8)), text)
    }

    /// Python's quopri is the peer: what we encode it decodes to the very bytes we were given
    /// (long lines, trailing white space, "=", eight-bit bytes, "From " and "." at a line's
    /// start, CRLF and LF), and every output line stays within RFC 2045's 76 characters.
    func testQuotedPrintableDecodesInPythonToTheSameBytes() throws {
        var inputs: [[UInt8]] = []
        var seed: UInt32 = 7
        for n in 0..<60 {
            var line: [UInt8] = []
            for _ in 0..<(n * 5 % 170) {
                seed = seed &* 1_103_515_245 &+ 12345
                let pick = Int(seed >> 16) % 100
                line.append(
                    pick < 70
                        ? UInt8(97 + pick % 26) : pick < 80 ? 32 : pick < 85 ? 61 : pick < 88 ? 9 : UInt8(128 + pick))
            }
            let start: [UInt8] = n % 7 == 0 ? Array("From ".utf8) : n % 11 == 0 ? [46] : []
            inputs.append(start + line + (n % 3 == 0 ? [32] : []))
        }
        let crlf = Array(inputs.joined(separator: [13, 10])) + [13, 10]
        let lf = Array(inputs.joined(separator: [10]))  // no final line break
        let encoded = [QuotedPrintable.encode(crlf, ending: .crlf), QuotedPrintable.encode(lf, ending: .lf)]
        for text in encoded {
            for line in text.split(separator: 10) { XCTAssertLessThanOrEqual(line.count, 77) }  // 76 and a CR
            XCTAssertFalse(text.split(separator: 10).contains { $0.starts(with: Array("From ".utf8)) })
        }
        let script = "import quopri, sys; sys.stdout.buffer.write(quopri.decodestring(sys.stdin.buffer.read()))"
        XCTAssertTrue(try runProcess(Paths.python, ["-c", script], input: encoded[0]).stdout == crlf)
        XCTAssertTrue(try runProcess(Paths.python, ["-c", script], input: encoded[1]).stdout == lf)
        XCTAssertTrue(QuotedPrintable.decode(encoded[0]) == crlf)
    }

    func testQuotedPrintableSoftBreaksLongLines() {
        let long = Array(String(repeating: "x", count: 200).utf8)
        let encoded = string(QuotedPrintable.encode(long))
        XCTAssertTrue(encoded.components(separatedBy: "\r\n").allSatisfy { $0.count <= 76 })
        XCTAssertEqual(QuotedPrintable.decode(Array(encoded.utf8)), long)
    }

    func testCanonicalFormForDetachedSignatures() throws {
        let message = try Entity.parse(
            Array(
                "Content-Type: multipart/mixed; boundary=XX\n\n--XX\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\nFrom me\n--XX\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n\u{0}\u{1}\n--XX\nContent-Type: text/plain\n\nplain ascii\n--XX--\n"
                    .utf8))
        let canonical = try Canonical.prepare(message, options: .init(sevenBitSafe: true)).serialized()
        let text = string(canonical)
        XCTAssertFalse(canonical.contains { $0 >= 128 }, "8-bit bytes survived")
        XCTAssertFalse(text.replacingOccurrences(of: "\r\n", with: "").contains("\n"), "bare LF survived")
        XCTAssertTrue(text.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\nGr=C3=BC=C3=9Fe\r\n=46rom me"))
        XCTAssertTrue(text.contains("Content-Transfer-Encoding: base64\r\n\r\nAAE=\r\n"))
        XCTAssertTrue(text.contains("Content-Type: text/plain\r\n\r\nplain ascii\r\n--XX--"))
    }

    func testCanonicalFormForEnvelopesOnlyConvertsLineEndings() throws {
        let message = try Entity.parse(
            Array("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße\n".utf8))
        let canonical = try Canonical.prepare(message, options: .init(sevenBitSafe: false)).serialized()
        XCTAssertEqual(
            string(canonical),
            "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGrüße\r\n")
    }
}
