import Foundation
import TestSupport
import XCTest

/// Header protection (RFC 9788, SPEC F36, issue 17): what we send is read by the openssl command line and
/// Python's `email` package; what openssl signs and encrypts in RFC 9788's form is promoted by `process
/// incoming` only as far as a signature vouches for it.
final class HeaderProtectionTests: CLITestCase {
    /// The header of an entity openssl or Python printed, as name → values (unfolded).
    func header(of text: String) -> [String: [String]] {
        var result: [String: [String]] = [:]
        let head = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")[0]
        for line in head.replacingOccurrences(of: "\n ", with: " ").replacingOccurrences(of: "\n\t", with: " ")
            .split(separator: "\n")
        {
            guard let colon = line.firstIndex(of: ":") else { continue }
            result[line[..<colon].lowercased(), default: []].append(
                line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
        }
        return result
    }

    /// Runs `process outgoing` with `profile` over the plain test message and returns the one output's text.
    func outgoing(profile: String, folder: String) throws -> String {
        let inbox = try maildir("in-\(profile)", ["m": Self.plainLF])
        let out = path("out-\(profile)")
        try smimegate(["process", "outgoing", inbox, "--out", out, "--profile", profile]).expect(0)
        let record = try XCTUnwrap(try recordsByInput(out)["m"])
        XCTAssertEqual(record.outcome, folder)
        return outputText(out, record)
    }

    /// The `hp` parameter of a Content-Type and the Subject as Python's `email` package reads an entity.
    func pythonReads(_ entity: String) throws -> String {
        let script = """
            import email, sys
            from email import policy
            m = email.message_from_bytes(sys.stdin.buffer.read(), policy=policy.default)
            print(m.get_param("hp"), m.get_param("hp-legacy-display"), m["Subject"], len(m.get_all("HP-Outer") or []))
            """
        let result = try runProcess(Paths.python, ["-c", script], input: Array(entity.utf8))
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    // MARK: Outgoing

    /// A new sign-encrypt profile protects by default: the envelope's outer Subject is `[...]`, the rest
    /// of what the mail system needs stays; inside (openssl decrypts, then verifies) the signed payload's
    /// root carries the real fields, `hp="cipher"` and what went outside in HP-Outer.
    func testSignEncryptProfileProtectsAndObscuresTheSubject() throws {
        try smimegate(["profile", "create", "p", "--mode", "sign-encrypt", "--cert", "alice"]).expect(0)
        XCTAssertTrue(try smimegate(["profile", "show", "p"]).expect(0).out.contains("encrypt"))
        let sent = try outgoing(profile: "p", folder: "encrypted")
        let outer = header(of: sent)
        XCTAssertEqual(outer["subject"], ["[...]"])
        XCTAssertEqual(outer["from"], ["Alice <alice@example.com>"])
        XCTAssertEqual(outer["to"], ["Bob <bob@partner.example>"])
        XCTAssertEqual(outer["message-id"], ["<interop-1@example.com>"])
        XCTAssertEqual(outer["date"], ["Sun, 29 Nov 2026 10:00:00 +0000"])
        XCTAssertFalse(sent.contains("Quarterly"), "the Subject leaks outside")

        let file = try save(sent, "sent.eml")
        let signed = try openssl(
            ["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", file]
        ).expect(0).out
        XCTAssertTrue(signed.contains("multipart/signed"), signed)
        let root = try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try save(signed, "signed.eml")])
            .expect(0).out
        let inner = header(of: root)
        XCTAssertEqual(inner["subject"], ["Quarterly figures"])
        XCTAssertEqual(inner["from"], ["Alice <alice@example.com>"])
        XCTAssertEqual(inner["message-id"], ["<interop-1@example.com>"])
        XCTAssertTrue(inner["content-type"]?.first?.hasSuffix("; hp=\"cipher\"") == true, "\(inner)")
        XCTAssertEqual(
            Set(inner["hp-outer"] ?? []),
            [
                "From: Alice <alice@example.com>", "To: Bob <bob@partner.example>", "Subject: [...]",
                "Date: Sun, 29 Nov 2026 10:00:00 +0000", "Message-ID: <interop-1@example.com>",
            ])
        XCTAssertEqual(try pythonReads(root), "cipher None Quarterly figures 5")
        XCTAssertTrue(root.contains("Hello Bob,"), root)
    }

