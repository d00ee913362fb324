import Foundation
import TestSupport
import XCTest

/// Issue 8, item 9: what sloppy mailers write is processed, not failed. A
/// structure that cannot be trusted travels as one opaque leaf (signed opaque,
/// never detached) with a warning in the manifest; only a message without any
/// header fails. Every output is checked with the openssl command line.
final class RealWorldMailTests: CLITestCase {
    struct Record: Decodable {
        struct File: Decodable {
            let file: String
        }
        let messageId: String?
        let outcome: String
        let outputs: [File]
        let reason: String?
        let warning: String?
    }

    static let envelopeLine = "From alice@example.com Sun Nov 29 10:00:00 2026\n"

    static func header(_ id: String, _ contentType: String?) -> String {
        "From: Alice <alice@example.com>\nTo: bob@partner.example\nSubject: \(id)\nMessage-ID: <\(id)@example.com>\n"
            + "MIME-Version: 1.0\n" + (contentType.map { "Content-Type: \($0)\n" } ?? "")
    }

    /// Message-ID (left of the @) → the file's text.
    static let messages: [String: String] = [
        "clean": header("clean", "text/plain; charset=us-ascii") + "\nbody of clean\n",
        "envelope": envelopeLine + header("envelope", "text/plain") + "\nbody of envelope\n",
        "rfc2231": header("rfc2231", "multipart/mixed; boundary*=utf-8''%3D%3D_r%C3%A9al_%3D%3D")
            + "\n--==_réal_==\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n"
            + "body of rfc2231, Grüße\n--==_réal_==\nContent-Type: text/plain\n"
            + "Content-Disposition: attachment; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt\n\nattached\n--==_réal_==--\n",
        "noboundary": header("noboundary", "multipart/mixed")
            + "\n--x\nContent-Type: text/plain\n\nbody of noboundary, Grüße\n--x--\n",
        "neverfound": header("neverfound", "multipart/alternative; boundary=\"abc\"")
            + "\n--xyz\nContent-Type: text/plain\n\nbody of neverfound\n--xyz--\n",
        "unclosed": header("unclosed", "multipart/mixed; boundary=b1")
            + "\n--b1\nContent-Type: text/plain\n\nbody of unclosed\n",
        "partnoblank": header("partnoblank", "multipart/mixed; boundary=b2")
            + "\n--b2\nContent-Type: text/plain\nbody of partnoblank\n--b2--\n",
        "runon": header("runon", "text/plain") + "body of runon, straight after the header\nFrom here on: more\n",
        "noheader": "body of noheader: a file that is no message at all\n",
    ]

    static let expectedWarnings: [String: String] = [
        "noboundary": "multipart/mixed without a boundary parameter",
        "neverfound": "multipart boundary \"abc\" never found",
        "unclosed": "multipart has no closing boundary \"b1\"",
        "partnoblank": "a body part's header runs into its body (no blank line)",
        "runon": "the header runs into the body at line 7 (no blank line)",
    ]

    func maildir(_ name: String) throws -> String {
        let root = path(name)
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        for (file, text) in Self.messages { try write(text, to: URL(fileURLWithPath: root + "/new/" + file)) }
        return root
    }

