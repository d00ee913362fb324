import Foundation
import TestSupport
import XCTest

/// `process` deciding by a policy (issue 10; SPEC F8, F9, F12–F14): the issue's example file
/// loaded unchanged, splintering, final and deferred transforms, quarantines, notices and
/// bounces, incoming policies and message filters over third-party mail.
final class PolicyRunTests: CLITestCase {
    /// The policy file of issue 10, exactly as written there.
    static let example = string(bytes(of: Paths.fixture("example.policy")))

    /// The organisation certificate for example.test (SAN domain), the profiles the example names,
    /// and the example loaded.
    func loadExample() throws {
        try makePolicyProfiles()
        try smimegate(["policy", "load", try save(Self.example, "policy.txt")]).expect(0)
    }

    func testTheExamplePolicyDoesWhatItSaysOnOutgoingMail() throws {
        try loadExample()
        let inbox = try maildir(
            "in",
            [
                // A partner and a customer: an encrypted copy (final, by 'confidential') and a signed one.
                "splinter": """
                From: x@example.test
                To: bob@partner.example, c@customer.test
                X-Internal: secret
                Subject: Confidential plan
                Message-ID: <splinter@example.test>

                the plan

                """,
                "drop": "From: x@example.test\nTo: bob@partner.example\nSubject: DROPME now\n\nbye\n",
                // Partners' policy, but not confidential: the deferred mark lets 'footer' run.
                "deferred": """
                From: y@example.test
                To: bob@partner.example
                X-Internal: one
                X-Internal: two
                Subject: lunch

                see you

                """,
                // Found by the body, in a base64 ISO-8859-1 part.
                "body": """
                From: x@example.test
                To: bob@partner.example
                Subject: notes
                MIME-Version: 1.0
                Content-Type: text/plain; charset=iso-8859-1
                Content-Transfer-Encoding: base64

                \(Data("Ceci est strictly PRIVATE, d\u{E9}j\u{E0}.\n".data(using: .isoLatin1)!).base64EncodedString())

                """,
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out]).expect(0)
        let r = try recordsByInput(out)

        XCTAssertEqual(r["drop"]?.outcome, "dropped")
        XCTAssertEqual(r["drop"]?.outputs.count, 0)
        XCTAssertTrue(r["drop"]?.reason?.contains("drop_marked") == true, r["drop"]?.reason ?? "")

        let splinter = try XCTUnwrap(r["splinter"])
        XCTAssertEqual(splinter.outcome, "split")
        let digest = try openssl(["dgst", "-sha256", "-r", path("policy.txt")]).expect(0).out.prefix(64)
        XCTAssertEqual(splinter.policySha256, String(digest), "each record names the policy version that decided")
        XCTAssertEqual(splinter.outputs.map(\.file.first), ["e", "s"])
        let partner = splinter.outputs[0]
        let customer = splinter.outputs[1]
        XCTAssertEqual(partner.recipients, ["bob@partner.example"])
        XCTAssertEqual(partner.policy, "partners")
        XCTAssertEqual(partner.filters, ["confidential"])
        XCTAssertEqual(partner.profile, "enc")
        XCTAssertTrue(partner.file.hasPrefix("encrypted/new/"))
        XCTAssertEqual(customer.recipients, ["c@customer.test"])
        XCTAssertEqual(customer.policy, "default")
        XCTAssertEqual(customer.filters, ["sign-later", "footer"])
        XCTAssertEqual(customer.profile, "sgn")
        XCTAssertTrue(customer.file.hasPrefix("signed/new/"))
        // The final action stopped the content filters: no footer on the encrypted copy.
        let encrypted = outputText(out, splinter, 0)
        XCTAssertFalse(encrypted.contains("X-Footer"))
        XCTAssertTrue(
            try openssl(
                ["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key")],
                input: Array(encrypted.utf8)
            ).expect(0).out.contains("the plan"))
        let signed = outputText(out, splinter, 1)
        XCTAssertTrue(signed.contains("X-Footer: added"))
        XCTAssertFalse(signed.contains("X-Internal"))
        try smimegate(["cert", "export", "org", "-o", path("org.pem")]).expect(0)
        let verified = try openssl(
            ["cms", "-verify", "-CAfile", path("org.pem"), "-purpose", "any"], input: Array(signed.utf8)
        ).expect(0).out
        XCTAssertTrue(verified.contains("the plan"))

