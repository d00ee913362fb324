import Foundation
import TestSupport
import XCTest

/// Revocation (SPEC F25): NIST PKITS, CRLs added and fetched, OCSP against `openssl ocsp`,
/// soft and hard revocation, and the settings that decide.
final class TrustTests: CLITestCase {
    /// All 27 PKITS messages of the vectors folder get NIST's verdict once the trust anchor, the CA
    /// certificates the messages carry (as known intermediates) and the CRLs are loaded, with
    /// `revocation = hard`. A valid path whose From is not covered (the PKITS certificates name no
    /// address) fails only on that, after the path was accepted.
    func testPKITSVerdictsWithCRLs() throws {
        let pkits = Paths.vector("pkits-smime-subset").path
        try smimegate(["ca", "add", pkits + "/certs/TrustAnchorRootCertificate.crt"]).expect(0)
        let messages = try FileManager.default.contentsOfDirectory(atPath: pkits + "/smime").filter {
            $0.hasSuffix(".eml")
        }.sorted()
        XCTAssertEqual(messages.count, 27)
        var carried = ""
        for name in messages {
            let p7 = try openssl(["smime", "-pk7out", "-in", pkits + "/smime/" + name])
            carried += try openssl(["pkcs7", "-print_certs"], input: p7.stdout).out
        }
        try smimegate(["ca", "add", "--intermediate", try save(carried, "carried.pem")]).expect(0)
        let crls = try FileManager.default.contentsOfDirectory(atPath: pkits + "/crls").sorted()
        for crl in crls {
            let added = try smimegate(["ca", "crl", "add", pkits + "/crls/" + crl])
            if crl == "BadCRLSignatureCACRL.crl" {
                XCTAssertEqual(added.status, 1, "a CRL whose signature fails is refused")
                XCTAssertTrue(added.stderr.contains("signature does not verify"), added.stderr)
            } else if crl == "MissingbasicConstraintsCACRL.crl" {
                XCTAssertEqual(added.status, 1, "its issuer is no CA (no basicConstraints): it issues no CRLs we take")
                XCTAssertTrue(added.stderr.contains("no trusted CA or known intermediate named"), added.stderr)
            } else if let why = [
                "BadSignedCACRL.crl": "has no valid path to a trusted CA: certificate signature failure",
                "BadnotAfterDateCACRL.crl": "has no valid path to a trusted CA: certificate has expired",
                "RevokedsubCACRL.crl": "has no valid path to a trusted CA: certificate revoked on 2010-01-01",
            ][crl] {
                XCTAssertEqual(added.status, 1, "\(crl): only a CA with a valid path signs CRLs")
                XCTAssertTrue(added.stderr.contains(why), added.stderr)
            } else {
                XCTAssertEqual(added.status, 0, "\(crl): \(added.stderr)")
            }
        }
        let listed = try smimegate(["ca", "crl", "list", "--json"]).expect(0)
        let reports = try JSONSerialization.jsonObject(with: Data(listed.stdout)) as? [[String: Any]] ?? []
        XCTAssertEqual(reports.count, crls.count - 5 + 1, "and the test CA's of every test home")
        XCTAssertTrue(
            reports.contains {
                ($0["issuer"] as? String ?? "").contains("Old CRL nextUpdate CA") && $0["current"] as? Bool == false
            })
        try smimegate(["settings", "set", "revocation", "hard"]).expect(0)

        let expected: [String: String] = [
            "SignedInvalidBadCRLSignatureTest4": "revocation unknown",
            "SignedInvalidCASignatureTest2": "certificate signature failure",
            "SignedInvalidCAnotAfterDateTest5": "certificate has expired",
            "SignedInvalidEESignatureTest3": "certificate signature failure",
            "SignedInvalidEEnotAfterDateTest6": "signer certificate expired",
            "SignedInvalidEEnotBeforeDateTest2": "signer certificate not valid before",
            "SignedInvalidMissingbasicConstraintsTest1": "invalid CA certificate",
            "SignedInvalidNameChainingEETest1": "unable to get local issuer certificate",
            "SignedInvalidOldCRLnextUpdateTest11": "CRL has expired",
            "SignedInvalidRFC822nameConstraintsTest22": "permitted subtree violation",
            "SignedInvalidRFC822nameConstraintsTest24": "permitted subtree violation",
            "SignedInvalidRFC822nameConstraintsTest26": "excluded subtree violation",
            "SignedInvalidRevokedCATest2": "certificate revoked on 2010-01-01T08:30:00Z (keyCompromise)",
            "SignedInvalidRevokedEETest3": "certificate revoked on 2010-01-01T08:30:01Z (keyCompromise)",
            "SignedInvalidkeyUsageCriticalkeyCertSignFalseTest1": "invalid CA certificate",
            "SignedInvalidpathLenConstraintTest6": "path length constraint exceeded",
        ]
        var right = 0
        for name in messages {
            let test = String(name.dropLast(4))
            let result = try smimegate(
                ["verify", "--allow-sha1", "--allow-weak", pkits + "/smime/" + name, "-o", path("out.eml")])
            if test.hasPrefix("SignedValid") {
                let accepted =
                    result.status == 0 || result.stderr.contains("is not covered by the signer certificate")
                XCTAssertTrue(accepted, "\(test): \(result.stderr)")
                if accepted { right += 1 }
            } else {
                let reason = try XCTUnwrap(expected[test], test)
                XCTAssertEqual(result.status, 1, test)
                XCTAssertTrue(result.stderr.contains(reason), "\(test): \(result.stderr)")
                if result.status == 1 && result.stderr.contains(reason) { right += 1 }
            }
        }
        XCTAssertEqual(right, 27, "PKITS verdicts right")

        // Without the CRLs, the revoked EE is accepted under soft revocation, which says so.
        try smimegate(["settings", "set", "revocation", "soft"]).expect(0)
        try smimegate(["ca", "crl", "remove", "CN=Good CA,O=Test Certificates 2011,C=US"]).expect(0)
        let soft = try smimegate(
            ["verify", "--allow-sha1", "--allow-weak", pkits + "/smime/SignedInvalidRevokedEETest3.eml"])
        XCTAssertTrue(soft.stderr.contains("is not covered by the signer certificate"), soft.stderr)
        XCTAssertEqual(try smimegate(["ca", "crl", "remove", "nothing-like-it"]).status, 2)
    }

