import Foundation
import TestSupport
import XCTest

/// Archives (issue 13): decrypted content delivered whatever the signature's verdict, signatures
/// judged at the time they were made (signingTime, RFC 3161 tokens), retired keys.
final class ArchiveTests: CLITestCase {
    /// A 2016 message signed by a certificate that expired in 2017 and encrypted to us: by default it is
    /// unverified, but delivered decrypted (signature as received, openssl can still check it at its
    /// time); at signing time it verifies, and the result and the manifest say which time was used.
    func testOldMailIsDecryptedAndVerifiesAtSigningTime() throws {
        let pki = try archivePKI()
        let inbox = try maildir("inbox", [:])
        for name in ["signed-2016", "opaque-2016", "signed-2018", "encrypted-2016", "encrypted-plain"] {
            try FileManager.default.copyItem(atPath: "\(pki)/\(name).eml", toPath: "\(inbox)/new/\(name)")
        }
        let now = path("now")
        try smimegate(["process", "incoming", inbox, "--out", now, "--authserv-id", "gw.test"]).expect(0)
        var records = try recordsByInput(now)
        for name in ["signed-2016", "opaque-2016", "signed-2018", "encrypted-2016"] {
            XCTAssertEqual(records[name]?.outcome, "unverified", name)
            XCTAssertTrue(records[name]?.reason?.contains("expired") == true, "\(name): \(records[name]?.reason ?? "")")
            XCTAssertNil(records[name]?.validationTime, "judged now: nothing to say")
        }
        let decrypted = outputText(now, records["encrypted-2016"]!)
        XCTAssertFalse(decrypted.contains("enveloped-data"), "the ciphertext is not what is delivered")
        XCTAssertTrue(decrypted.contains("multipart/signed"), "the signature stays as received")
        XCTAssertTrue(decrypted.contains("smime=fail ("), decrypted)
        XCTAssertTrue(decrypted.contains("delivered decrypted"), decrypted)
        // The delivered signature is the partner's, intact: openssl verifies it at its own time.
        let checked = try openssl(
            [
                "cms", "-verify", "-CAfile", pki + "/ca.pem", "-attime", epoch("2016-06-01T12:00:00Z"), "-out",
                "/dev/null",
            ], input: Array(decrypted.utf8))
        XCTAssertEqual(checked.status, 0, checked.stderr)
        XCTAssertEqual(records["encrypted-plain"]?.outcome, "decrypted")

        let then = path("then")
        try smimegate([
            "process", "incoming", inbox, "--out", then, "--authserv-id", "gw.test", "--validation-time",
            "signing-time",
        ]).expect(0)
        records = try recordsByInput(then)
        for name in ["signed-2016", "opaque-2016", "encrypted-2016"] {
            XCTAssertEqual(records[name]?.outcome, "verified", "\(name): \(records[name]?.reason ?? "")")
            XCTAssertEqual(records[name]?.validationTime, "2016-06-01T12:00:00Z", name)
            XCTAssertEqual(records[name]?.validationTimeSource, "signing-time", name)
        }
        let verified = outputText(then, records["encrypted-2016"]!)
        XCTAssertTrue(verified.contains("validated at 2016-06-01T12:00:00Z, signing time"), verified)
        XCTAssertTrue(verified.contains("Quarterly report"), verified)
        XCTAssertEqual(records["signed-2018"]?.outcome, "unverified")
        XCTAssertTrue(
            records["signed-2018"]?.reason?.contains(
                "signingTime 2018-03-01T12:00:00Z lies outside the signer certificate's validity") == true,
            records["signed-2018"]?.reason ?? "")

        // A date given: the same as the signature's own time for these; a date after the expiry fails.
        try smimegate(["verify", "--validation-time", "2016-07-01", pki + "/signed-2016.eml", "-o", path("v1")])
            .expect(0)
        let late = try smimegate(["verify", "--validation-time", "2017-02-01T00:00:00Z", pki + "/signed-2016.eml"])
        XCTAssertEqual(late.status, 1)
        XCTAssertTrue(late.stderr.contains("expired"), late.stderr)
        let bad = try smimegate(["verify", "--validation-time", "yesterday", pki + "/signed-2016.eml"])
        XCTAssertEqual(bad.status, 2, bad.stderr)
    }

