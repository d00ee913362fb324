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

    /// `process rekey`: an archive encrypted to a retired key moves to a new one. openssl decrypts each
    /// output with the new key to exactly what it decrypts from the original with the old key, and the
    /// old key no longer opens it; mail that is not encrypted passes unchanged.
    func testRekeyMovesAnArchiveToANewKey() throws {
        let pki = try archivePKI()
        try organisationCertificate("new")
        try smimegate(["cert", "retire", "org"]).expect(0)
        let inbox = try maildir("inbox", [:])
        for name in ["encrypted-2016", "encrypted-plain", "signed-2016"] {
            try FileManager.default.copyItem(atPath: "\(pki)/\(name).eml", toPath: "\(inbox)/new/\(name)")
        }
        let refused = try smimegate(["process", "rekey", inbox, "--out", path("x"), "--to-cert", "org"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("retired"), refused.stderr)
        let out = path("out")
        try smimegate(["process", "rekey", inbox, "--out", out, "--to-cert", "new", "--cipher", "aes-256-gcm"]).expect(
            0)
        let records = try recordsByInput(out)
        XCTAssertEqual(records["signed-2016"]?.outcome, "passed")
        XCTAssertEqual(
            read("inbox/new/signed-2016"),
            bytes(of: URL(fileURLWithPath: out + "/" + records["signed-2016"]!.outputs[0].file)))
        for name in ["encrypted-2016", "encrypted-plain"] {
            XCTAssertEqual(records[name]?.outcome, "rekeyed", name)
            let rekeyed = out + "/" + records[name]!.outputs[0].file
            XCTAssertTrue(outputText(out, records[name]!).contains("authEnveloped-data"))
            let before = try openssl([
                "cms", "-decrypt", "-recip", path("org.pem"), "-inkey", path("org.key"), "-in", "\(pki)/\(name).eml",
            ]).expect(0)
            let after = try openssl([
                "cms", "-decrypt", "-recip", path("new.pem"), "-inkey", path("new.key"), "-in", rekeyed,
            ])
            .expect(0)
            XCTAssertEqual(after.stdout, before.stdout, "\(name): the content byte for byte")
            let old = try openssl([
                "cms", "-decrypt", "-recip", path("org.pem"), "-inkey", path("org.key"), "-in", rekeyed,
            ])
            XCTAssertNotEqual(old.status, 0, "the retired key no longer opens it")
        }
        // The inner signature is untouched: it still verifies at its time.
        let inner = try openssl([
            "cms", "-decrypt", "-recip", path("new.pem"), "-inkey", path("new.key"), "-in",
            out + "/" + records["encrypted-2016"]!.outputs[0].file,
        ]).expect(0)
        try openssl(
            [
                "cms", "-verify", "-CAfile", pki + "/ca.pem", "-attime", epoch("2016-06-01T12:00:00Z"), "-out",
                "/dev/null",
            ],
            input: inner.stdout
        ).expect(0)
        // Mail for someone else's key fails, with the reason, and is kept as received.
        let foreign = try maildir("foreign", ["1": string(read("archive/encrypted-plain.eml"))])
        try smimegate(["cert", "delete", "org"]).expect(0)
        let failed = path("failed")
        try smimegate(["process", "rekey", foreign, "--out", failed, "--to-cert", "new"]).expect(1)
        XCTAssertEqual(try manifestEntries(failed).first?.reason, "not encrypted to any organisation certificate")
    }

    /// `process resign`: replace signs the content anew with the old verdict inside the signed entity;
    /// wrap keeps the old signed message intact inside the new signature (openssl verifies both, the
    /// inner one at its time); an old signature that fails is left alone unless --resign-unverified;
    /// encrypted input is encrypted again to its recipients' current certificates.
    func testResignReplaceAndWrap() throws {
        let pki = try archivePKI()
        try organisationCertificate("new")
        try smimegate(["profile", "create", "archive", "--mode", "sign", "--cert", "new"]).expect(0)
        try smimegate(["profile", "create", "archive-enc", "--mode", "sign-encrypt", "--cert", "new"]).expect(0)
        let inbox = try maildir("inbox", [:])
        for name in ["signed-2016", "opaque-2016", "signed-2018", "encrypted-2016", "encrypted-plain"] {
            try FileManager.default.copyItem(atPath: "\(pki)/\(name).eml", toPath: "\(inbox)/new/\(name)")
        }
        let replaced = path("replaced")
        try smimegate([
            "process", "resign", inbox, "--out", replaced, "--profile", "archive", "--validation-time", "signing-time",
            "--authserv-id", "gw.test",
        ]).expect(0)
        var records = try recordsByInput(replaced)
        XCTAssertEqual(records["signed-2018"]?.outcome, "unverified")
        XCTAssertEqual(
            bytes(of: URL(fileURLWithPath: replaced + "/" + records["signed-2018"]!.outputs[0].file)),
            read("inbox/new/signed-2018"), "left as it was")
        XCTAssertEqual(records["encrypted-plain"]?.outcome, "passed")
        for name in ["signed-2016", "opaque-2016", "encrypted-2016"] {
            XCTAssertEqual(records[name]?.outcome, "resigned", "\(name): \(records[name]?.reason ?? "")")
            XCTAssertEqual(records[name]?.validationTimeSource, "signing-time")
            let output = replaced + "/" + records[name]!.outputs[0].file
            let content = try openssl(["cms", "-verify", "-CAfile", path("new.pem"), "-in", output]).expect(0).out
            XCTAssertTrue(
                content.hasPrefix(
                    "Authentication-Results: gw.test; smime=pass (validated at 2016-06-01T12:00:00Z, signing time) "
                        + "body.smime-identifier=alice@partner.example"), "\(name): \(content)")
            XCTAssertTrue(content.contains("quarterly report for Q2 2016"), content)
            XCTAssertFalse(content.contains("pkcs7-signature"), "replace: the old signature is gone")
            // The old partner's certificate does not verify the new signature.
            let old = try openssl(["cms", "-verify", "-CAfile", pki + "/ca.pem", "-in", output, "-out", "/dev/null"])
            XCTAssertNotEqual(old.status, 0)
        }
        XCTAssertTrue(outputText(replaced, records["signed-2016"]!).contains("From: Alice <alice@partner.example>"))

        let wrapped = path("wrapped")
        try smimegate([
            "process", "resign", inbox, "--out", wrapped, "--profile", "archive", "--old-signature", "wrap",
            "--validation-time", "signing-time", "--resign-unverified", "--authserv-id", "gw.test",
        ]).expect(0)
        records = try recordsByInput(wrapped)
        XCTAssertEqual(records["signed-2018"]?.outcome, "resigned", "--resign-unverified")
        XCTAssertTrue(records["signed-2018"]?.reason?.contains("outside the signer certificate's validity") == true)
        XCTAssertTrue(
            try openssl([
                "cms", "-verify", "-CAfile", path("new.pem"), "-in",
                wrapped + "/" + records["signed-2018"]!.outputs[0].file,
            ])
            .expect(0).out.hasPrefix("Authentication-Results: gw.test; smime=fail ("))
        for name in ["signed-2016", "opaque-2016"] {
            let output = wrapped + "/" + records[name]!.outputs[0].file
            let inner = try openssl(["cms", "-verify", "-CAfile", path("new.pem"), "-in", output]).expect(0)
            XCTAssertTrue(inner.out.contains("pkcs7"), "wrap: the old signed message is inside")
            try openssl(
                [
                    "cms", "-verify", "-CAfile", pki + "/ca.pem", "-attime", epoch("2016-06-01T12:00:00Z"), "-out",
                    "/dev/null",
                ],
                input: inner.stdout
            ).expect(0)
        }

        // Encrypted input, a profile that encrypts: encrypted again to bob@example.com's current certificate
        // (new: the old one and the fixtures' gateway certificate for example.com are retired).
        try smimegate(["cert", "retire", "org"]).expect(0)
        try smimegate(["cert", "retire", "gateway"]).expect(0)
        let sealed = path("sealed")
        try smimegate([
            "process", "resign", inbox, "--out", sealed, "--profile", "archive-enc", "--validation-time",
            "signing-time",
        ]).expect(0)
        records = try recordsByInput(sealed)
        XCTAssertEqual(records["encrypted-2016"]?.outcome, "resigned")
        let opened = try openssl([
            "cms", "-decrypt", "-recip", path("new.pem"), "-inkey", path("new.key"), "-in",
            sealed + "/" + records["encrypted-2016"]!.outputs[0].file,
        ]).expect(0)
        try openssl(["cms", "-verify", "-CAfile", path("new.pem"), "-out", "/dev/null"], input: opened.stdout).expect(0)
        try smimegate(["profile", "create", "enc-only", "--mode", "encrypt"]).expect(0)
        let refused = try smimegate(["process", "resign", inbox, "--out", path("x"), "--profile", "enc-only"])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(refused.stderr.contains("does not sign"), refused.stderr)
    }

    /// An mbox archive compressed with gzip, xz, bzip2 or zstd (by the Debian command-line tools) is read
    /// as it decompresses: the same records (offsets in the uncompressed stream) as the plain mbox, and
    /// --resume finds them. A file that decompresses to something else is refused in one line.
    func testCompressedMboxesGiveThePlainManifest() throws {
        let pki = try archivePKI()
        var mbox = ""
        for name in ["signed-2016", "encrypted-2016", "signed-2018", "encrypted-plain", "opaque-2016"] {
            let text = string(read("archive/\(name).eml")).replacingOccurrences(of: "\r\n", with: "\n")
            mbox += "From alice@partner.example Wed Jun  1 12:00:00 2016\n" + text + "\n"
        }
        let plain = try save(mbox, "archive.mbox")
        func summary(_ out: String) throws -> [String] {
            try manifestEntries(out).map { "\($0.offset ?? -1) \($0.outcome) \($0.reason ?? "")" }.sorted()
        }
        let reference = path("plain")
        try smimegate(["process", "incoming", plain, "--out", reference, "--validation-time", "signing-time"])
            .expect(0)
        let expected = try summary(reference)
        XCTAssertEqual(expected.count, 5)
        for (tool, suffix) in [("gzip", "gz"), ("xz", "xz"), ("bzip2", "bz2"), ("zstd", "zst")] {
            let copy = path("copy-\(suffix).mbox")
            try FileManager.default.copyItem(atPath: plain, toPath: copy)
            let made = try runProcess(tool, ["-q", copy])
            XCTAssertEqual(made.status, 0, made.stderr)
            let compressed = copy + "." + suffix
            XCTAssertTrue(FileManager.default.fileExists(atPath: compressed))
            let out = path("out-\(suffix)")
            try smimegate(["process", "incoming", compressed, "--out", out, "--validation-time", "signing-time"])
                .expect(0)
            XCTAssertEqual(try summary(out), expected, tool)
            let again = try smimegate([
                "process", "incoming", compressed, "--out", out, "--validation-time", "signing-time", "--resume",
            ]).expect(0)
            XCTAssertTrue(again.out.contains("(5 already done)"), again.out)
        }
        _ = pki
        let junk = path("junk.gz")
        try write(Array("not an mbox at all\n".utf8), to: URL(fileURLWithPath: path("junk")))
        XCTAssertEqual(try runProcess("gzip", ["-q", path("junk")]).status, 0)
        let refused = try smimegate(["process", "incoming", junk, "--out", path("junk-out")])
        XCTAssertEqual(refused.status, 2)
        XCTAssertTrue(
            refused.stderr.contains("not an mbox file (decompressed (gzip) it does not start"), refused.stderr)
    }

    /// --out-format mbox: one mboxrd file per outcome (From_ line with the envelope sender and the Date),
    /// offsets and lengths in the manifest; runs killed with SIGKILL at several points and resumed end
    /// with the same files, byte for byte, as one uninterrupted run — with two workers.
    func testMboxOutputKilledAndResumedIsByteForByteTheSame() throws {
        try smimegate(["profile", "create", "signer", "--mode", "sign", "--cert", "alice"]).expect(0)
        var messages: [String: String] = [:]
        for i in 0..<1200 {
            messages["m\(i)"] =
                "From: alice@example.com\nTo: bob@partner.example\nSubject: \(i)\n"
                + "Date: Sun, 29 Nov 2026 10:\(String(format: "%02d", i % 60)):00 +0900\n"
                + "Message-ID: <\(i)@example.com>\n\n"
                + (i % 7 == 0 ? "From the start, a line that mboxrd quotes.\n>From one quoted already.\n" : "")
                + String(repeating: "line \(i)\n", count: 20)
        }
        messages["junk"] = "not a header line\n"
        let outbox = try maildir("outbox", messages)
        let signed = path("signed")
        try smimegate(["process", "outgoing", outbox, "--out", signed, "--profile", "signer"]).expect(1)
        let inbox = signed + "/signed"
        try FileManager.default.copyItem(atPath: signed + "/failed/new", toPath: inbox + "/cur")
        let arguments = [
            "process", "incoming", inbox, "--workers", "2", "--out-format", "mbox", "--authserv-id", "gw.test",
            "--local-domains", "partner.example", "--no-progress",
        ]
        let reference = path("reference")
        try smimegate(arguments + ["--out", reference]).expect(1)
        let records = try manifestEntries(reference)
        XCTAssertEqual(records.count, 1201)
        let verified = string(read("reference/verified.mbox"))
        XCTAssertTrue(verified.hasPrefix("From alice@example.com Sun Nov 29 01:"), String(verified.prefix(80)))
        // Signing made the body's "From " line quoted-printable (=46rom); the ">From" line is quoted once more.
        XCTAssertTrue(verified.contains("\n>>From one quoted already.\n"), "mboxrd quoting")
        // Every record's offset and length frame exactly one From_ line's entry.
        let bytes = read("reference/verified.mbox")
        let raw = try String(contentsOfFile: reference + "/manifest.jsonl", encoding: .utf8)
        var covered = 0
        for line in raw.split(separator: "\n") {
            let json = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            for output in json?["outputs"] as? [[String: Any]] ?? [] where output["file"] as? String == "verified.mbox"
            {
                let offset = output["offset"] as? Int ?? -1
                let length = output["length"] as? Int ?? -1
                XCTAssertEqual(Array(bytes[offset..<(offset + 5)]), Array("From ".utf8))
                covered += length
            }
        }
        XCTAssertEqual(covered, bytes.count, "the records cover the file, nothing more")
        // Let mbox readers judge: Python's mailbox module reads 1,200 messages back.
        let counted = try runProcess(
            Paths.python,
            ["-c", "import mailbox,sys; print(len(mailbox.mbox(sys.argv[1])))", reference + "/verified.mbox"])
        XCTAssertEqual(counted.out.trimmingCharacters(in: .whitespacesAndNewlines), "1200", counted.stderr)

        let out = path("killed")
        var interrupted = 0
        for (index, delay) in [0.15, 0.3, 0.45, 0.6, 0.8].enumerated() {
            let process = Process()
            process.executableURL = Paths.binary
            process.arguments = ["--home", home] + arguments + ["--out", out] + (index == 0 ? [] : ["--resume"])
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            usleep(useconds_t(delay * 1_000_000))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                interrupted += 1
            }
            process.waitUntilExit()
        }
        XCTAssertGreaterThan(interrupted, 0, "at least one run was killed mid-way")
        let last = try smimegate(arguments + ["--out", out, "--resume"])
        XCTAssertTrue(last.status == 0 || last.status == 1, last.stderr)
        for file in ["verified.mbox", "unverified.mbox", "passed.mbox", "failed.mbox", "decrypted.mbox"] {
            let same = read("killed/\(file)") == read("reference/\(file)")
            XCTAssertTrue(
                same,
                "\(file): byte for byte (\(read("killed/\(file)").count) and \(read("reference/\(file)").count) bytes)")
        }
        XCTAssertEqual(try manifestEntries(out).count, 1201, "one record per input")
    }

    /// A long run on a terminal shows how far it is, with an estimate of the end (the inputs were counted:
    /// a maildir's files, an mbox by its size); the summary counts per input, in text and JSON.
    func testProgressWithETAAndPerInputCounts() throws {
        var messages: [String: String] = [:]
        for i in 0..<3000 { messages["m\(i)"] = "From: a@example.com\nTo: b@example.com\nSubject: \(i)\n\nbody\n" }
        let inbox = try maildir("inbox", messages)
        let mbox = try save(
            (0..<50).map { "From a@example.com Sun Nov 29 10:00:00 2026\nFrom: a@example.com\nSubject: \($0)\n\nx\n" }
                .joined(separator: "\n"), "box.mbox")
        // script(1) gives the run a terminal for standard error, as an operator's shell would.
        let command = [
            Paths.binary.path, "--home", home, "process", "incoming", inbox, mbox, "--out", path("out"),
            "--workers", "1",
        ].map { "'\($0)'" }.joined(separator: " ")
        let run = try runProcess("script", ["-qec", command, "/dev/null"])
        XCTAssertEqual(run.status, 0, run.out)
        let lines = run.out.replacingOccurrences(of: "\r\n", with: "\n").split(whereSeparator: {
            $0 == "\r" || $0 == "\n"
        })
        .map(String.init)
        let progress = lines.filter { $0.contains(" messages of ~") }
        XCTAssertFalse(progress.isEmpty, run.out)
        // 3,000 files counted, the mbox guessed from its size until it is read.
        XCTAssertTrue(progress.allSatisfy { $0.contains("of ~30") && $0.contains(", ETA 0:0") }, "\(progress)")
        XCTAssertTrue(lines.contains { $0.hasSuffix("inbox: 3000, 0, 0") }, run.out)
        XCTAssertTrue(lines.contains { $0.hasSuffix("box.mbox: 50, 0, 0") }, run.out)
        let again = try smimegate(["process", "incoming", inbox, mbox, "--out", path("out"), "--resume", "--json"])
            .expect(0)
        let json = try JSONSerialization.jsonObject(with: Data(again.stdout)) as? [String: Any]
        let inputs = json?["inputs"] as? [[String: Any]] ?? []
        XCTAssertEqual(inputs.map { $0["skipped"] as? Int }, [3000, 50])
    }

    /// Revocation at the signing time: a CRL issued after the signature (the only kind an archive has) decides
    /// it — a revocation dated after the signature does not count, one before it does; but a key compromise
    /// counts whatever its date when only the signer's own signingTime says when it signed (a thief of the
    /// key writes that), and not when an RFC 3161 token proves the signature older.
    func testRevocationsAfterTheSignature() throws {
        let pki = try archivePKI()
        let stamped = try timestamped(pki + "/signed-2018.eml", pki: pki, at: "2016-06-01 12:05:00", as: "ts.eml")
        let superseded = try revokePartner(
            pki: pki, reason: "superseded", at: "2016-09-01 00:00:00", issued: "2016-10-01 00:00:00", as: "s.crl")
        try smimegate(["ca", "crl", "add", superseded]).expect(0)
        try smimegate(["settings", "set", "revocation", "hard"]).expect(0)
        let valid = try smimegate(["verify", "--validation-time", "signing-time", pki + "/signed-2016.eml"]).expect(0)
        XCTAssertFalse(valid.stderr.contains("revocation unknown"), "a later CRL decides: \(valid.stderr)")
        let after = try smimegate(["verify", "--validation-time", "2016-12-01", pki + "/signed-2016.eml"])
        XCTAssertEqual(after.status, 1)
        XCTAssertTrue(after.stderr.contains("certificate revoked on 2016-09-01T00:00:00Z (superseded)"), after.stderr)

        // The same revocation for keyCompromise (a new CRL from the same CA replaces the older one).
        let index = pki + "/ca/index.txt"
        let text = try String(contentsOfFile: index, encoding: .utf8)
        try write(text.replacingOccurrences(of: "superseded", with: "keyCompromise"), to: URL(fileURLWithPath: index))
        let compromised = path("k.crl")
        try runProcess(
            "env",
            [
                "TZ=UTC", "faketime", "-f", "2016-11-01 00:00:00", "openssl", "ca", "-config", pki + "/ca/ca.cnf",
                "-gencrl",
                "-crldays", "4000", "-out", compromised, "-batch",
            ]
        ).expect(0)
        try smimegate(["ca", "crl", "add", compromised]).expect(0)
        let claimed = try smimegate(["verify", "--validation-time", "signing-time", pki + "/signed-2016.eml"])
        XCTAssertEqual(claimed.status, 1)
        XCTAssertTrue(claimed.stderr.contains("(keyCompromise)"), claimed.stderr)
        let proven = try smimegate(["verify", "--validation-time", "signing-time", stamped]).expect(0)
        XCTAssertTrue(proven.stderr.contains("time-stamp token"), proven.stderr)
    }

    /// A message larger than --max-message-size — a compression bomb's endless line, a huge maildir file — is
    /// reported in one line and skipped, never read whole; the messages around it are processed.
    func testOversizedMessagesAreSkippedNotRead() throws {
        var mbox = Array("From a@example.com Sun Nov 29 10:00:00 2026\nSubject: bomb\n\n".utf8)
        mbox += [UInt8](repeating: 0x41, count: 3 << 20)  // 3 MiB without a newline
        mbox += Array("\nFrom a@example.com Sun Nov 29 10:00:00 2026\nSubject: fine\n\nfine\n".utf8)
        try write(mbox, to: URL(fileURLWithPath: path("bomb.mbox")))
        XCTAssertEqual(try runProcess("gzip", ["-q", path("bomb.mbox")]).status, 0)
        let inbox = try maildir(
            "inbox", ["big": "Subject: big\n\n" + String(repeating: "x", count: 2 << 20), "small": "Subject: s\n\ns\n"])
        let run = try smimegate([
            "process", "incoming", path("bomb.mbox.gz"), inbox, "--out", path("out"), "--max-message-size", "1MB",
        ])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("bomb.mbox.gz@0: a message larger than 1048576 bytes"), run.stderr)
        XCTAssertTrue(run.stderr.contains("/new/big: a message larger than 1048576 bytes"), run.stderr)
        XCTAssertEqual(Set(try manifestEntries(path("out")).map(\.outcome)), ["passed"])
        XCTAssertEqual(try manifestEntries(path("out")).count, 2, "the fine mbox message and the small file")
        let refused = try smimegate(["process", "incoming", inbox, "--out", path("x"), "--max-message-size", "lots"])
        XCTAssertEqual(refused.status, 2)
    }

    /// What resign will not attest (adversarial pass): MIME that reads two ways around the signature, and —
    /// for wrap, which keeps the old signed entity whole — a result claiming our authserv-id inside it.
    /// Results claiming it outside are removed from every output, re-signed or not.
    func testResignAttestsOnlyWhatItChecked() throws {
        try organisationCertificate("signer")
        try smimegate(["ca", "add", path("signer.pem")]).expect(0)
        try smimegate(["profile", "create", "archive", "--mode", "sign", "--cert", "signer"]).expect(0)
        let entity = try save(
            "Authentication-Results: gw.test; smime=pass body.smime-identifier=ceo@example.com\r\n"
                + "Content-Type: text/plain\r\n\r\nWire the money.\r\n", "entity.txt")
        let forged = try openssl([
            "cms", "-sign", "-in", entity, "-signer", path("signer.pem"), "-inkey", path("signer.key"), "-from",
            "a@example.com", "-to", "b@example.com", "-subject", "inner result",
        ]).expect(0).out
        let plain = try save("From: a@example.com\nSubject: plain\n\nhello\n", "plain.txt")
        let body = try openssl([
            "cms", "-sign", "-in", plain, "-signer", path("signer.pem"), "-inkey", path("signer.key"), "-from",
            "a@example.com", "-to", "b@example.com", "-subject", "twice",
        ]).expect(0).out
        // Two Content-Type fields on the signed layer: readers pick different ones.
        var lines = body.components(separatedBy: "\n")
        let signedType = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("Content-Type: multipart/signed") })
        lines.insert("Content-Type: text/plain; charset=us-ascii\r", at: signedType + 1)
        let ambiguous = lines.joined(separator: "\n")
        let inbox = try maildir(
            "inbox",
            [
                "forged": forged, "ambiguous": ambiguous,
                "unsigned": "Authentication-Results: gw.test; smime=pass\nFrom: a@example.com\n\nhi\n",
            ])
        let wrapped = path("wrapped")
        try smimegate([
            "process", "resign", inbox, "--out", wrapped, "--profile", "archive", "--old-signature", "wrap",
            "--authserv-id", "gw.test",
        ]).expect(1)
        var records = try recordsByInput(wrapped)
        XCTAssertEqual(records["forged"]?.outcome, "failed")
        XCTAssertTrue(
            records["forged"]?.reason?.contains("carries an Authentication-Results field claiming gw.test") == true,
            records["forged"]?.reason ?? "")
        XCTAssertEqual(records["ambiguous"]?.outcome, "unverified")
        XCTAssertTrue(records["ambiguous"]?.reason?.contains("ambiguous MIME around the signature") == true)
        XCTAssertEqual(records["unsigned"]?.outcome, "passed")
        XCTAssertFalse(outputText(wrapped, records["unsigned"]!).contains("gw.test"), "our results are ours alone")

        let replaced = path("replaced")
        try smimegate([
            "process", "resign", inbox, "--out", replaced, "--profile", "archive", "--authserv-id", "gw.test",
        ]).expect(0)
        records = try recordsByInput(replaced)
        XCTAssertEqual(records["forged"]?.outcome, "resigned")
        let content = try openssl([
            "cms", "-verify", "-CAfile", path("signer.pem"), "-in", replaced + "/" + records["forged"]!.outputs[0].file,
        ]).expect(0).out
        XCTAssertEqual(content.components(separatedBy: "Authentication-Results:").count, 2, "ours only: \(content)")
        XCTAssertFalse(content.contains("ceo@example.com"), content)
    }

    /// Compressed inputs at the edges, and mbox files a run did not write (adversarial pass): an empty gzip is
    /// an empty mbox; a small compressed file cut short is that input's error, the others are processed; an
    /// mbox file in a DIR written as maildirs is never cut.
    func testCompressedEdgesAndForeignMboxFiles() throws {
        let plain = try save("From a@example.com Sun Nov 29 10:00:00 2026\nSubject: one\n\nx\n", "one.mbox")
        try write([], to: URL(fileURLWithPath: path("empty")))
        XCTAssertEqual(try runProcess("gzip", ["-q", path("empty")]).status, 0)
        let mbox = (0..<40).map { "From a@example.com Sun Nov 29 10:00:00 2026\nSubject: \($0)\n\nline\n" }.joined()
        try write(Array(mbox.utf8), to: URL(fileURLWithPath: path("cut.mbox")))
        XCTAssertEqual(try runProcess("xz", ["-q", path("cut.mbox")]).status, 0)
        let xz = read("cut.mbox.xz")
        try write(Array(xz.prefix(xz.count / 2)), to: URL(fileURLWithPath: path("cut.mbox.xz")))
        let run = try smimegate([
            "process", "incoming", path("empty.gz"), path("cut.mbox.xz"), plain, "--out", path("out"),
        ])
        XCTAssertEqual(run.status, 1, run.stderr)
        XCTAssertTrue(run.stderr.contains("cut.mbox.xz: cannot"), run.stderr)
        XCTAssertTrue(try manifestEntries(path("out")).contains { $0.input.hasSuffix("one.mbox") })

        let inbox = try maildir("inbox", ["1": "Subject: a\n\nb\n"])
        try smimegate(["process", "incoming", inbox, "--out", path("mixed")]).expect(0)
        try write(Array("someone's mailbox\n".utf8), to: URL(fileURLWithPath: path("mixed/passed.mbox")))
        let refused = try smimegate([
            "process", "incoming", inbox, "--out", path("mixed"), "--out-format", "mbox", "--resume",
        ])
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertTrue(refused.stderr.contains("no mbox run of smimegate"), refused.stderr)
        XCTAssertEqual(string(read("mixed/passed.mbox")), "someone's mailbox\n", "never cut")
    }
}