    /// A batch run: the revoked signer lands in unverified/ with the date and reason; the good one is
    /// verified with revocation good; without CRLs both verify with "revocation unknown" in the result
    /// comment and the manifest; with `revocation = hard` and only an expired CRL, none verifies.
    func testRevocationInABatchRun() throws {
        let pki = try revocationPKI(httpPort: try freePort(), ocspPort: try freePort())
        try smimegate(["ca", "add", pki + "/root.pem"]).expect(0)
        try smimegate(["ca", "add", "--intermediate", pki + "/sub.pem"]).expect(0)  // to check its CRLs with
        let inbox = try maildir(
            "inbox",
            [
                "alice": try opensslSigned(
                    from: "alice@example.org", cert: pki + "/alice.pem", key: pki + "/alice.key",
                    certfile: pki + "/sub.pem"),
                "bob": try opensslSigned(
                    from: "bob@example.org", cert: pki + "/bob.pem", key: pki + "/bob.key", certfile: pki + "/sub.pem"),
            ])
        func run(_ out: String) throws -> [String: [String: Any]] {
            _ = try smimegate(["process", "incoming", inbox, "--out", path(out)])
            var byInput: [String: [String: Any]] = [:]
            for line in string(read(out + "/manifest.jsonl")).split(separator: "\n") {
                let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
                byInput[URL(fileURLWithPath: record["input"] as? String ?? "").lastPathComponent] = record
            }
            return byInput
        }
        let unknown = try run("soft")
        for name in ["alice", "bob"] {
            XCTAssertEqual(unknown[name]?["outcome"] as? String, "verified", name)
            XCTAssertTrue((unknown[name]?["revocation"] as? String ?? "").hasPrefix("unknown: "), "\(unknown[name]!)")
        }
        let softText = try String(contentsOfFile: try verifiedFile(path("soft")), encoding: .utf8)
        XCTAssertTrue(softText.contains("smime=pass (revocation unknown: "), softText)

        try smimegate(["ca", "crl", "add", pki + "/root.crl"]).expect(0)
        try smimegate(["ca", "crl", "add", pki + "/sub.crl.der"]).expect(0)
        let checked = try run("checked")
        XCTAssertEqual(checked["alice"]?["outcome"] as? String, "verified")
        XCTAssertEqual(checked["alice"]?["revocation"] as? String, "good")
        XCTAssertEqual(checked["bob"]?["outcome"] as? String, "unverified")
        let reason = checked["bob"]?["reason"] as? String ?? ""
        XCTAssertTrue(reason.contains("certificate revoked on "), reason)
        XCTAssertTrue(reason.contains("(keyCompromise): CN=bob"), reason)
        // An older CRL for the same issuer does not replace the newer one.
        let older = try smimegate(["ca", "crl", "add", pki + "/sub-expired.crl"])
        XCTAssertEqual(older.status, 1)
        XCTAssertTrue(older.out.hasPrefix("older") && older.stderr.contains("not stored"), older.out + older.stderr)

        try smimegate(["ca", "crl", "remove", "CN=Revocation Test Sub CA"]).expect(0)
        try smimegate(["ca", "crl", "add", pki + "/sub-expired.crl"]).expect(0)
        try smimegate(["settings", "set", "revocation", "hard"]).expect(0)
        let hard = try run("hard")
        XCTAssertEqual(hard["alice"]?["outcome"] as? String, "unverified")
        XCTAssertTrue((hard["alice"]?["reason"] as? String ?? "").contains("CRL has expired"), "\(hard["alice"]!)")
        XCTAssertEqual(hard["bob"]?["outcome"] as? String, "unverified", "listed in the expired CRL too")
    }