    /// RFC 3161: a valid token by a TSA the CAs vouch for wins over the signingTime claim (here a 2018
    /// signingTime, after the expiry, stamped in 2016); a token by an untrusted TSA, or over other bytes,
    /// proves nothing, and the signingTime decides.
    func testTimestampTokenIsStrongerEvidence() throws {
        let pki = try archivePKI()
        let stamped = try timestamped(pki + "/signed-2018.eml", pki: pki, at: "2016-06-01 12:05:00", as: "ts.eml")
        let rogue = try timestamped(
            pki + "/signed-2016.eml", pki: pki, at: "2016-06-01 12:05:00", rogue: true, as: "rogue.eml")
        let other = try timestamped(
            pki + "/signed-2018.eml", pki: pki, at: "2016-06-01 12:05:00", imprintOf: "other", as: "other.eml")
        // The independent check of the token: openssl ts verifies it against the signature value.
        try openssl([
            "ts", "-verify", "-token_in", "-in", stamped + ".token.der", "-data", stamped + ".sigvalue.bin", "-CAfile",
            pki + "/ca.pem",
        ]).expect(0)
        let inbox = try maildir("inbox", [:])
        for file in [stamped, rogue, other] {
            try FileManager.default.copyItem(
                atPath: file, toPath: "\(inbox)/new/\(URL(fileURLWithPath: file).lastPathComponent)")
        }
        let out = path("out")
        try smimegate([
            "process", "incoming", inbox, "--out", out, "--authserv-id", "gw.test", "--validation-time", "signing-time",
        ]).expect(0)
        let records = try recordsByInput(out)
        XCTAssertEqual(records["ts.eml"]?.outcome, "verified", records["ts.eml"]?.reason ?? "")
        XCTAssertEqual(records["ts.eml"]?.validationTime, "2016-06-01T12:05:00Z")
        XCTAssertEqual(records["ts.eml"]?.validationTimeSource, "timestamp")
        XCTAssertTrue(outputText(out, records["ts.eml"]!).contains("time-stamp token; authority CN=Archive Test TSA"))
        XCTAssertEqual(records["rogue.eml"]?.outcome, "verified", "the signingTime of 2016 decides")
        XCTAssertEqual(records["rogue.eml"]?.validationTimeSource, "signing-time")
        XCTAssertTrue(
            outputText(out, records["rogue.eml"]!).contains("time-stamp token not used: authority CN=Rogue Test TSA"))
        XCTAssertEqual(records["other.eml"]?.outcome, "unverified")
        XCTAssertTrue(
            records["other.eml"]?.reason?.contains("does not cover this signature") == true,
            records["other.eml"]?.reason ?? "")
    }

    /// A retired certificate decrypts what was encrypted to it, and nothing signs with it any more.
    func testRetiredCertificateOnlyDecrypts() throws {
        let pki = try archivePKI()
        try smimegate(["profile", "create", "org-sign", "--mode", "sign", "--cert", "org"]).expect(0)
        XCTAssertTrue(try smimegate(["cert", "retire", "org"]).expect(0).out.contains("retired org"))
        XCTAssertTrue(try smimegate(["cert", "retire", "org"]).expect(0).out.contains("already retired"))
        XCTAssertTrue(try smimegate(["cert", "list"]).expect(0).out.contains("\tretired"))
        let shown = try smimegate(["cert", "show", "org"]).expect(0).out
        XCTAssertTrue(shown.contains("usable for signing:"), shown)
        XCTAssertTrue(shown.contains("no: retired"), shown)
        let message = try save(Self.plainLF.replacingOccurrences(of: "alice@example.com", with: "a@example.com"), "m")
        let signed = try smimegate(["sign", "--cert", "org", message])
        XCTAssertEqual(signed.status, 1)
        XCTAssertTrue(signed.stderr.contains("retired"), signed.stderr)
        let outbox = try maildir("outbox", ["1": string(read("m"))])
        let run = try smimegate(["process", "outgoing", outbox, "--out", path("out"), "--profile", "org-sign"])
        XCTAssertEqual(run.status, 2)
        XCTAssertTrue(run.stderr.contains("certificate org is retired"), run.stderr)
        XCTAssertTrue(try smimegate(["profile", "show", "org-sign"]).out.contains("retired"))
        // Still decrypts.
        let clear = try smimegate(["decrypt", pki + "/encrypted-plain.eml"]).expect(0)
        XCTAssertTrue(clear.out.contains("Quarterly report"))
        try smimegate(["cert", "unretire", "org"]).expect(0)
        try smimegate(["sign", "--cert", "org", message, "-o", path("signed")]).expect(0)
    }
}
