import Foundation
import TestSupport
import XCTest

/// The second adversarial pass over the policy layer of issue 10: each test is one finding,
/// written as the behaviour that should hold.
final class PolicyAttackTests2: CLITestCase {
    /// The manifest's records as JSON objects, by the file name of their input (every field,
    /// `reason_code` and `authenticated` included).
    func rawRecords(_ out: String) throws -> [String: [String: Any]] {
        var records: [String: [String: Any]] = [:]
        for line in string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n") {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let input = try XCTUnwrap(object["input"] as? String)
            records[URL(fileURLWithPath: input).lastPathComponent] = object
        }
        return records
    }

    static let splinterPolicy = """
        [content filters]
        s: if (true) { smime-gateway("sgn"); }
        e: if (true) { smime-gateway("enc"); }
        h: if (true) { quarantine("Hold"); }
        [outgoing policy nothing]
        recipients = @none.test
        [outgoing policy enc]
        recipients = @partner.example
        content-filters = e
        [outgoing policy hold]
        recipients = @hold.test
        content-filters = h
        [outgoing policy default]
        content-filters = s

        """

    // MARK: Splintered messages

    /// `Reason.all` takes its code from the first copy's reason, whatever decided the outcome: a
    /// message whose first copy passed (no profile chosen) and whose second was quarantined is
    /// recorded `"outcome":"quarantined"` with `"reason_code":"no-profile-chosen"`; one whose
    /// second copy failed for want of a sender, `"outcome":"failed"` with the same code. A script
    /// keyed on reason_code never sees the quarantine or the failure.
    func testTheReasonCodeOfASplinteredMessageIsTheOneThatDecidedItsOutcome() throws {
        try makePolicyProfiles()
        let policy = try save(Self.splinterPolicy, "split.policy")
        let inbox = try maildir(
            "in",
            [
                "held": "From: x@example.test\nTo: a@none.test, q@hold.test\nSubject: s\n\nbody\n",
                "nosender": "To: a@none.test, c@customer.test\nSubject: s\n\nbody\n",
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(1)
        let r = try rawRecords(out)
        XCTAssertEqual(r["held"]?["outcome"] as? String, "quarantined")
        XCTAssertEqual(r["held"]?["reason_code"] as? String, "quarantined")
        XCTAssertEqual(r["nosender"]?["outcome"] as? String, "failed")
        XCTAssertEqual(r["nosender"]?["reason_code"] as? String, "no-sender")
    }

    /// The failed copy of a splintered message is the whole input with `"recipients":[]`, beside
    /// an encrypted copy already delivered to Bob: nothing says the failure concerns only
    /// c@customer.test, so whoever retries failed/ sends Bob a second copy.
    func testAFailedCopyOfASplinteredMessageNamesItsRecipients() throws {
        try makePolicyProfiles()
        let policy = try save(Self.splinterPolicy, "split.policy")
        let inbox = try maildir(
            "in", ["m": "To: bob@partner.example, c@customer.test\nSubject: s\n\nbody\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(1)
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        XCTAssertEqual(record.outcome, "failed")
        let failed = try XCTUnwrap(record.outputs.first { $0.file.hasPrefix("failed/") })
        XCTAssertEqual(failed.recipients, ["c@customer.test"])
    }

    /// Bcc is removed from every header, but a Bcc recipient who falls into the same copy as a
    /// To recipient gets one envelope with both: Bob's encrypted message carries a
    /// RecipientInfo naming Dan's certificate (issuer and serial), so Bob learns who was
    /// blind-copied. Splintering already makes separate copies; a Bcc recipient needs their own.
    func testABccRecipientDoesNotShareAnEnvelopeWithTheVisibleRecipients() throws {
        try makePolicyProfiles()
        let policy = try save(
            "[content filters]\ne: if (true) { smime-gateway(\"enc\"); }\n[outgoing policy default]\ncontent-filters = e\n",
            "e.policy")
        let inbox = try maildir(
            "in",
            ["m": "From: x@example.test\nTo: bob@partner.example\nBcc: dan@partner.example\nSubject: s\n\nbody\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", policy]).expect(0)
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        for output in record.outputs where output.recipients.contains("bob@partner.example") {
            XCTAssertFalse(output.recipients.contains("dan@partner.example"), "Bob's envelope names Dan: \(output)")
        }
    }

    // MARK: Resume

    /// A run killed after a message's outputs were written and before its manifest line, then
    /// resumed after the policy changed: the message is processed again under the new policy into
    /// a *different* file name (names derive from the outcome), and the first run's signed copy
    /// stays in signed/ with no record — delivered although the manifest says quarantined.
    func testResumeUnderAChangedPolicyLeavesNoUnrecordedOutput() throws {
        try makePolicyProfiles()
        let sign = try save(
            "[content filters]\ns: if (true) { smime-gateway(\"sgn\"); }\n[outgoing policy default]\ncontent-filters = s\n",
            "sign.policy")
        let hold = try save(
            "[content filters]\nq: if (true) { quarantine(\"Q\"); }\n[outgoing policy default]\ncontent-filters = q\n",
            "hold.policy")
        let inbox = try maildir("in", ["m": "From: x@example.test\nTo: c@customer.test\nSubject: s\n\nbody\n"])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", sign]).expect(0)
        // What SIGKILL between delivering the outputs and appending the line leaves.
        try write("", to: URL(fileURLWithPath: out + "/manifest.jsonl"))
        try? FileManager.default.removeItem(atPath: out + "/manifest.index")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", hold, "--resume"]).expect(0)
        let recorded = Set(try manifestEntries(out).flatMap { $0.outputs.map(\.file) })
        XCTAssertEqual(try delivered(out), recorded, "outputs without a manifest record")
    }

    // MARK: Incoming

    /// `verify = no` on signed-then-encrypted mail: the envelope is decrypted, the signature inside
    /// left alone, and the message lands in decrypted/ as `smime=neutral (encrypted, not signed)`
    /// with no reason at all — the `not-verified` reason that passed/ mail gets is lost, and the
    /// result field says the message is not signed when it is.
    func testVerifyNoOnSignedThenEncryptedMailSaysWhy() throws {
        let signed = try smimegate(["sign", "--cert", "alice"], input: Array(Self.plainLF.utf8)).expect(0).out
        let encrypted = try smimegate(
            ["encrypt", "--to", "bob@partner.example", "--cipher", "aes-256-gcm"], input: Array(signed.utf8)
        ).expect(0).out
        let policy = try save("[incoming policy default]\nverify = no\n", "vn.policy")
        let inbox = try maildir("in", ["m": encrypted])
        let out = path("out")
        try smimegate(
            ["process", "incoming", inbox, "--out", out, "--policy", policy, "--authserv-id", "mx.example.test"]
        ).expect(0)
        let raw = try XCTUnwrap(try rawRecords(out)["m"])
        XCTAssertEqual(raw["reason_code"] as? String, "not-verified", "\(raw)")
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        for output in record.outputs {
            let text = string(bytes(of: URL(fileURLWithPath: out + "/" + output.file)))
            XCTAssertFalse(text.contains("not signed)"), "a signed message described as not signed")
        }
    }

    /// A message filter may strip our Authentication-Results and insert one claiming our
    /// authserv-id: `policy check` accepts it, and a tampered message is delivered to unverified/
    /// with `mx.example.test; smime=pass` as its only result. "The only one carrying it on
    /// delivered mail is ours" should hold whatever the filters do (refuse the actions on this
    /// field, or re-add ours on top and drop theirs).
    func testAFilterCannotForgeOurAuthenticationResults() throws {
        let signed = try smimegate(["sign", "--cert", "alice"], input: Array(Self.plainLF.utf8)).expect(0).out
        let tampered = signed.replacingOccurrences(of: "Hello Bob,", with: "Hello Rob,")
        XCTAssertNotEqual(tampered, signed)
        let file = try save(
            """
            [message filters]
            clean: if (true) {
                strip-header("Authentication-Results");
                insert-header("Authentication-Results", "mx.example.test; smime=pass body.smime-identifier=ceo@example.com");
            }

            """, "ar.policy")
        let checked = try smimegate(["policy", "check", file])
        guard checked.status == 0 else { return }  // refusing the policy is fine
        let inbox = try maildir("in", ["m": tampered])
        let out = path("out")
        try smimegate([
            "process", "incoming", inbox, "--out", out, "--policy", file, "--authserv-id", "mx.example.test",
        ])
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        XCTAssertEqual(record.outcome, "unverified")
        for output in record.outputs {
            let text = string(bytes(of: URL(fileURLWithPath: out + "/" + output.file)))
            XCTAssertFalse(text.contains("mx.example.test; smime=pass"), "a forged pass with our authserv-id")
        }
    }

    // MARK: policy trace

    /// With `verify = no` (or `decrypt = no`) `process` can never verify, yet `policy trace
    /// --direction incoming` shows "if the signature verifies: delivered" next to the quarantine
    /// that process will always apply: the operator reads that trusted mail gets through.
    func testTraceDoesNotPromiseAVerificationThePolicyTurnsOff() throws {
        let signed = try smimegate(["sign", "--cert", "alice"], input: Array(Self.plainLF.utf8)).expect(0).out
        let message = try save(signed, "signed.eml")
        let policy = try save(
            """
            [message filters]
            v: if (not smime-gateway-verified) { quarantine("Unv"); }
            [incoming policy default]
            verify = no

            """, "t.policy")
        let trace = try smimegate(["policy", "trace", message, "--direction", "incoming", "--policy", policy])
            .expect(0).out
        XCTAssertFalse(trace.contains("if the signature verifies"), trace)
        let inbox = try maildir("in", ["m": signed])
        let out = path("out")
        try smimegate(["process", "incoming", inbox, "--out", out, "--policy", policy, "--authserv-id", "mx.test"])
            .expect(0)
        XCTAssertEqual(try recordsByInput(out)["m"]?.outcome, "quarantined")
    }
}
