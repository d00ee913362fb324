import Foundation
import MIME
import Pipeline
import Policy
import TestSupport
import XCTest

final class PolicyTests: XCTestCase {
    func testProfileRules() {
        XCTAssertEqual(SendingProfile(name: "p", mode: .sign).problems, ["mode sign signs: a certificate (--cert) is required"])
        XCTAssertEqual(SendingProfile(name: "p", mode: .encrypt).problems, [])
        XCTAssertEqual(SendingProfile(name: "p", mode: .triple, certificate: "gw", cipher: "des").problems, ["unknown cipher \"des\""])
        XCTAssertEqual(SendingProfile(name: "bad name", mode: .encrypt).problems.count, 1)
    }

    func testProfileFileRoundTripAndProblemsByName() {
        let profiles = [
            SendingProfile(name: "a", mode: .signEncrypt, certificate: "gw", missingKey: .split),
            SendingProfile(name: "b", mode: .encrypt, cipher: "aes-128-gcm", oaep: true),
        ]
        let text = ProfileFile.render(profiles)
        let parsed = ProfileFile.parse(text)
        XCTAssertEqual(parsed.problems, [])
        XCTAssertEqual(parsed.profiles, profiles)
        let broken =
            "[profile x]\nmode = sign\n\n[profile y]\nmode = teleport\ncolour = blue\n[profile z]\nmode = encrypt\nmissing-key = shrug\n"
        XCTAssertEqual(
            ProfileFile.parse(broken).problems,
            [
                "profile x: mode sign signs: a certificate (--cert) is required", "profile y: unknown mode \"teleport\"",
                "profile y: unknown setting \"colour\"", "profile z: unknown missing-key action \"shrug\"",
            ])
    }

    func testEnvelopeSenderAndRecipients() throws {
        let message = try Entity.parse(
            Array(
                "Return-Path: <bounces@example.com>\nFrom: Alice <alice@example.com>\nSender: sec@example.com\nTo: Bob <bob@x.example>, carol@y.example\nCc: BOB@x.example\nBcc: dave@z.example\n\nhi\n"
                    .utf8))
        let envelope = Envelope(message)
        XCTAssertEqual(envelope.sender, "bounces@example.com")
        XCTAssertEqual(envelope.recipients, ["bob@x.example", "carol@y.example", "dave@z.example"])
        XCTAssertEqual(Envelope(try Entity.parse(Array("From: a@example.com\nSender: s@example.com\n\n".utf8))).sender, "s@example.com")
        XCTAssertEqual(Envelope(try Entity.parse(Array("From: a@example.com\n\n".utf8))).sender, "a@example.com")
    }

    func testDeliveryStatusNotificationStructure() throws {
        let original = try Entity.parse(
            Array("From: alice@example.com\nTo: dave@example2.com\nSubject: Plans\nMessage-ID: <p@example.com>\n\nsecret body\n".utf8))
        let dsn = DeliveryStatus(reportingHost: "gw.example.com").bounce(
            original: original, sender: "alice@example.com", reason: "no usable S/MIME certificate for dave@example2.com",
            recipients: [.init(address: "dave@example2.com", reason: "no usable S/MIME certificate")], id: "abc")
        XCTAssertEqual(dsn.field("To"), "<alice@example.com>")
        XCTAssertEqual(dsn.field("Auto-Submitted"), "auto-replied")
        XCTAssertEqual(dsn.contentType.mediaType, "multipart/report")
        XCTAssertEqual(dsn.contentType["report-type"], "delivery-status")
        XCTAssertEqual(dsn.lineEnding, .lf, "the bounce follows the original's line endings")
        let parts = try Multipart.parse(dsn.body, boundary: try XCTUnwrap(dsn.contentType["boundary"])).parts.map { try Entity.parse($0) }
        XCTAssertEqual(parts.map(\.contentType.mediaType), ["text/plain", "message/delivery-status", "text/rfc822-headers"])
        let status = string(parts[1].body)
        XCTAssertTrue(status.contains("Reporting-MTA: dns; gw.example.com\n"))
        XCTAssertTrue(status.contains("Final-Recipient: rfc822; dave@example2.com\nAction: failed\nStatus: 5.7.1\n"), status)
        XCTAssertTrue(string(parts[2].body).contains("Subject: Plans"))
        XCTAssertFalse(string(dsn.serialized()).contains("secret body"), "headers only, not the content")
    }
}

final class ManifestTests: XCTestCase {
    /// The hand-written JSON line says what JSONEncoder would.
    func testRecordLineMatchesJSONEncoder() throws {
        var record = ManifestRecord(
            input: "in/\"odd\\name\"\n", offset: 42, messageId: "x@y", direction: "outgoing", outcome: "split", profile: "p",
            outputs: [
                .init(file: "encrypted/new/a.split.0", recipients: ["a@b", "c@d"]), .init(file: "split/new/a.split.1", recipients: []),
            ],
            reason: "tab\there, ünïcode, \u{1}", signer: nil, bytes: 1234, elapsedMs: 0.92)
        record.time = RecordTime.now()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let expected = try JSONSerialization.jsonObject(with: try encoder.encode(record)) as? NSDictionary
        let line = record.jsonLine
        XCTAssertEqual(line.last, 10)
        XCTAssertEqual(line.filter { $0 == 10 }.count, 1, "one line")
        let got = try JSONSerialization.jsonObject(with: Data(line)) as? NSDictionary
        XCTAssertEqual(got, expected)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        XCTAssertEqual(try decoder.decode(ManifestRecord.self, from: Data(line)).key, "in/\"odd\\name\"\n@42")
    }
}