        let deferred = try XCTUnwrap(r["deferred"])
        XCTAssertEqual(deferred.outcome, "signed")
        XCTAssertEqual(deferred.outputs[0].policy, "partners")
        XCTAssertEqual(deferred.outputs[0].filters, ["sign-later", "footer"])
        let deferredCopy = outputText(out, deferred)
        XCTAssertTrue(deferredCopy.contains("X-Footer: added"), "a header inserted after a deferred mark is present")
        XCTAssertFalse(deferredCopy.contains("X-Internal"), "strip-header removes every instance")

        let body = try XCTUnwrap(r["body"])
        XCTAssertEqual(body.outcome, "encrypted", body.reason ?? "")
        XCTAssertEqual(body.outputs[0].filters, ["confidential"])
    }

    func testTheExamplePolicyQuarantinesThunderbirdMailThatDoesNotVerify() throws {
        let (other, inbox) = try thunderbirdBob()
        try other.run(["profile", "create", "sgn", "--mode", "sign", "--cert", "bob"]).expect(0)
        try other.run(["profile", "create", "enc", "--mode", "encrypt"]).expect(0)
        try other.run(["policy", "load", try save(Self.example, "policy.txt")]).expect(0)
        let out = path("tb-out")
        try other.run(["process", "incoming", inbox, "--out", out, "--authserv-id", "mx.example.com"]).expect(0)
        let r = try recordsByInput(out)
        XCTAssertEqual(r.count, 66)
        var quarantined = 0
        for (name, record) in r {
            let verifies =
                !(name.contains(".bad.") || name.contains("mismatch-econtent")
                || name.hasPrefix("alice.env.dsig.") || name.contains("SHA1") || name == "alice.env.eml")
            if verifies {
                XCTAssertEqual(record.outcome, "verified", "\(name): \(record.reason ?? "")")
            } else {
                quarantined += 1
                XCTAssertEqual(record.outcome, "quarantined", name)
                XCTAssertEqual(record.quarantine, "Policy", name)
                XCTAssertTrue(record.outputs[0].file.hasPrefix("quarantined/Policy/new/"), name)
                XCTAssertEqual(record.outputs[0].filters, ["quarantine_smime_messages"], name)
                XCTAssertTrue(record.reason?.contains("quarantine_smime_messages") == true, name)
                // Quarantined with its result, so whoever releases it knows why.
                XCTAssertTrue(outputText(out, record).hasPrefix("Authentication-Results: mx.example.com; smime="), name)
            }
            XCTAssertEqual(record.outputs[0].policy, "default", name)
        }
        XCTAssertGreaterThan(quarantined, 10)
        let held = try FileManager.default.contentsOfDirectory(atPath: out + "/quarantined/Policy/new")
        XCTAssertEqual(held.count, quarantined)
    }

    func testIncomingPoliciesBySenderAndForgedResultsNeverReachTheFilters() throws {
        try smimegate(["profile", "create", "sgn", "--mode", "sign", "--cert", "alice"]).expect(0)
        try smimegate(["profile", "create", "enc", "--mode", "encrypt"]).expect(0)
        let policy =
            Self.example + """

                [message filters]
                trust_results: if (header("Authentication-Results") == "smime=pass" and not smime-gateway-message) {
                    quarantine("Forged");
                }
                tag_verified: if (smime-gateway-verified and smime-gateway-authenticated) {
                    insert-header("X-Verified", "yes");
                }

                """
        try smimegate(["policy", "load", try save(policy, "policy.txt")]).expect(0)
        let plain = "From: alice@example.com\nTo: bob@partner.example\nSubject: signed\n\nsigned text\n"
        let signed = try smimegate(["sign", "--cert", "alice"], input: Array(plain.utf8)).expect(0).out
        let unchecked = "Return-Path: <someone@nocheck.test>\n" + signed
        let forged = """
            Authentication-Results: mx.example.com; smime=pass body.smime-identifier=alice@example.com
            From: alice@example.com
            To: bob@partner.example
            Subject: trust me

            not signed at all

            """
        let inbox = try maildir("in", ["signed": signed, "unchecked": unchecked, "forged": forged])
        let out = path("out")
        try smimegate(["process", "incoming", inbox, "--out", out, "--authserv-id", "mx.example.com"]).expect(0)
        let r = try recordsByInput(out)

        let good = try XCTUnwrap(r["signed"])
        XCTAssertEqual(good.outcome, "verified", good.reason ?? "")
        XCTAssertEqual(good.outputs[0].filters, ["tag_verified"])
        let delivered = outputText(out, good)
        XCTAssertTrue(delivered.contains("X-Verified: yes"))
        XCTAssertFalse(delivered.contains("application/pkcs7-signature"), "signature = remove")

        // nocheck: not verified, delivered as received; S/MIME was found and not verified, so quarantined.
        let skipped = try XCTUnwrap(r["unchecked"])
        XCTAssertEqual(skipped.outcome, "quarantined")
        XCTAssertEqual(skipped.outputs[0].policy, "nocheck")
        XCTAssertTrue(skipped.reason?.contains("incoming policy nocheck has verify = no") == true, skipped.reason ?? "")
        XCTAssertTrue(outputText(out, skipped).contains("application/pkcs7-signature"))

        // The forged pass was removed before the filters looked, so 'trust_results' did not fire.
        let spoof = try XCTUnwrap(r["forged"])
        XCTAssertEqual(spoof.outcome, "passed")
        XCTAssertTrue(spoof.warning?.contains("removed 1 Authentication-Results") == true, spoof.warning ?? "")
        XCTAssertFalse(outputText(out, spoof).contains("smime=pass"))
    }

    func testAlreadyEncryptedMailPassesUnchangedAndNoticesAndBouncesAreDelivered() throws {
        try smimegate(["profile", "create", "enc", "--mode", "encrypt"]).expect(0)
        let policy = """
            [message filters]
            bounce_spam: if (header("X-Spam") == "yes") { bounce(); }
            watch_big: if (body-size > 2K) { notify("postmaster@example.com"); }

            [content filters]
            secret: if (subject == "secret") { smime-gateway("enc"); }
            tag: if (encrypted) { insert-header("X-Was-Encrypted", "yes"); notify("audit@example.com"); }

            [outgoing policy default]
            content-filters = secret

            [outgoing policy tagged]
            recipients = dan@partner.example
            content-filters = tag

            """
        let file = try save(policy, "p.txt")
        let plain = "From: alice@example.com\nTo: bob@partner.example\nSubject: hi\n\nalready private\n"
        let encrypted = try openssl(["cms", "-encrypt", "-aes256", fixture("bob.pem")], input: Array(plain.utf8))
            .expect(0).out
        let big =
            "From: alice@example.com\nTo: bob@partner.example\nSubject: big\n\n"
            + String(repeating: "x", count: 3000) + "\n"
        let inbox = try maildir(
            "in",
            [
                "encrypted": encrypted, "big": big,
                "spam": "From: alice@example.com\nTo: bob@partner.example\nX-Spam: yes\nSubject: s\n\nbuy\n",
                "tagged": "From: alice@example.com\nTo: dan@partner.example\nSubject: t\n" + encrypted,
            ])
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--policy", file]).expect(0)
        let r = try recordsByInput(out)

        let passed = try XCTUnwrap(r["encrypted"])
        XCTAssertEqual(passed.outcome, "passed")
        let digest = try openssl(["dgst", "-sha256", "-r", file]).expect(0).out.prefix(64)
        XCTAssertEqual(passed.policySha256, String(digest), "--policy FILE: that file's digest")
        XCTAssertEqual(passed.reason, "already S/MIME-encrypted")
        XCTAssertEqual(bodyText(Array(self.outputText(out, passed).utf8)), bodyText(Array(encrypted.utf8)))

        let bounced = try XCTUnwrap(r["spam"])
        XCTAssertEqual(bounced.outcome, "bounced")
        XCTAssertEqual(bounced.outputs[0].recipients, ["alice@example.com"])
        XCTAssertTrue(self.outputText(out, bounced).contains("report-type=delivery-status"))

        let noticed = try XCTUnwrap(r["big"])
        XCTAssertEqual(noticed.outcome, "passed")
        XCTAssertEqual(noticed.outputs.count, 2)
        XCTAssertTrue(noticed.outputs[1].file.hasPrefix("notifications/new/"))
        XCTAssertEqual(noticed.outputs[1].recipients, ["postmaster@example.com"])
        let notice = self.outputText(out, noticed, 1)
        XCTAssertTrue(notice.contains("To: <postmaster@example.com>"))
        XCTAssertTrue(notice.contains("Filters: watch_big"))
        XCTAssertTrue(notice.contains("Auto-Submitted: auto-generated"))

        let tagged = try XCTUnwrap(r["tagged"])
        XCTAssertEqual(tagged.outcome, "passed")
        XCTAssertEqual(tagged.outputs[0].policy, "tagged")
        XCTAssertEqual(tagged.outputs[0].filters, ["tag"])
        XCTAssertTrue(self.outputText(out, tagged).contains("X-Was-Encrypted: yes"))
        XCTAssertEqual(tagged.outputs[1].recipients, ["audit@example.com"])
    }

    func testProfileOverridesTheLoadedPolicyAndTraceExplainsADecision() throws {
        try loadExample()
        let message = """
            From: x@example.test
            To: bob@partner.example, c@customer.test
            Subject: Confidential plan

            the plan

            """
        let file = try save(message, "m.eml")
        let trace = try smimegate(["policy", "trace", file]).expect(0).out
        XCTAssertTrue(trace.contains("drop_marked: no match"), trace)
        XCTAssertTrue(trace.contains("bob@partner.example: policy partners"), trace)
        XCTAssertTrue(trace.contains("content filter confidential: matched → smime-gateway(\"enc\")"), trace)
        XCTAssertTrue(trace.contains("profile enc (final, mode encrypt) → encrypted"), trace)
        XCTAssertTrue(trace.contains("c@customer.test: policy default"), trace)
        XCTAssertTrue(trace.contains("profile sgn (deferred, mode sign) → signed"), trace)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("out")))

        let incoming = try smimegate(["policy", "trace", file, "--direction", "incoming"]).expect(0).out
        XCTAssertTrue(incoming.contains("incoming policy default: decrypt yes, verify yes, signature remove"), incoming)
        XCTAssertTrue(incoming.contains("S/MIME: no"), incoming)

        let inbox = try maildir("in", ["m": message])
        try smimegate(["process", "outgoing", inbox, "--out", path("out"), "--profile", "sgn"]).expect(0)
        let record = try XCTUnwrap(try recordsByInput(path("out"))["m"])
        XCTAssertEqual(record.outcome, "signed")
        XCTAssertNil(record.outputs[0].policy)
        XCTAssertNil(record.policySha256)

        // A profile the loaded policy names cannot be deleted; a policy file naming a missing one
        // stops the run before it starts.
        let inUse = try smimegate(["profile", "delete", "enc"]).expect(2)
        XCTAssertTrue(inUse.stderr.contains("profile enc is named by the loaded policy"), inUse.stderr)
        try smimegate(["profile", "delete", "sgn"]).expect(2)
        try smimegate(["policy", "load", try save("[outgoing policy default]\n", "empty.txt")]).expect(0)
        try smimegate(["profile", "delete", "enc"]).expect(0)
        let refused = try smimegate([
            "process", "outgoing", inbox, "--out", path("out2"), "--policy", path("policy.txt"),
        ])
        .expect(2)
        XCTAssertTrue(refused.stderr.contains("no sending profile named \"enc\""), refused.stderr)
    }
}
