import Foundation
import TestSupport
import XCTest

/// Harvesting partners' certificates from incoming signed mail (SPEC F21–F24): the rules, the
/// use of what was harvested to encrypt the reply, promote and forget, the 48-hour alert, the LRU
/// cap, and two runs harvesting into one home at once.
final class HarvestTests: CLITestCase {
    var pki = ""
    let note = "From: alice@example.com\nTo: someone@partner.example\nSubject: note\n\nA note.\n"

    override func setUpWithError() throws {
        try super.setUpWithError()
        pki = try revocationPKI(httpPort: try freePort(), ocspPort: try freePort())
        try smimegate(["ca", "add", pki + "/root.pem"]).expect(0)
    }

    struct Harvested: Decodable {
        let sha256: String
        let emails: [String]
        let ca: Bool
        let verified: Bool
        let capabilities: [String]
        let lastUsed: String
        let message: String
    }

    func harvested() throws -> [Harvested] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode([Harvested].self, from: Data(try smimegate(["keys", "harvested", "--json"]).stdout))
    }

    func records(_ out: String) throws -> [[String: Any]] {
        try string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] ?? [:]
        }
    }

    /// A message from `name` of the revocation PKI (or a certificate made here), signed with openssl.
    func signed(_ cert: (cert: String, key: String), from: String, subject: String = "hello") throws -> String {
        try opensslSigned(from: from, cert: cert.cert, key: cert.key, certfile: pki + "/sub.pem", subject: subject)
    }

    func pkiCertificate(_ name: String) -> (cert: String, key: String) { (pki + "/\(name).pem", pki + "/\(name).key") }

    /// F21 + F24: a partner's certificate learnt from one signed message encrypts the reply; then
    /// it is promoted into the public keys, and a forgotten one is gone.
    func testHarvestedCertificateEncryptsTheReplyThenIsPromoted() throws {
        let inbox = try maildir("inbox", ["m1": try signed(pkiCertificate("carol"), from: "carol@example.org")])
        XCTAssertEqual(try smimegate(["encrypt", "--to", "carol@example.org"], input: Array(note.utf8)).status, 1)
        // Without --harvest (and no policy saying so) nothing is learnt.
        try smimegate(["process", "incoming", inbox, "--out", path("plain")]).expect(0)
        XCTAssertTrue(try harvested().isEmpty)

        let run = try smimegate(["process", "incoming", inbox, "--out", path("in"), "--harvest"]).expect(0)
        XCTAssertTrue(run.out.contains("harvested: 1 stored, 0 seen again, 0 skipped, 0 evicted"), run.out)
        let rows = try harvested()
        let carol = try XCTUnwrap(rows.first { $0.emails == ["carol@example.org"] })
        XCTAssertTrue(carol.verified)
        XCTAssertEqual(carol.capabilities.first, "aes-256-cbc", "openssl smime announces AES-256-CBC first")
        XCTAssertTrue(rows.contains { $0.ca }, "the sub CA that came with it, for building paths")

        // The reply, encrypted by the gateway to the harvested certificate, is read by carol with openssl.
        let reply = "From: alice@example.com\nTo: carol@example.org\nSubject: re\n\nThe answer.\n"
        let encrypted = try smimegate(["encrypt", "--to", "carol@example.org"], input: Array(reply.utf8)).expect(0)
        let read = try openssl(
            ["smime", "-decrypt", "-recip", pki + "/carol.pem", "-inkey", pki + "/carol.key"], input: encrypted.stdout)
        XCTAssertEqual(read.status, 0, read.stderr)
        XCTAssertTrue(read.out.contains("The answer."))

        // process outgoing too, and the use is recorded (the LRU order of F23).
        try smimegate(["profile", "create", "enc", "--mode", "encrypt", "--missing-key", "split"]).expect(0)
        let spool = try maildir("out", ["r1": reply])
        try smimegate(["process", "outgoing", spool, "--out", path("sent"), "--profile", "enc"]).expect(0)
        let sent = try records(path("sent"))
        XCTAssertEqual(sent.first?["outcome"] as? String, "encrypted")
        let used = try XCTUnwrap(try harvested().first { $0.emails == ["carol@example.org"] })
        XCTAssertGreaterThan(used.lastUsed, carol.lastUsed)

        // Promote: a public key now; no longer harvested.
        let promoted = try smimegate(["keys", "promote", "carol@example.org"]).expect(0)
        XCTAssertTrue(promoted.out.contains("to public key carol@example.org"), promoted.out)
        XCTAssertTrue(try smimegate(["keys", "list"]).out.contains("carol@example.org"))
        XCTAssertFalse(try harvested().contains { $0.emails == ["carol@example.org"] })
        try smimegate(["encrypt", "--key", "carol@example.org"], input: Array(reply.utf8)).expect(0)

        // Forget the sub CA harvested beside it.
        let sub = try XCTUnwrap(try harvested().first { $0.ca })
        XCTAssertEqual(try smimegate(["keys", "forget", "abc"]).status, 2, "too short a fingerprint")
        try smimegate(["keys", "forget", String(sub.sha256.prefix(12))]).expect(0)
        XCTAssertTrue(try harvested().isEmpty)
        XCTAssertEqual(try smimegate(["keys", "promote", "nobody@example.org"]).status, 2)
    }

    /// SMIMECapabilities: a partner who announced AES-GCM gets AuthEnvelopedData (what a good client
    /// does); one who announced only CBC, or a profile that fixes the cipher, gets what it says.
    func testTheCipherFollowsWhatThePartnerAnnounced() throws {
        let input = try save("Hello, AES-GCM.\n", "gcm-body.txt")
        let opaque = try openssl([
            "smime", "-sign", "-nodetach", "-in", input, "-signer", pki + "/alice.pem", "-inkey", pki + "/alice.key",
            "-certfile", pki + "/sub.pem", "-from", "alice@example.org", "-to", "gw@example.com", "-subject", "gcm",
        ]).expect(0)
        let announcing = try runProcess(
            Paths.python,
            [
                peers.appendingPathComponent("cms_craft.py").path, "announce", pki + "/alice.key", "aes-256-gcm",
                "aes-256-cbc",
            ], input: opaque.stdout
        ).expect(0)
        let inbox = try maildir(
            "inbox",
            [
                "gcm": string(announcing.stdout),
                "cbc": try signed(pkiCertificate("carol"), from: "carol@example.org"),
            ])
        try smimegate(["process", "incoming", inbox, "--out", path("in"), "--harvest"]).expect(0)
        let alice = try XCTUnwrap(try harvested().first { $0.emails == ["alice@example.org"] })
        XCTAssertEqual(alice.capabilities, ["aes-256-gcm", "aes-256-cbc"])

        let reply = "From: gw@example.com\nTo: alice@example.org\nSubject: re\n\nsealed\n"
        let sealed = try smimegate(["encrypt", "--to", "alice@example.org"], input: Array(reply.utf8)).expect(0)
        XCTAssertTrue(sealed.out.contains("smime-type=authEnveloped-data"), sealed.out)
        let opened = try openssl(
            ["cms", "-decrypt", "-recip", pki + "/alice.pem", "-inkey", pki + "/alice.key"], input: sealed.stdout)
        XCTAssertEqual(opened.status, 0, opened.stderr)
        XCTAssertTrue(opened.out.contains("sealed"))
        let both = try smimegate(
            ["encrypt", "--to", "alice@example.org", "--to", "carol@example.org"], input: Array(reply.utf8)
        ).expect(0)
        XCTAssertTrue(both.out.contains("smime-type=enveloped-data"), "carol announced CBC only")

        try smimegate(["profile", "create", "auto", "--mode", "encrypt"]).expect(0)
        try smimegate(["profile", "create", "cbc", "--mode", "encrypt", "--cipher", "aes-256-cbc"]).expect(0)
        let spool = try maildir("spool", ["r": reply])
        for (profile, type) in [("auto", "authEnveloped-data"), ("cbc", "enveloped-data")] {
            try smimegate(["process", "outgoing", spool, "--out", path("out-\(profile)"), "--profile", profile])
                .expect(0)
            let folder = path("out-\(profile)/encrypted/new")
            let name = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: folder).first)
            let text = try String(contentsOfFile: folder + "/" + name, encoding: .utf8)
            XCTAssertTrue(text.contains("smime-type=\(type)"), "\(profile): \(text.prefix(400))")
        }
    }

    /// F21's rules: a failed verification, an expired certificate and a self-signed one are not
    /// harvested unless the incoming policy says so; an unverified harvest never encrypts until promoted.
    func testHarvestRules() throws {
        let selfSigned = try partnerCertificate("sam", email: "sam@selfsigned.example", pki: pki, selfSigned: true)
        let stranger = try opensslSigned(
            from: "sam@selfsigned.example", cert: selfSigned.cert, key: selfSigned.key)
        let inbox = try maildir(
            "inbox",
            [
                "revoked-signer-untrusted-no": stranger,
                "alice": try signed(pkiCertificate("alice"), from: "alice@example.org"),
            ])
        let run = try smimegate(["process", "incoming", inbox, "--out", path("a"), "--harvest"]).expect(0)
        XCTAssertTrue(run.out.contains("harvested: 1 stored"), run.out)
        XCTAssertEqual(Set(try harvested().flatMap(\.emails)), ["alice@example.org"])

        let policy = try save(
            """
            [incoming policy lax]
            harvest = yes
            harvest-on-failure = yes
            harvest-self-signed = yes

            """, "policy.txt")
        try smimegate(["policy", "load", policy]).expect(0)
        try smimegate(["process", "incoming", inbox, "--out", path("b")]).expect(0)
        let sam = try XCTUnwrap(try harvested().first { $0.emails == ["sam@selfsigned.example"] })
        XCTAssertFalse(sam.verified, "stored, marked unverified")
        XCTAssertEqual(
            try smimegate(["encrypt", "--to", "sam@selfsigned.example"], input: Array(note.utf8)).status, 1,
            "an unverified harvest never encrypts")
        try smimegate(["keys", "promote", String(sam.sha256.prefix(16)), "sam"]).expect(0)
        try smimegate(["encrypt", "--to", "sam@selfsigned.example"], input: Array(note.utf8)).expect(0)

        // Expired: only with harvest-expired (the fixture certificate expired long ago).
        let expiredVector = try opensslSigned(
            from: "expired@example.com", cert: fixture("expired.pem"), key: fixture("expired.key"))
        let second = try maildir("second", ["expired": expiredVector])
        try smimegate(["process", "incoming", second, "--out", path("c")]).expect(0)
        XCTAssertFalse(try harvested().contains { $0.emails.contains("expired@example.com") })
        try smimegate([
            "policy", "load",
            try save(
                "[incoming policy lax]\nharvest = yes\nharvest-on-failure = yes\nharvest-expired = yes\n", "p2.txt"),
        ]).expect(0)
        try smimegate(["process", "incoming", second, "--out", path("d")]).expect(0)
        XCTAssertTrue(try harvested().contains { $0.emails.contains("expired@example.com") && !$0.verified })
    }

    /// F22: more than one updated certificate for an address within 48 hours raises an alert,
    /// stored, printed at the end of the run and named in that message's record.
    func testUpdatedCertificatesRaiseAnAlert() throws {
        var messages: [String: String] = [:]
        for index in 1...3 {
            let cert = try partnerCertificate("pat\(index)", email: "pat@partner.example", pki: pki)
            messages["m\(index)"] = try signed(cert, from: "pat@partner.example", subject: "update \(index)")
        }
        // One run per message, in order: the first is new, the next two are updates.
        var outputs: [ProcessResult] = []
        for index in 1...3 {
            let inbox = try maildir("inbox\(index)", ["m\(index)": messages["m\(index)"]!])
            outputs.append(
                try smimegate(["process", "incoming", inbox, "--out", path("out\(index)"), "--harvest"]).expect(0))
        }
        XCTAssertFalse(outputs[1].stderr.contains("alert"), outputs[1].stderr)
        XCTAssertTrue(
            outputs[2].stderr.contains(
                "smimegate: alert: 2 updated certificates for pat@partner.example within 48 hours"),
            outputs[2].stderr)
        let record = try XCTUnwrap(try records(path("out3")).first)
        let alerts = record["alerts"] as? [String] ?? []
        XCTAssertTrue(alerts.contains { $0.hasPrefix("2 updated certificates for pat@partner.example") }, "\(record)")
        XCTAssertTrue(alerts.contains { $0.hasPrefix("2 updated certificates for partner.example") }, "\(record)")
        // harvest-updated is off: the first certificate stays the only one.
        XCTAssertEqual(try harvested().filter { $0.emails == ["pat@partner.example"] }.count, 1)

        let listed = try JSONSerialization.jsonObject(with: Data(try smimegate(["alerts", "list", "--json"]).stdout))
        XCTAssertEqual((listed as? [[String: Any]])?.count, 2)
        XCTAssertTrue(try smimegate(["alerts", "clear"]).expect(0).out.contains("cleared 2 alert(s)"))
        XCTAssertEqual(try smimegate(["alerts", "list"]).out, "")

        // With a window of one hour set in the past... the same updates again raise nothing new once seen.
        try smimegate(["settings", "set", "alert-window", "1"]).expect(0)
        try smimegate(["process", "incoming", path("inbox3"), "--out", path("again"), "--harvest"]).expect(0)
    }

    /// F23: past the cap, the least recently used certificates go, in the same transaction.
    func testTheCapEvictsTheLeastRecentlyUsed() throws {
        // About 0.9 KB a certificate: the sub CA and three end entities fit, not four.
        try smimegate(["settings", "set", "harvest-cap", "4KB"]).expect(0)
        var names: [String] = []
        for index in 1...4 {
            let cert = try partnerCertificate("p\(index)", email: "p\(index)@partner.example", pki: pki)
            let inbox = try maildir("inbox\(index)", ["m": try signed(cert, from: "p\(index)@partner.example")])
            try smimegate(["process", "incoming", inbox, "--out", path("out\(index)"), "--harvest"]).expect(0)
            names.append("p\(index)@partner.example")
            if index == 2 {
                // p1 is used (encrypted to): p2 is now the least recently used, and goes when p4 comes. The sub
                // CA is used for every path (its last use renewed) and stays.
                try smimegate(["encrypt", "--to", "p1@partner.example"], input: Array(note.utf8)).expect(0)
            }
        }
        let rows = try harvested()
        let kept = Set(rows.flatMap(\.emails))
        XCTAssertTrue(kept.contains("p4@partner.example"), "\(kept)")
        XCTAssertFalse(kept.contains("p2@partner.example"), "the least recently used went first: \(kept)")
        XCTAssertTrue(kept.contains("p3@partner.example"), "\(kept)")
        XCTAssertTrue(rows.contains(where: \.ca), "the sub CA, used for every path, stays")
        XCTAssertTrue(kept.contains("p1@partner.example"), "used recently: kept \(kept)")
        XCTAssertEqual(rows.count, 4, "the sub CA and three end entities")
        let again = try smimegate(["process", "incoming", path("inbox3"), "--out", path("re"), "--harvest"])
        XCTAssertTrue(again.out.contains("harvested: 0 stored, 1 seen again, 0 skipped, 0 evicted"), again.out)
    }

    /// Two runs harvesting into one home at once both succeed and lose nothing (SQLite WAL, busy timeout).
    func testTwoRunsHarvestingAtOnce() throws {
        var first: [String: String] = [:]
        var second: [String: String] = [:]
        for index in 1...12 {
            let cert = try partnerCertificate("c\(index)", email: "c\(index)@partner.example", pki: pki)
            let message = try signed(cert, from: "c\(index)@partner.example")
            if index % 2 == 0 { first["m\(index)"] = message } else { second["m\(index)"] = message }
        }
        let a = try maildir("a", first)
        let b = try maildir("b", second)
        let processes = try [a, b].enumerated().map { index, inbox in
            let process = Process()
            process.executableURL = Paths.binary
            process.arguments = [
                "--home", home, "process", "incoming", inbox, "--out", path("out-\(index)"), "--harvest", "--workers",
                "2",
            ]
            process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
            process.standardError = FileHandle(forWritingAtPath: "/dev/null")
            try process.run()
            return process
        }
        for process in processes { process.waitUntilExit() }
        let results = processes.map(\.terminationStatus)
        XCTAssertEqual(results, [0, 0])
        let rows = try harvested()
        XCTAssertEqual(Set(rows.flatMap(\.emails)).count, 12, "nothing lost")
        XCTAssertEqual(rows.count, Set(rows.map(\.sha256)).count, "nothing stored twice")
        XCTAssertEqual(rows.filter(\.ca).count, 1)
    }
}