    private func verifiedFile(_ out: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: out + "/verified/new")
        return out + "/verified/new/" + (try XCTUnwrap(names.sorted().first))
    }

    /// `ca crl update`: fetched, then not modified (a conditional request), an unreachable
    /// distribution point and an oversized answer each a line and exit 1.
    func testCRLUpdateFromDistributionPoints() throws {
        let ocspPort = try freePort()
        let cdp = path("cdp-served")
        try FileManager.default.createDirectory(atPath: cdp, withIntermediateDirectories: true)
        let server = try httpServer(root: cdp)
        let pki = try revocationPKI(httpPort: server.port, ocspPort: ocspPort)
        for name in ["sub.crl", "root.crl"] {
            try FileManager.default.copyItem(atPath: pki + "/cdp/" + name, toPath: cdp + "/" + name)
        }
        try smimegate(["ca", "add", pki + "/root.pem"]).expect(0)
        try smimegate(["ca", "add", "--intermediate", pki + "/sub.pem"]).expect(0)
        try smimegate(["keys", "add", "alice-org", pki + "/alice.pem"]).expect(0)
        let first = try smimegate(["ca", "crl", "update"]).expect(0)
        XCTAssertTrue(first.out.contains("/root.crl: added"), first.out)
        XCTAssertTrue(first.out.contains("/sub.crl: added"), first.out)
        XCTAssertEqual(try smimegate(["ca", "crl", "list"]).out.split(separator: "\n").count, 3, "and the test CA's")
        let again = try smimegate(["ca", "crl", "update"]).expect(0)
        XCTAssertEqual(again.out.components(separatedBy: "not modified").count - 1, 2, again.out)
        let log = try String(contentsOfFile: server.log, encoding: .utf8)
        XCTAssertTrue(log.contains("\"status\": 304") || log.contains("\"status\":304"), log)

        // A CA whose distribution point answers 200 MB, and one nobody listens for.
        let dead = try freePort()
        for (name, url) in [
            ("huge", "http://127.0.0.1:\(server.port)/huge"), ("dead", "http://127.0.0.1:\(dead)/x.crl"),
        ] {
            try openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name).key"), "-subj",
                "/CN=\(name) CA", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "crlDistributionPoints=URI:\(url)", "-out", path("\(name).pem"),
            ]).expect(0)
            try smimegate(["ca", "add", path("\(name).pem")]).expect(0)
        }
        let broken = try smimegate(["ca", "crl", "update", "--timeout", "5", "--max-size", "1000000"])
        XCTAssertEqual(broken.status, 1)
        XCTAssertTrue(
            broken.stderr.contains("/huge: ") && broken.stderr.contains("larger than 1000000 bytes"), broken.stderr)
        XCTAssertTrue(broken.stderr.contains("/x.crl: "), broken.stderr)
        XCTAssertTrue(broken.stderr.contains("2 of 4 CRL distribution point(s) failed"), broken.stderr)
        XCTAssertEqual(broken.out.components(separatedBy: "not modified").count - 1, 2, broken.out)
    }

    /// OCSP (RFC 6960) against `openssl ocsp`: good, revoked and unknown; only with revocation-ocsp = yes.
    func testOCSPAgainstOpenSSLResponder() throws {
        let ocspPort = try freePort()
        let pki = try revocationPKI(httpPort: try freePort(), ocspPort: ocspPort)
        let responder = try BackgroundPeer(
            "openssl",
            [
                "ocsp", "-index", pki + "/sub-index.txt", "-CA", pki + "/sub.pem", "-rsigner", pki + "/ocsp.pem",
                "-rkey", pki + "/ocsp.key", "-port", "\(ocspPort)", "-ignore_err",
            ], ready: "ACCEPT")
        defer { responder.stop() }
        try smimegate(["ca", "add", pki + "/root.pem"]).expect(0)
        try smimegate(["ca", "crl", "add", pki + "/root.crl"]).expect(0)  // the sub CA by CRL, its users by OCSP
        func verify(_ name: String) throws -> ProcessResult {
            let signed = try opensslSigned(
                from: "\(name)@example.org", cert: pki + "/\(name).pem", key: pki + "/\(name).key",
                certfile: pki + "/sub.pem")
            return try smimegate(["verify", try save(signed, "\(name).eml"), "-o", path("\(name).out")])
        }
        let before = try verify("bob")
        XCTAssertEqual(before.status, 0, "OCSP is off by default: \(before.stderr)")
        XCTAssertTrue(before.stderr.contains("revocation unknown: unable to get certificate CRL"), before.stderr)

        try smimegate(["settings", "set", "revocation-ocsp", "yes"]).expect(0)
        let good = try verify("alice")
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertFalse(good.stderr.contains("revocation"), good.stderr)
        let revoked = try verify("bob")
        XCTAssertEqual(revoked.status, 1)
        XCTAssertTrue(revoked.stderr.contains("(keyCompromise): CN=bob"), revoked.stderr)
        XCTAssertTrue(revoked.stderr.contains("(OCSP)"), revoked.stderr)
        let unknown = try verify("dave")
        XCTAssertEqual(unknown.status, 0, unknown.stderr)
        XCTAssertTrue(unknown.stderr.contains("OCSP: the responder does not know the certificate"), unknown.stderr)
        try smimegate(["settings", "set", "revocation", "hard"]).expect(0)
        XCTAssertEqual(try verify("dave").status, 1)
        responder.stop()
        let down = try verify("alice")
        XCTAssertEqual(down.status, 1, "hard: a responder that does not answer decides nothing")
        XCTAssertTrue(down.stderr.contains("OCSP: "), down.stderr)
    }

    func testSettings() throws {
        let shown = try smimegate(["settings", "show"]).expect(0).out
        XCTAssertEqual(
            shown, "harvest-cap = 512MB\nrevocation = soft\nrevocation-ocsp = no\nalert-window = 48h\n")
        try smimegate(["settings", "set", "harvest-cap", "2gb"]).expect(0)
        try smimegate(["settings", "set", "alert-window", "72"]).expect(0)
        let json = try JSONSerialization.jsonObject(with: Data(try smimegate(["settings", "show", "--json"]).stdout))
        XCTAssertEqual(
            json as? [String: String],
            [
                "harvest-cap": "2GB", "revocation": "soft", "revocation-ocsp": "no", "alert-window": "72h",
            ])
        for (name, value) in [
            ("revocation", "maybe"), ("harvest-cap", "12 apples"), ("alert-window", "0"), ("colour", "x"),
        ] {
            let refused = try smimegate(["settings", "set", name, value])
            XCTAssertNotEqual(refused.status, 0, "\(name) \(value)")
            XCTAssertEqual(refused.stderr.split(separator: "\n").count, 1, refused.stderr)
        }
    }
}