    /// A sign-only profile: the fields under the signature with `hp="clear"`, no HP-Outer, the outer
    /// header as it was.
    func testSignProfileProtectsWithoutObscuring() throws {
        try smimegate(["profile", "create", "s", "--mode", "sign", "--cert", "alice"]).expect(0)
        let sent = try outgoing(profile: "s", folder: "signed")
        XCTAssertEqual(header(of: sent)["subject"], ["Quarterly figures"])
        let root = try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try save(sent, "s.eml")])
            .expect(0).out
        XCTAssertEqual(header(of: root)["subject"], ["Quarterly figures"])
        XCTAssertNil(header(of: root)["hp-outer"])
        XCTAssertEqual(try pythonReads(root), "clear None Quarterly figures 0")
    }

    /// `header-protection = sign` on an encrypting profile: the fields inside (`hp="cipher"`, HP-Outer as
    /// sent) but nothing obscured; `none` (what a profile exported before the setting existed imports as)
    /// leaves the payload as RFC 8551 had it. Python's cryptography decrypts.
    func testSignLevelAndProfilesFromBefore() throws {
        let file = try save(
            """
            [profile old]
            mode = encrypt
            cipher = aes-256-cbc

            [profile visible]
            mode = encrypt
            cipher = aes-256-cbc
            header-protection = sign

            """, "profiles.txt")
        try smimegate(["profile", "import", file]).expect(0)
        XCTAssertTrue(try smimegate(["profile", "list"]).expect(0).out.contains("old\tmode=encrypt"))
        let show = try smimegate(["profile", "show", "old"]).expect(0).out
        XCTAssertTrue(show.contains("header protection") && show.contains("none"), show)

        let old = try outgoing(profile: "old", folder: "encrypted")
        let oldPlain = try pyca(["decrypt", fixture("bob.pem"), fixture("bob.key")], input: Array(old.utf8))
            .expect(0).out
        XCTAssertFalse(oldPlain.contains("hp="), oldPlain)
        XCTAssertNil(header(of: oldPlain)["subject"])

        let visible = try outgoing(profile: "visible", folder: "encrypted")
        XCTAssertEqual(header(of: visible)["subject"], ["Quarterly figures"])
        let plain = try pyca(["decrypt", fixture("bob.pem"), fixture("bob.key")], input: Array(visible.utf8))
            .expect(0).out
        XCTAssertEqual(try pythonReads(plain), "cipher None Quarterly figures 5")
        XCTAssertTrue(header(of: plain)["hp-outer"]?.contains("Subject: Quarterly figures") == true)

        // Export writes the setting, so a round trip keeps it.
        let exported = try smimegate(["profile", "export", "-"]).expect(0).out
        XCTAssertTrue(exported.contains("[profile old]\nmode = encrypt"), exported)
        XCTAssertTrue(exported.contains("header-protection = none"), exported)
        XCTAssertTrue(exported.contains("header-protection = sign"), exported)
        try smimegate(["profile", "edit", "old", "--header-protection", "bogus"]).expect(2)
    }

    /// `legacy-display = yes`: the obscured Subject is written at the top of the text for readers that
    /// decrypt but know nothing of header protection, marked `hp-legacy-display="1"`.
    func testLegacyDisplayElement() throws {
        try smimegate(
            ["profile", "create", "l", "--mode", "encrypt", "--cipher", "aes-256-cbc", "--legacy-display", "yes"]
        ).expect(0)
        let sent = try outgoing(profile: "l", folder: "encrypted")
        let plain = try openssl(
            ["cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", try save(sent, "l")]
        ).expect(0).out
        XCTAssertEqual(try pythonReads(plain), "cipher 1 Quarterly figures 5")
        XCTAssertTrue(bodyText(Array(plain.utf8)).hasPrefix("Subject: Quarterly figures\n\nHello Bob,"), plain)
    }

    /// The `sign` and `encrypt` commands: `--header-protection` (none by default, so scripts see no change);
    /// sign for a message encrypted next, then encrypt, gives RFC 9788's signed-and-encrypted form; a
    /// signed message cannot be protected by `encrypt`.
    func testSignAndEncryptCommands() throws {
        let input = try save(Self.plainLF, "m.eml")
        let plainSigned = try smimegate(["sign", "--cert", "alice", input]).expect(0).out
        XCTAssertFalse(plainSigned.contains("hp="))
        let signed = try smimegate(["sign", "--cert", "alice", "--header-protection", "encrypt", input]).expect(0).out
        XCTAssertEqual(header(of: signed)["subject"], ["[...]"])
        let encrypted = try smimegate(["encrypt", "--key", "bob", "-"], input: Array(signed.utf8)).expect(0).out
        XCTAssertEqual(header(of: encrypted)["subject"], ["[...]"])
        let decrypted = try openssl(
            [
                "cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in",
                try save(encrypted, "e"),
            ]
        ).expect(0).out
        let root = try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", try save(decrypted, "d")])
            .expect(0).out
        XCTAssertEqual(try pythonReads(root), "cipher None Quarterly figures 5")

        let refused = try smimegate(
            ["encrypt", "--key", "bob", "--header-protection", "encrypt", "-"], input: Array(plainSigned.utf8))
        refused.expect(1)
        XCTAssertTrue(refused.stderr.contains("the message is signed"), refused.stderr)

        let sealed = try smimegate(["encrypt", "--key", "bob", "--header-protection", "encrypt", input]).expect(0).out
        XCTAssertEqual(header(of: sealed)["subject"], ["[...]"])
        let opened = try pyca(["decrypt", fixture("bob.pem"), fixture("bob.key")], input: Array(sealed.utf8))
            .expect(0).out
        XCTAssertEqual(try pythonReads(opened), "cipher None Quarterly figures 5")
    }

    // MARK: Incoming

    /// RFC 9788 messages made by the openssl command line.
    func entity(hp: String, from: String, subject: String, id: String, outer: [String] = []) -> String {
        "Content-Type: text/plain; charset=us-ascii; hp=\"\(hp)\"\r\nFrom: \(from)\r\nTo: bob@partner.example\r\n"
            + "Subject: \(subject)\r\nMessage-ID: <\(id)@example.com>\r\n"
            + outer.map { "HP-Outer: \($0)\r\n" }.joined() + "\r\nthe body of \(id)\r\n"
    }

    func outerHeader(from: String = "alice@example.com", subject: String, id: String) -> String {
        "From: \(from)\r\nTo: bob@partner.example\r\nSubject: \(subject)\r\nMessage-ID: <\(id)@example.com>\r\n"
    }

    func opensslSigned(_ entity: String) throws -> String {
        try openssl(
            ["cms", "-sign", "-signer", fixture("alice.pem"), "-inkey", fixture("alice.key")], input: Array(entity.utf8)
        )
        .expect(0).out
    }

    /// Signed: the protected Subject replaces one changed in transit, and the change is recorded; a
    /// protected From the signer does not speak for fails even when the outer From is the signer's; a
    /// message filter tests the protected Subject.
    func testSignedProtectedFieldsArePromotedAndTheirSignerChecked() throws {
        let changed =
            outerHeader(subject: "Changed in transit", id: "hp-clear")
            + (try opensslSigned(
                entity(hp: "clear", from: "alice@example.com", subject: "The real one", id: "hp-clear")))
        let notCovered =
            outerHeader(subject: "Hi", id: "hp-from")
            + (try opensslSigned(entity(hp: "clear", from: "carol@example.com", subject: "Hi", id: "hp-from")))
        let intact =
            outerHeader(subject: "Same", id: "hp-same")
            + (try opensslSigned(entity(hp: "clear", from: "alice@example.com", subject: "Same", id: "hp-same")))
        let added =
            outerHeader(subject: "Added", id: "hp-added")
            + "Reply-To: attacker@evil.example\r\nSender: attacker@evil.example\r\nDate: Mon, 30 Nov 2026 10:00:00 +0000\r\n"
            + (try opensslSigned(entity(hp: "clear", from: "alice@example.com", subject: "Added", id: "hp-added")))
        let results = try deliverIncoming(
            [
                "changed": Array(changed.utf8), "from": Array(notCovered.utf8), "same": Array(intact.utf8),
                "added": Array(added.utf8),
            ])

        let (record, text) = try XCTUnwrap(results["hp-clear"])
        XCTAssertEqual(record.outcome, "verified")
        XCTAssertEqual(fields("Subject", in: text), ["Subject: The real one"])
        let result = try XCTUnwrap(fields("Authentication-Results", in: text).first)
        XCTAssertTrue(result.contains("smime=pass"), result)
        XCTAssertTrue(result.contains("header.protected=from,to,subject,message-id"), result)
        XCTAssertTrue(result.contains("outer field changed in transit: Subject"), result)
        XCTAssertTrue(record.warning?.contains("the outer Subject differed") == true, "\(record.warning ?? "")")

        let (failed, failedText) = try XCTUnwrap(results["hp-from"])
        XCTAssertEqual(failed.outcome, "unverified")
        XCTAssertTrue(
            fields("Authentication-Results", in: failedText).first?.contains("smime=fail (protected From not covered")
                == true, failedText)

        let (same, sameText) = try XCTUnwrap(results["hp-same"])
        XCTAssertEqual(same.outcome, "verified")
        XCTAssertNil(same.warning)
        XCTAssertFalse(sameText.contains("changed in transit"))

        // Fields the signer did not sign and a relay added are not delivered under the pass (but a Date).
        let (addedRecord, addedText) = try XCTUnwrap(results["hp-added"])
        XCTAssertEqual(addedRecord.outcome, "verified")
        XCTAssertEqual(fields("Reply-To", in: addedText), [])
        XCTAssertEqual(fields("Sender", in: addedText), [])
        XCTAssertEqual(fields("Date", in: addedText), ["Date: Mon, 30 Nov 2026 10:00:00 +0000"])
        XCTAssertTrue(addedText.contains("outer-only field removed: sender,reply-to"), addedText)
        XCTAssertTrue(addedRecord.warning?.contains("without the outer-only sender, reply-to") == true)

        let policy = try save("[message filters]\nd: if (subject == \"The real one\") { drop(); }\n", "d.policy")
        let filtered = try deliverIncoming(["changed": Array(changed.utf8)], ["--policy", policy])
        XCTAssertEqual(filtered["hp-clear"]?.0.outcome, "dropped")
    }

    /// Encrypted, not signed: the Subject its sender hid comes back (the HP-Outer record says it was
    /// `[...]` outside); a protected From that differs from the outer one is not promoted.
    func testUnsignedProtectedFieldsRestoreOnlyWhatWasHidden() throws {
        let inner = entity(
            hp: "cipher", from: "ceo@example.com", subject: "Secret plans", id: "hp-enc",
            outer: [
                "From: alice@example.com", "To: bob@partner.example", "Subject: [...]",
                "Message-ID: <hp-enc@example.com>",
            ])
        let sealed = try openssl(["cms", "-encrypt", "-aes256", fixture("bob.pem")], input: Array(inner.utf8))
            .expect(0).out
        let message = outerHeader(subject: "[...]", id: "hp-enc") + sealed
        let (record, text) = try XCTUnwrap(try deliverIncoming(["m": Array(message.utf8)])["hp-enc"])
        XCTAssertEqual(record.outcome, "decrypted")
        XCTAssertEqual(fields("Subject", in: text), ["Subject: Secret plans"])
        XCTAssertEqual(fields("From", in: text), ["From: alice@example.com"])
        let result = try XCTUnwrap(fields("Authentication-Results", in: text).first)
        XCTAssertTrue(result.contains("smime=neutral"), result)
        XCTAssertTrue(
            result.contains(
                "header.protected=none; restored without a signature: subject; not promoted without a signature: from"),
            result)
    }

    /// `verify` and `decrypt` follow the same rules on one message.
    func testVerifyAndDecryptCommandsPromoteByTheSameRules() throws {
        let changed =
            outerHeader(subject: "Changed", id: "v")
            + (try opensslSigned(entity(hp: "clear", from: "alice@example.com", subject: "Signed one", id: "v")))
        let verified = try smimegate(["verify", "-"], input: Array(changed.utf8)).expect(0)
        XCTAssertEqual(header(of: verified.out)["subject"], ["Signed one"])
        XCTAssertTrue(verified.stderr.contains("header.protected=from,to,subject,message-id"), verified.stderr)
        let forged =
            outerHeader(subject: "Hi", id: "w")
            + (try opensslSigned(entity(hp: "clear", from: "carol@example.com", subject: "Hi", id: "w")))
        let refused = try smimegate(["verify", "-"], input: Array(forged.utf8)).expect(1)
        XCTAssertTrue(refused.stderr.contains("protected From not covered"), refused.stderr)

        let inner = entity(
            hp: "cipher", from: "alice@example.com", subject: "Hidden", id: "d",
            outer: ["From: alice@example.com", "To: bob@partner.example", "Subject: [...]"])
        let sealed = try openssl(["cms", "-encrypt", "-aes-256-gcm", fixture("bob.pem")], input: Array(inner.utf8))
            .expect(0).out
        let decrypted = try smimegate(
            ["decrypt", "-"], input: Array((outerHeader(subject: "[...]", id: "d") + sealed).utf8)
        )
        .expect(0)
        XCTAssertEqual(header(of: decrypted.out)["subject"], ["Hidden"])
        XCTAssertTrue(decrypted.stderr.contains("restored without a signature: subject"), decrypted.stderr)
    }

    /// Our own output, read back: signed and encrypted with header protection, delivered with the
    /// protected Subject and nothing recorded as changed.
    func testOurSignedAndEncryptedMessageIsDeliveredWithItsProtectedSubject() throws {
        try smimegate(["profile", "create", "p", "--mode", "sign-encrypt", "--cert", "alice"]).expect(0)
        let sent = try outgoing(profile: "p", folder: "encrypted")
        let (record, text) = try XCTUnwrap(try deliverIncoming(["m": Array(sent.utf8)])["interop-1"])
        XCTAssertEqual(record.outcome, "verified")
        XCTAssertNil(record.warning)
        XCTAssertEqual(fields("Subject", in: text), ["Subject: Quarterly figures"])
        let result = try XCTUnwrap(fields("Authentication-Results", in: text).first)
        XCTAssertTrue(result.contains("smime=pass (header.protected=from,to,subject,date,message-id)"), result)
    }

    /// The pre-RFC draft's messages (autocrypt/protected-headers, `protected-headers="v1"`, Alice signs,
    /// 3DES to a Bob of the older LAMPS samples): the signed Subject replaces the outer `...`.
    func testDraftProtectedHeadersV1AreRead() throws {
        let bob = CLIHome(dir.appendingPathComponent("draftbob"))
        try bob.run(["init"]).expect(0)
        let armoured = string(bytes(of: Paths.vector("protected-headers-draft/bob.p12")))
        let base64 = armoured.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        let p12 = try save(Array(try XCTUnwrap(Data(base64Encoded: base64))), "bob.p12")
        try bob.run(["cert", "import", "bob", p12, "--passphrase-env", "P"], environment: ["P": "bob"]).expect(0)
        try bob.run(["ca", "add", Paths.vector("protected-headers-draft/sample-ca.pem").path]).expect(0)
        let inbox = path("draft")
        try FileManager.default.createDirectory(atPath: inbox + "/new", withIntermediateDirectories: true)
        for name in ["smime-sign+enc.eml", "smime-onepart-signed.eml"] {
            try FileManager.default.copyItem(
                atPath: Paths.vector("protected-headers-draft/" + name).path, toPath: inbox + "/new/" + name)
        }
        let out = path("draft-out")
        try bob.run(["process", "incoming", inbox, "--out", out]).expect(0)
        let records = try recordsByInput(out)
        let both = try XCTUnwrap(records["smime-sign+enc.eml"])
        XCTAssertEqual(both.outcome, "verified", "\(both)")
        let text = outputText(out, both)
        XCTAssertEqual(fields("Subject", in: text), ["Subject: BarCorp contract signed, let's go!"])
        XCTAssertTrue(text.contains("; protected-headers=v1"), text)
        let signed = try XCTUnwrap(records["smime-onepart-signed.eml"])
        XCTAssertEqual(signed.outcome, "verified")
        XCTAssertTrue(outputText(out, signed).contains("header.protected="))
    }
}
