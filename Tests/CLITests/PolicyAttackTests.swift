import Foundation
import TestSupport
import XCTest

/// Hostile senders and careless operators against the policy layer of issue 10: each test is
/// one finding of an adversarial review, written as the behaviour that should hold.
final class PolicyAttackTests: CLITestCase {
    func loadExample() throws {
        try makePolicyProfiles()
        let example = string(bytes(of: Paths.fixture("example.policy")))
        try smimegate(["policy", "load", try save(example, "example.policy")]).expect(0)
    }

    /// Not killed by a signal (Foundation reports the signal number as the status) and a documented code.
    func assertExited(
        _ result: ProcessResult, _ allowed: Set<Int32>, file: StaticString = #filePath, line: UInt = #line
    ) {
        XCTAssertTrue(
            allowed.contains(result.status), "status \(result.status): \(result.stderr.suffix(600))", file: file,
            line: line)
        XCTAssertFalse(result.stderr.contains("Program crashed"), file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error"), file: file, line: line)
    }

    // MARK: Crashes

    /// `maxNesting` counts only `not` and parentheses; `a and b and c ...` builds a left-leaning tree
    /// as deep as the chain, and `MessageFacts.holds` recurses down it on a worker's small stack.
    /// 7,000 conditions (a 63 KB file) already crash `process` with SIGSEGV; `policy trace` too.
    func testALongChainOfAndsIsEvaluatedWithoutCrashing() throws {
        let chain = Array(repeating: "true", count: 20_000).joined(separator: " and ")
        let policy = try save("[message filters]\nf: if (\(chain)) { quarantine(\"Q\"); }\n", "long.policy")
        let checked = try smimegate(["policy", "check", policy])
        assertExited(checked, [0, 2])
        guard checked.status == 0 else {
            XCTAssertTrue(checked.stderr.contains("long.policy:2:"), checked.stderr)
            return
        }
        let message = "From: x@example.test\nTo: bob@partner.example\nSubject: hi\n\nbody\n"
        let inbox = try maildir("in", ["m": message])
        let out = path("out")
        assertExited(try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]), [0])
        XCTAssertEqual(try recordsByInput(out)["m"]?.outcome, "quarantined")
        assertExited(try smimegate(["policy", "trace", try save(message, "m.eml"), "--policy", policy]), [0])
    }

    /// 150,000 conditions (1.35 MB): `policy check` itself dies releasing the condition tree
    /// (recursive deinit of the indirect enum), before it can report anything.
    func testAMegabyteChainOfAndsIsCheckedWithoutCrashing() throws {
        let chain = Array(repeating: "true", count: 150_000).joined(separator: " and ")
        let policy = try save("[message filters]\nf: if (\(chain)) { drop(); }\n", "huge.policy")
        assertExited(try smimegate(["policy", "check", policy]), [0, 2])
    }

    // MARK: Regular expressions that fail open

    /// PCRE2's JIT runs on its default 32 KiB stack; a group under repetition such as the
    /// classic `(.|\n)*` exhausts it on a 3 KB body, pcre2_match returns
    /// PCRE2_ERROR_JITSTACKLIMIT (-46), and `Pattern.matches` reads every negative value as
    /// "no match": the confidential message passes. The interpreter (PCRE2_NO_JIT) matches.
    func testARegexNeedingMoreThanTheDefaultJITStackStillMatches() throws {
        let policy = try save(
            #"""
            [message filters]
            conf: if (body-contains("(?i)begin(.|\n)*confidential")) { quarantine("Q"); }

            """#, "jit.policy")
        let body = "begin of the notes\n" + String(repeating: "lorem ipsum dolor sit amet\n", count: 100)
        let inbox = try maildir(
            "in",
            [
                "short": "From: x@example.test\nTo: bob@partner.example\nSubject: s\n\nbegin\nconfidential\n",
                "long": "From: x@example.test\nTo: bob@partner.example\nSubject: s\n\n\(body)this is confidential\n",
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(0)
        let r = try recordsByInput(out)
        XCTAssertEqual(r["short"]?.outcome, "quarantined")
        XCTAssertEqual(r["long"]?.outcome, "quarantined", "a 2.8 KB body escapes the filter")
    }

    /// When the match limit is hit, the text was not searched to its end: the message is
    /// reported as not matching with no trace of it. Here the body does end in a match
    /// ("aaaaa" at the end), but the hostile prefix spends the limit first.
    func testHittingTheMatchLimitIsNotSilentlyNoMatch() throws {
        let policy = try save(
            "[message filters]\nf: if (body-contains(\"(a+)+$\")) { quarantine(\"Q\"); }\n", "limit.policy")
        let prefix = String(repeating: "a", count: 36)
        let inbox = try maildir(
            "in",
            [
                "plain": "From: x@example.test\nTo: bob@partner.example\nSubject: s\n\nb aaaaa",
                "hostile": "From: x@example.test\nTo: bob@partner.example\nSubject: s\n\n\(prefix)b aaaaa",
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy])
        let r = try recordsByInput(out)
        XCTAssertEqual(r["plain"]?.outcome, "quarantined")
        let hostile = try XCTUnwrap(r["hostile"])
        XCTAssertTrue(
            hostile.outcome == "quarantined" || hostile.warning != nil || hostile.outcome == "failed",
            "the filter was evaded silently: \(hostile.outcome)")
    }

    /// The match limit bounds one pcre2_match call, not a message: body-contains runs once per
    /// text part, so 1,000 tiny parts cost 1,000 limits (~14 s of CPU; 5,000 parts in 160 KB
    /// cost 72 s), and SIGTERM waits for the message in flight.
    func testOneHostileMessageCannotStallAWorker() throws {
        let policy = try save(
            "[message filters]\nf: if (body-contains(\"(a+)+$\")) { quarantine(\"Q\"); }\n", "redos.policy")
        var message = """
            From: x@example.test
            To: bob@partner.example
            Subject: s
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary=B


            """
        for _ in 0..<1000 { message += "--B\n\n" + String(repeating: "a", count: 25) + "b\n" }
        message += "--B--\n"
        let inbox = try maildir("in", ["m": message])
        let started = Date()
        try smimegate(["process", "outgoing", inbox, "--out", path("out"), "--policy", policy])
        XCTAssertLessThan(Date().timeIntervalSince(started), 5, "a 32 KB message kept a worker busy")
    }

    // MARK: Filters that a hostile sender walks around

    /// `IncomingJob.filtered` re-parses the delivered bytes with the strict `Entity.parse` and,
    /// when that fails, returns without running any message filter. A `passed` message whose
    /// header runs into the body (which `parseMessage` accepts, issue 8) is delivered byte for
    /// byte, so omitting the blank line skips every incoming message filter. `policy trace`
    /// says "dropped" for the same file.
    func testIncomingMessageFiltersRunWhenTheHeaderRunsIntoTheBody() throws {
        try loadExample()
        let inbox = try maildir(
            "in",
            [
                "regular": "From: a@partner.example\nTo: x@example.test\nSubject: DROPME one\n\nbody\n",
                "noblank": "From: a@partner.example\nTo: x@example.test\nSubject: DROPME two\nno field here\nbody\n",
            ])
        let out = path("out")
        try smimegate(["process", "incoming", inbox, "--out", out, "--authserv-id", "mx.example.test"]).expect(0)
        let r = try recordsByInput(out)
        XCTAssertEqual(r["regular"]?.outcome, "dropped")
        XCTAssertEqual(r["noblank"]?.outcome, "dropped", "the drop filter never ran")
    }

    /// A text part the MIME layer cannot decode is left out of `body-contains` without a word:
    /// an unknown charset label over plain ASCII (mail clients show it), UTF-7, UTF-16,
    /// an unknown Content-Transfer-Encoding, one stray character in base64, and text more
    /// than 64 levels down (which `--profile` runs fail, but a policy run passes unscanned).
    func testBodyContainsDoesNotFailOpenOnTextItCannotDecode() throws {
        let policy = try save(
            "[message filters]\ndlp: if (body-contains(\"(?i)strictly private\")) { quarantine(\"DLP\"); }\n",
            "dlp.policy")
        let head = "From: x@example.test\nTo: bob@partner.example\nSubject: s\nMIME-Version: 1.0\n"
        var nested = "Content-Type: text/plain\n\nthis is strictly private\n"
        for level in 0..<65 {
            nested = "Content-Type: multipart/mixed; boundary=b\(level)\n\n--b\(level)\n\(nested)\n--b\(level)--\n"
        }
        let inbox = try maildir(
            "in",
            [
                "control": head + "Content-Type: text/plain; charset=us-ascii\n\nthis is strictly private\n",
                "unknown-charset": head + "Content-Type: text/plain; charset=x-unknown\n\nthis is strictly private\n",
                "utf7": head + "Content-Type: text/plain; charset=utf-7\n\nthis is strictly+ACA-private\n",
                "unknown-cte": head
                    + "Content-Type: text/plain\nContent-Transfer-Encoding: x-foo\n\nthis is strictly private\n",
                "base64-stray": head
                    + "Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\ndGhpcyBpcyBzdHJpY3RseSBwcml2YXRl!\n",
                "deep": head + nested,
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy])
        let r = try recordsByInput(out)
        XCTAssertEqual(r["control"]?.outcome, "quarantined")
        for name in ["unknown-charset", "utf7", "unknown-cte", "base64-stray", "deep"] {
            let record = try XCTUnwrap(r[name], name)
            XCTAssertTrue(
                record.outcome != "passed" || record.warning != nil,
                "\(name): delivered unscanned and unremarked (\(record.outcome))")
        }
    }

    /// A recipient with a quoted local part (`"bob"@partner.example`, RFC 5322 §3.4.1) drops out of
    /// the envelope: it matches no recipient pattern, `rcpt-to` never sees it, and confidential
    /// mail for a partner that the example policy encrypts leaves signed in clear with no recipient.
    func testAQuotedLocalPartDoesNotEscapeTheRecipientsPolicy() throws {
        try loadExample()
        let inbox = try maildir(
            "in",
            ["m": "From: x@example.test\nTo: \"bob\"@partner.example\nSubject: Confidential plan\n\nthe plan\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out])
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        XCTAssertNotEqual(record.outcome, "signed", "sent in clear to a partner")
        XCTAssertFalse(record.outputs.first?.recipients.isEmpty ?? true, "the recipient vanished")
    }

    /// `attachment-filename` reads one name per part (Content-Disposition's first filename, else
    /// Content-Type's name); readers differ on which they show, so a sender gives two.
    func testAttachmentFilenameSeesEveryNameAReaderMayUse() throws {
        let policy = try save(
            "[message filters]\nexe: if (attachment-filename == \"(?i)\\\\.exe$\") { quarantine(\"Exe\"); }\n",
            "exe.policy")
        func message(_ part: String) -> String {
            """
            From: x@example.test
            To: bob@partner.example
            Subject: s
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary=B

            --B
            Content-Type: text/plain

            hi
            --B
            \(part)

            AAAA
            --B--

            """
        }
        let inbox = try maildir(
            "in",
            [
                "control": message(
                    "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"evil.exe\""),
                "type-name": message(
                    "Content-Type: application/octet-stream; name=\"evil.exe\"\n"
                        + "Content-Disposition: attachment; filename=\"a.txt\""),
                "two-dispositions": message(
                    "Content-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"a.txt\"\n"
                        + "Content-Disposition: attachment; filename=\"evil.exe\""),
                "two-filenames": message(
                    "Content-Type: application/octet-stream\n"
                        + "Content-Disposition: attachment; filename=\"a.txt\"; filename=\"evil.exe\""),
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(0)
        let r = try recordsByInput(out)
        for name in ["control", "type-name", "two-dispositions", "two-filenames"] {
            XCTAssertEqual(r[name]?.outcome, "quarantined", name)
        }
    }

    // MARK: Results and outputs

    /// An incoming message without any sender address that a bounce() filter hits goes to
    /// failed/ as `input.bytes` (Disposer's `.failed`), so the forged pass claiming our
    /// authserv-id, removed for every other outcome, is delivered — while the manifest says
    /// "removed 1 Authentication-Results field(s)".
    func testAForgedResultIsRemovedWhenABounceHasNoAddress() throws {
        try makePolicyProfiles()
        let policy = try save("[message filters]\nb: if (subject == \"bounce\") { bounce(); }\n", "b.policy")
        let inbox = try maildir(
            "in",
            [
                "m": """
                Authentication-Results: mx.example.test; smime=pass body.smime-identifier=ceo@example.test
                To: x@example.test
                Subject: bounce

                pay the invoice

                """
            ])
        let out = path("out")
        try smimegate(
            ["process", "incoming", inbox, "--out", out, "--policy", policy, "--authserv-id", "mx.example.test"])
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        for index in record.outputs.indices {
            XCTAssertFalse(outputText(out, record, index).contains("smime=pass"), record.outputs[index].file)
        }
    }

    /// A bounce() filter answers a message whose reverse path is null (`Return-Path: <>`, a DSN
    /// itself) with a DSN to its From: RFC 5321 §4.5.5 forbids it (two gateways loop).
    func testNoBounceIsSentForAMessageWithANullReversePath() throws {
        let policy = try save("[message filters]\nb: if (subject == \"spam\") { bounce(); }\n", "b.policy")
        let inbox = try maildir(
            "in",
            [
                "dsn": """
                Return-Path: <>
                From: MAILER-DAEMON@partner.example
                To: x@example.test
                Auto-Submitted: auto-replied
                Subject: spam

                Delivery failed.

                """
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy])
        let record = try XCTUnwrap(try recordsByInput(out)["dsn"])
        XCTAssertNotEqual(record.outcome, "bounced")
        XCTAssertFalse(record.outputs.contains { $0.file.hasPrefix("bounced/") })
    }

    /// A content filter can insert a From (or Sender) before a signing transform; the F5 check
    /// runs on the message as received, so the organisation signs for `ceo@other.test`.
    func testAHeaderInsertedByAFilterCannotAddAnUncoveredAuthor() throws {
        try makePolicyProfiles()
        let policy = try save(
            """
            [content filters]
            f: if (true) { insert-header("From", "ceo@other.test"); smime-gateway("sgn"); }
            [outgoing policy default]
            content-filters = f

            """, "from.policy")
        let inbox = try maildir("in", ["m": "From: x@example.test\nTo: bob@partner.example\nSubject: hi\n\nbody\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy])
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        XCTAssertNotEqual(record.outcome, "signed", "signed with ceo@other.test as an author")
    }

    /// A splintered message with one copy quarantined is recorded as `split` without the
    /// `quarantine` field, and the summary counts nothing under quarantined/NAME although a
    /// file is held there.
    func testAQuarantinedCopyOfASplinteredMessageIsRecordedAsQuarantined() throws {
        try makePolicyProfiles()
        let policy = try save(
            """
            [content filters]
            hold: if (true) { quarantine("Hold"); }
            sgn: if (true) { smime-gateway("sgn"); }
            [outgoing policy partners]
            recipients = @partner.example
            content-filters = hold
            [outgoing policy default]
            content-filters = sgn

            """, "split.policy")
        let inbox = try maildir(
            "in", ["m": "From: x@example.test\nTo: bob@partner.example, c@customer.test\nSubject: hi\n\nbody\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(0)
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        XCTAssertTrue(record.outputs.contains { $0.file.hasPrefix("quarantined/Hold/new/") })
        XCTAssertEqual(record.quarantine, "Hold")
    }

    /// The notice of a message filter and the notice of copy 0's content filter get the same
    /// Message-ID (`<HASH-0.notice@host>`): a mail store that drops duplicates keeps one.
    func testEveryNoticeHasItsOwnMessageID() throws {
        try makePolicyProfiles()
        let policy = try save(
            """
            [message filters]
            m: if (true) { notify("audit@example.test"); }
            [content filters]
            c: if (true) { notify("audit@example.test"); smime-gateway("sgn"); }
            [outgoing policy default]
            content-filters = c

            """, "n.policy")
        let inbox = try maildir("in", ["m": "From: x@example.test\nTo: bob@partner.example\nSubject: hi\n\nbody\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(0)
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        let ids = record.outputs.indices.filter { record.outputs[$0].file.hasPrefix("notifications/") }.compactMap {
            outputText(out, record, $0).split(whereSeparator: \.isNewline).first { $0.hasPrefix("Message-ID:") }
        }
        XCTAssertEqual(ids.count, 2)
        XCTAssertEqual(Set(ids).count, ids.count, "\(ids)")
    }

    /// Bcc is removed from every output (README), but a notice quotes the original header in
    /// text/rfc822-headers and lists the Bcc recipient under "Recipients:" to a third party.
    func testANoticeDoesNotRevealBccRecipients() throws {
        let policy = try save("[message filters]\nn: if (true) { notify(\"audit@example.test\"); }\n", "n.policy")
        let inbox = try maildir(
            "in",
            [
                "m":
                    "From: x@example.test\nTo: bob@partner.example\nBcc: secret-friend@rival.test\nSubject: hi\n\nbody\n"
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(0)
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        let notice = try XCTUnwrap(record.outputs.firstIndex { $0.file.hasPrefix("notifications/") })
        XCTAssertFalse(outputText(out, record, notice).contains("secret-friend@rival.test"))
    }

    // MARK: Policy files

    /// Foundation drops a UTF-8 BOM when decoding, so the stored text is not the file: the
    /// SHA-256 `policy load` prints differs from `sha256sum FILE`, and `policy export` does
    /// not give the file back byte for byte.
    func testAPolicyWithAByteOrderMarkIsStoredAsWritten() throws {
        let text = Array("\u{FEFF}[message filters]\nf: if (true) { drop(); }\n".utf8)
        let file = try save(text, "bom.policy")
        let loaded = try smimegate(["policy", "load", file])
        guard loaded.status == 0 else { return }  // refusing a BOM is fine too
        let digest = try openssl(["dgst", "-sha256", "-r", file]).expect(0).out.prefix(64)
        XCTAssertTrue(loaded.out.contains("sha256: \(digest)"), loaded.out)
        try smimegate(["policy", "export", path("exported.policy")]).expect(0)
        XCTAssertEqual(read("exported.policy"), text)
    }

    /// Problems quote the offending text raw: an ESC or a CR in the file reaches the terminal
    /// (and a CR breaks the FILE:LINE:COLUMN line for CI annotators).
    func testPolicyProblemsDoNotEchoControlCharacters() throws {
        let file = try save(
            Array(
                "[message filters]\nf: if (true) { drop(); } \u{1B}]0;owned\u{07}\n[outgoing policy p]\nsen\rders = *\n"
                    .utf8),
            "ctl.policy")
        let checked = try smimegate(["policy", "check", file]).expect(2)
        XCTAssertFalse(checked.stderr.contains("\u{1B}"), checked.stderr)
        XCTAssertFalse(checked.stderr.contains("\r"), checked.stderr)
    }

    /// A filter may be named `else` (names are words), but after another filter the parser takes
    /// it as that filter's else branch.
    func testAFilterNamedElseAfterAnotherFilter() throws {
        let file = try save(
            "[message filters]\nfirst: if (true) { drop(); }\nelse: if (true) { drop(); }\n", "else.policy")
        let checked = try smimegate(["policy", "check", file])
        XCTAssertTrue(
            checked.status == 0 || checked.stderr.contains("else"), "status \(checked.status): \(checked.stderr)")
        if checked.status == 2 {
            XCTAssertFalse(checked.stderr.contains("expected \"{\" after \"else\""), "misparsed as an else branch")
        }
    }

    /// `policy trace --direction incoming` runs the filters on the message as received: a forged
    /// pass with our authserv-id, which `process incoming` removes first, makes a filter match.
    func testTraceIgnoresForgedResultsAsProcessDoes() throws {
        let host = ProcessInfo.processInfo.hostName
        let policy = try save(
            """
            [message filters]
            trust: if (header("Authentication-Results") == "smime=pass") { insert-header("X-Trusted", "yes"); }

            """, "ar.policy")
        let message = try save(
            "Authentication-Results: \(host); smime=pass body.smime-identifier=ceo@example.test\n"
                + "From: ceo@example.test\nTo: x@example.test\nSubject: hi\n\nbody\n", "forged.eml")
        let trace = try smimegate(["policy", "trace", message, "--direction", "incoming", "--policy", policy]).expect(0)
            .out
        XCTAssertFalse(trace.contains("trust: matched"), trace)
    }
}