    /// Runs `process outgoing` with `profile`; the records by Message-ID (left of the @), and the one that failed.
    func process(_ inbox: String, profile: String) throws -> (records: [String: Record], failed: Record) {
        let out = path("out-\(profile)")
        let run = try smimegate(["process", "outgoing", inbox, "--out", out, "--profile", profile, "--no-progress"])
            .expect(1)
        XCTAssertTrue(run.stderr.contains("1 message(s) failed"), run.stderr)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let records = try string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n").map {
            try decoder.decode(Record.self, from: Data($0.utf8))
        }
        XCTAssertEqual(records.count, Self.messages.count)
        let failed = try XCTUnwrap(records.first { $0.outcome == "failed" })
        var byID: [String: Record] = [:]
        for record in records {
            if let id = record.messageId { byID[String(id.prefix { $0 != "@" })] = record }
        }
        return (byID, failed)
    }

    func output(_ record: Record, profile: String) throws -> String {
        XCTAssertEqual(record.outputs.count, 1)
        return path("out-\(profile)") + "/" + (try XCTUnwrap(record.outputs.first)).file
    }

    func testSignedDetachedProfileSignsSloppyMailOpaqueWithAWarning() throws {
        // Without header protection: these tests pin the signed content byte for byte (HeaderProtectionTests has it).
        try smimegate([
            "profile", "create", "s", "--mode", "sign", "--cert", "alice", "--sign-mode", "detached",
            "--header-protection", "none",
        ])
        .expect(0)
        let (records, failed) = try process(try maildir("in"), profile: "s")
        XCTAssertEqual(
            failed.reason, "not an RFC 5322 message: line 1 is not a header field", "only the file without a header")
        XCTAssertEqual(Set(records.keys), Set(Self.messages.keys).subtracting(["noheader"]))
        for (id, record) in records {
            XCTAssertEqual(record.outcome, "signed", id)
            let file = try output(record, profile: "s")
            let signed = string(bytes(of: URL(fileURLWithPath: file)))
            let content = try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", file]).expect(0).out
            XCTAssertTrue(content.contains("body of \(id)"), "\(id): \(content)")
            if let warning = Self.expectedWarnings[id] {
                XCTAssertEqual(record.warning, warning + ": signed opaque", id)
                XCTAssertTrue(
                    signed.contains("Content-Type: application/pkcs7-mime; smime-type=signed-data"), "\(id) opaque")
                XCTAssertFalse(signed.contains("body of \(id)"), "\(id): inside the CMS, where no relay can alter it")
            } else {
                XCTAssertNil(record.warning, id)
                XCTAssertTrue(signed.contains("Content-Type: multipart/signed;"), "\(id) detached")
            }
            XCTAssertFalse(signed.hasPrefix("From "), "\(id): no envelope line in the output")
            XCTAssertFalse(
                content.contains("Sun Nov 29 10:00:00 2026"), "\(id): no envelope line in the signed content")
        }
        // The RFC 2231 boundary was found: the 8-bit part was made 7-bit safe inside the detached signature.
        let rfc2231 = try openssl([
            "cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try output(records["rfc2231"]!, profile: "s"),
        ])
        .expect(0).out
        XCTAssertTrue(
            rfc2231.contains("Content-Transfer-Encoding: quoted-printable\r\n\r\nbody of rfc2231, Gr=C3=BC=C3=9Fe"),
            rfc2231)
        // The opaque leaf keeps the structure as written, the header repaired with its blank line.
        let runon = try openssl([
            "cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try output(records["runon"]!, profile: "s"),
        ])
        .expect(0).out
        XCTAssertEqual(
            runon, "Content-Type: text/plain\r\n\r\nbody of runon, straight after the header\r\nFrom here on: more\r\n")
        let part = try openssl(
            ["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try output(records["partnoblank"]!, profile: "s")]
        ).expect(0).out
        XCTAssertTrue(
            part.hasSuffix("\r\n\r\n--b2\r\nContent-Type: text/plain\r\nbody of partnoblank\r\n--b2--\r\n"), part)
        // The envelope line is gone, the message is whole.
        let envelope = string(bytes(of: URL(fileURLWithPath: try output(records["envelope"]!, profile: "s"))))
        XCTAssertTrue(envelope.hasPrefix("From: Alice <alice@example.com>\n"), envelope)
    }

    func testEncryptProfileEncryptsSloppyMailAsItIsWithAWarning() throws {
        try smimegate(["profile", "create", "e", "--mode", "encrypt", "--header-protection", "none"]).expect(0)
        let (records, failed) = try process(try maildir("in"), profile: "e")
        XCTAssertEqual(failed.reason, "not an RFC 5322 message: line 1 is not a header field")
        XCTAssertEqual(Set(records.keys), Set(Self.messages.keys).subtracting(["noheader"]))
        for (id, record) in records {
            XCTAssertEqual(record.outcome, "encrypted", id)
            XCTAssertEqual(record.warning, Self.expectedWarnings[id].map { $0 + ": encrypted as one part" }, id)
            let file = try output(record, profile: "e")
            let plain = try openssl(
                ["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", file]
            ).expect(0).out
            XCTAssertTrue(plain.contains("body of \(id)"), "\(id): \(plain)")
            XCTAssertFalse(plain.contains("Sun Nov 29 10:00:00 2026"), id)
        }
        let file = try output(records["noboundary"]!, profile: "e")
        let plain = try openssl([
            "cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", file,
        ])
        .expect(0).out
        XCTAssertEqual(
            plain,
            "Content-Type: multipart/mixed\r\n\r\n--x\r\nContent-Type: text/plain\r\n\r\n"
                + "body of noboundary, Grüße\r\n--x--\r\n",
            "encrypted as it is: line endings made CRLF, nothing re-encoded")
    }

    func testIncomingPassesSloppyMailWithoutTheEnvelopeLine() throws {
        let out = path("out-in")
        let run = try smimegate(["process", "incoming", try maildir("in"), "--out", out, "--no-progress"]).expect(1)
        XCTAssertTrue(run.stderr.contains("1 message(s) failed"), run.stderr)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let records = try string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n").map {
            try decoder.decode(Record.self, from: Data($0.utf8))
        }
        XCTAssertEqual(records.filter { $0.outcome == "passed" }.count, Self.messages.count - 1)
        let runon = try XCTUnwrap(records.first { $0.messageId == "runon@example.com" })
        XCTAssertEqual(runon.warning, Self.expectedWarnings["runon"])
        let envelope = try XCTUnwrap(records.first { $0.messageId == "envelope@example.com" })
        XCTAssertNil(envelope.warning)
        let delivered = string(bytes(of: URL(fileURLWithPath: out + "/" + envelope.outputs[0].file)))
        XCTAssertEqual(delivered, Self.header("envelope", "text/plain") + "\nbody of envelope\n")
    }

    /// Only a mode that signs needs a sender: encrypt-only mail without one is still encrypted;
    /// it fails only when it would have to bounce (there is nobody to bounce it to).
    func testAMessageWithoutSenderFailsOnlyWhereASenderIsNeeded() throws {
        let root = path("nosender")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        try write(
            "To: bob@partner.example\nSubject: anonymous\n\nno sender\n", to: URL(fileURLWithPath: root + "/new/1"))
        try write(
            "To: bob@partner.example, nokey@nowhere.example\nSubject: anonymous\n\nno sender\n",
            to: URL(fileURLWithPath: root + "/new/2"))
        try smimegate(["profile", "create", "e", "--mode", "encrypt", "--missing-key", "bounce"]).expect(0)
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        func outcomes(_ profile: String) throws -> [String: Record] {
            let out = path("out-\(profile)")
            try smimegate(["process", "outgoing", root, "--out", out, "--profile", profile]).expect(1)
            let lines = string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n")
            var byFile: [String: Record] = [:]
            for line in lines {
                let input = try XCTUnwrap(
                    (try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["input"] as? String)
                byFile[(input as NSString).lastPathComponent] = try decoder.decode(Record.self, from: Data(line.utf8))
            }
            return byFile
        }
        let encrypted = try outcomes("e")
        XCTAssertEqual(encrypted["1"]?.outcome, "encrypted")
        try openssl(decrypt: path("out-e/" + (try XCTUnwrap(encrypted["1"]?.outputs.first)).file))
        XCTAssertEqual(encrypted["2"]?.outcome, "failed")
        XCTAssertTrue(encrypted["2"]?.reason?.contains("no sender address to bounce to") ?? false)
        let signed = try outcomes("s")
        XCTAssertEqual(signed["1"]?.outcome, "failed")
        XCTAssertEqual(signed["1"]?.reason, "the message has no sender address")
    }

    @discardableResult
    func openssl(decrypt file: String) throws -> String {
        try openssl(["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", file])
            .expect(0).out
    }
}
