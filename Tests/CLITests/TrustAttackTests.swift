import Foundation
import TestSupport
import XCTest

/// What an adversarial review of trust and harvesting found (issue 12), each now a test: forged
/// intermediates riding along with a verified signature, CRLs from them or from the future, hostile
/// URLs in certificates, an impostor promoted by address, a partner's certificate claiming domains.
final class TrustAttackTests: CLITestCase {
    var pki = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        pki = try revocationPKI(httpPort: try freePort(), ocspPort: try freePort())
        try smimegate(["ca", "add", pki + "/root.pem"]).expect(0)
    }

    /// A CRL signed by `key` in `issuerCert`'s name (Python's cryptography), dated `minutes` from now;
    /// a delta CRL with `delta`.
    func crl(issuer issuerCert: String, key: String, minutes: Int = -60, delta: Bool = false, name: String) throws
        -> String
    {
        let out = path(name)
        let script = """
            import datetime, sys
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            issuer = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
            key = serialization.load_pem_private_key(open(sys.argv[2], "rb").read(), None)
            now = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=int(sys.argv[3]))
            builder = (x509.CertificateRevocationListBuilder().issuer_name(issuer.subject).last_update(now)
                .next_update(now + datetime.timedelta(days=30)).add_extension(x509.CRLNumber(10), critical=False))
            if sys.argv[5] == "delta":
                builder = builder.add_extension(x509.DeltaCRLIndicator(2), critical=True)
            crl = builder.sign(key, hashes.SHA256())
            open(sys.argv[4], "wb").write(crl.public_bytes(serialization.Encoding.PEM))
            """
        try runProcess(
            Paths.python,
            ["-c", script, issuerCert, key, "\(minutes)", out, delta ? "delta" : "full"]
        ).expect(0)
        return out
    }

    /// An attacker's CA pair copying the real names: a self-signed "Revocation Test Root" and a
    /// "Revocation Test Sub CA" under it, with a distribution point of the attacker's choosing.
    func forgedSubCA(distributionPoint: String = "http://127.0.0.1:9/fake.crl") throws -> (cert: String, key: String) {
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("fakeroot.key"), "-subj",
            "/CN=Revocation Test Root", "-days", "30", "-addext", "basicConstraints=critical,CA:TRUE", "-out",
            path("fakeroot.pem"),
        ]).expect(0)
        try openssl([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path("fakesub.key"), "-subj",
            "/CN=Revocation Test Sub CA", "-out", path("fakesub.csr"),
        ]).expect(0)
        let ext = try save(
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n"
                + "crlDistributionPoints=URI:\(distributionPoint)\n", "fakesub.ext")
        try openssl([
            "x509", "-req", "-in", path("fakesub.csr"), "-CA", path("fakeroot.pem"), "-CAkey", path("fakeroot.key"),
            "-set_serial", "7", "-days", "30", "-extfile", ext, "-out", path("fakesub.pem"),
        ]).expect(0)
        return (path("fakesub.pem"), path("fakesub.key"))
    }

    /// A verified signer's message carrying a forged sub CA beside the real one: only the validated
    /// path is harvested, the forged CA signs no CRL (harvested or added by hand), and its URL is
    /// never fetched. Nor does a genuine CRL dated in the future shut the current ones out.
    func testForgedIntermediatesNeitherHarvestNorSignCRLs() throws {
        try smimegate(["ca", "add", "--intermediate", pki + "/sub.pem"]).expect(0)
        try smimegate(["ca", "crl", "add", pki + "/sub.crl"]).expect(0)
        let forged = try forgedSubCA()
        let carried = try save(
            string(read("pki/sub.pem")) + string(bytes(of: URL(fileURLWithPath: forged.cert))), "carried.pem")
        let message = try opensslSigned(
            from: "carol@example.org", cert: pki + "/carol.pem", key: pki + "/carol.key", certfile: carried)
        let inbox = try maildir("inbox", ["m": message])
        try smimegate(["process", "incoming", inbox, "--out", path("in"), "--harvest"]).expect(0)
        let harvested = try smimegate(["keys", "harvested"]).expect(0).out
        XCTAssertFalse(
            harvested.contains("intermediate"),
            "the sub CA is known already; the forged one is not on the path: \(harvested)")

        let fake = try crl(issuer: forged.cert, key: forged.key, name: "fake.crl")
        let refused = try smimegate(["ca", "crl", "add", fake])
        XCTAssertEqual(refused.status, 1)
        XCTAssertTrue(refused.stderr.contains("signature does not verify"), refused.stderr)
        // Even added by hand as an intermediate, the forged CA has no path to an anchor: it signs no CRL.
        try smimegate(["ca", "add", "--intermediate", forged.cert]).expect(0)
        let still = try smimegate(["ca", "crl", "add", fake])
        XCTAssertEqual(still.status, 1)
        XCTAssertTrue(still.stderr.contains("has no valid path to a trusted CA"), still.stderr)
        let update = try smimegate(["ca", "crl", "update", "--timeout", "2"])
        XCTAssertFalse(
            update.out.contains("fake.crl") || update.stderr.contains("fake.crl"), update.out + update.stderr)

        // A CRL the real sub CA signed, dated four minutes ahead, is refused: it would make today's look older,
        // then decide nothing until it is valid.
        let future = try crl(issuer: pki + "/sub.pem", key: pki + "/sub.key", minutes: 4, name: "future.crl")
        let early = try smimegate(["ca", "crl", "add", future])
        XCTAssertEqual(early.status, 1)
        XCTAssertTrue(early.stderr.contains("the CRL is not valid before"), early.stderr)
        // The sub CA's genuine delta CRL, empty and newer: read as a complete CRL it would un-revoke bob.
        let delta = try crl(issuer: pki + "/sub.pem", key: pki + "/sub.key", delta: true, name: "delta.crl")
        let deltaAdded = try smimegate(["ca", "crl", "add", delta])
        XCTAssertEqual(deltaAdded.status, 1)
        XCTAssertTrue(deltaAdded.stderr.contains("a delta CRL is not supported"), deltaAdded.stderr)
        // A CA with the sub CA's name and another key (a re-key, or another CA given that name), with a valid
        // path: its CRL stands beside the sub CA's, never in its place.
        try openssl([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path("rekeyed.key"), "-subj",
            "/CN=Revocation Test Sub CA", "-out", path("rekeyed.csr"),
        ]).expect(0)
        let ext = try save("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n", "rekey.ext")
        try openssl([
            "x509", "-req", "-in", path("rekeyed.csr"), "-CA", pki + "/root.pem", "-CAkey", pki + "/root.key",
            "-set_serial", "77", "-days", "30", "-extfile", ext, "-out", path("rekeyed.pem"),
        ]).expect(0)
        try smimegate(["ca", "add", "--intermediate", path("rekeyed.pem")]).expect(0)
        let beside = try crl(issuer: path("rekeyed.pem"), key: path("rekeyed.key"), minutes: -1, name: "rekeyed.crl")
        XCTAssertTrue(try smimegate(["ca", "crl", "add", beside]).expect(0).out.hasPrefix("added"))
        // Signed with SHA-1 (by the sub CA's own `openssl ca`): below the algorithm floor.
        let weak = path("sha1.crl")
        try openssl(["ca", "-config", pki + "/ca/sub.cnf", "-gencrl", "-md", "sha1", "-out", weak]).expect(0)
        let floor = try smimegate(["ca", "crl", "add", weak])
        XCTAssertEqual(floor.status, 1)
        XCTAssertTrue(floor.stderr.contains("signed with sha1, below the algorithm floor"), floor.stderr)
        // A PEM file with a broken block between two good ones is refused whole, naming the block.
        let broken = try save(
            string(read("pki/sub.crl")) + "-----BEGIN X509 CRL-----\n!!!\n-----END X509 CRL-----\n"
                + string(read("pki/root.crl")), "broken.pem")
        let blocks = try smimegate(["ca", "crl", "add", broken])
        XCTAssertEqual(blocks.status, 2)
        XCTAssertTrue(blocks.stderr.contains("PEM block 2"), blocks.stderr)
        // An older CRL than the one stored is not stored, and says so.
        let older = try smimegate(["ca", "crl", "add", pki + "/sub-expired.crl"])
        XCTAssertEqual(older.status, 1)
        XCTAssertTrue(older.stderr.contains("not stored: the stored one is newer"), older.stderr)
        let bob = try opensslSigned(
            from: "bob@example.org", cert: pki + "/bob.pem", key: pki + "/bob.key", certfile: pki + "/sub.pem")
        let verdict = try smimegate(["verify", try save(bob, "bob.eml")])
        XCTAssertEqual(verdict.status, 1, "bob stays revoked")
        XCTAssertTrue(verdict.stderr.contains("certificate revoked"), verdict.stderr)
    }

    /// Hostile distribution points in partners' certificates — a port beyond 65,535 (or beyond any integer),
    /// a chunk of 2⁶³ − 1 bytes, 300 header fields: one line each, no crash, the others still fetched.
    func testHostileDistributionPointsAreOneLineEach() throws {
        let served = path("served")
        try FileManager.default.createDirectory(atPath: served, withIntermediateDirectories: true)
        let server = try httpServer(root: served)
        let urls = [
            "http://127.0.0.1:99999/x.crl", "http://127.0.0.1:99999999999999999999999/x.crl",
            "http://127.0.0.1:\(server.port)/hugechunk", "http://127.0.0.1:\(server.port)/manyheaders",
        ]
        for (index, url) in urls.enumerated() {
            try openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("odd\(index).key"), "-subj",
                "/CN=odd\(index)", "-days", "30", "-addext", "subjectAltName=email:odd\(index)@partner.example",
                "-addext", "crlDistributionPoints=URI:\(url)", "-out", path("odd\(index).pem"),
            ]).expect(0)
            try smimegate(["keys", "add", "odd\(index)", path("odd\(index).pem")]).expect(0)
        }
        let update = try smimegate(["ca", "crl", "update", "--timeout", "5"])
        XCTAssertEqual(update.status, 1)
        for (url, why) in zip(
            urls,
            ["not a TCP port in the URL", "not a TCP port in the URL", "larger than", "more than 200 header fields"])
        {
            XCTAssertTrue(update.stderr.contains("\(url): ") && update.stderr.contains(why), "\(url): \(update.stderr)")
        }
        XCTAssertTrue(update.stderr.contains("4 of 4 CRL distribution point(s) failed"), update.stderr)
    }

    /// OCSP responders that accept and never answer cost one timeout per responder and run, not one per
    /// certificate: the second signer's answer says the responder was given up earlier in the run.
    func testAResponderThatNeverAnswersIsGivenUpOncePerRun() throws {
        let tarpit = try BackgroundPeer(
            Paths.python,
            [
                "-c",
                "import socket,sys,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(50)\n"
                    + "print('READY', s.getsockname()[1], flush=True)\nc=[]\nwhile True: c.append(s.accept())",
            ],
            ready: "READY")
        defer { tarpit.stop() }
        let port = try XCTUnwrap(tarpit.readyLine.split(separator: " ").last.flatMap { Int($0) })
        try smimegate(["ca", "add", "--intermediate", pki + "/sub.pem"]).expect(0)
        try smimegate(["settings", "set", "revocation-ocsp", "yes"]).expect(0)
        var messages: [String: String] = [:]
        for name in ["s1", "s2"] {
            let ext = try save(
                "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                    + "extendedKeyUsage=emailProtection\nsubjectAltName=email:\(name)@partner.example\n"
                    + "authorityInfoAccess=OCSP;URI:http://127.0.0.1:\(port)/\n", "\(name).ext")
            try openssl([
                "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name).key"), "-subj",
                "/CN=\(name)", "-out", path("\(name).csr"),
            ]).expect(0)
            try openssl([
                "x509", "-req", "-in", path("\(name).csr"), "-CA", pki + "/sub.pem", "-CAkey", pki + "/sub.key",
                "-set_serial", name == "s1" ? "101" : "102", "-days", "30", "-extfile", ext, "-out",
                path("\(name).pem"),
            ]).expect(0)
            messages[name] = try opensslSigned(
                from: "\(name)@partner.example", cert: path("\(name).pem"), key: path("\(name).key"),
                certfile: pki + "/sub.pem")
        }
        let inbox = try maildir("inbox", messages)
        try smimegate(["process", "incoming", inbox, "--out", path("in"), "--workers", "1"]).expect(0)
        let revocations = try string(read("in/manifest.jsonl")).split(separator: "\n").map { line -> String in
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            XCTAssertEqual(record["outcome"] as? String, "verified", "soft: verified, revocation unknown")
            return record["revocation"] as? String ?? ""
        }
        XCTAssertEqual(revocations.filter { $0.contains("timed out") }.count, 2, "\(revocations)")
        XCTAssertEqual(revocations.filter { $0.contains("(earlier in this run)") }.count, 1, "\(revocations)")
    }

    /// By address, `keys promote` takes only a verified certificate: a self-signed impostor harvested on
    /// failure is promoted by its fingerprint or not at all.
    func testPromoteByAddressIgnoresUnverifiedImpostors() throws {
        try smimegate([
            "policy", "load",
            try save(
                "[incoming policy lax]\nharvest = yes\nharvest-on-failure = yes\nharvest-self-signed = yes\n", "p.txt"),
        ]).expect(0)
        let impostor = try partnerCertificate("fakealice", email: "alice@example.org", pki: pki, selfSigned: true)
        let inbox = try maildir(
            "inbox",
            [
                "1": try opensslSigned(
                    from: "alice@example.org", cert: pki + "/alice.pem", key: pki + "/alice.key",
                    certfile: pki + "/sub.pem"),
                "2": try opensslSigned(from: "alice@example.org", cert: impostor.cert, key: impostor.key),
            ])
        try smimegate(["process", "incoming", inbox, "--out", path("in")]).expect(0)
        try smimegate(["keys", "promote", "alice@example.org"]).expect(0)
        let encrypted = try smimegate(
            ["encrypt", "--to", "alice@example.org"],
            input: Array("From: a@example.com\nTo: alice@example.org\nSubject: s\n\nsecret\n".utf8)
        ).expect(0)
        XCTAssertEqual(
            try openssl(
                ["smime", "-decrypt", "-recip", impostor.cert, "-inkey", impostor.key], input: encrypted.stdout
            )
            .status, 4, "the impostor cannot read it")
        XCTAssertEqual(
            try openssl(
                ["smime", "-decrypt", "-recip", pki + "/alice.pem", "-inkey", pki + "/alice.key"],
                input: encrypted.stdout
            ).status, 0)
        let left = try smimegate(["keys", "promote", "alice@example.org", "again"])
        XCTAssertEqual(left.status, 2)
        XCTAssertTrue(left.stderr.contains("no verified and valid now harvested certificate"), left.stderr)
    }

    /// A harvested certificate speaks for its e-mail addresses, not for the domains (or `*.com`) it names.
    func testHarvestedDomainNamesCaptureNoMail() throws {
        let ext = try save(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n"
                + "extendedKeyUsage=emailProtection\nsubjectAltName=email:eve@example.org,DNS:*.com,DNS:example.net\n",
            "eve.ext")
        try openssl([
            "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", path("eve.key"), "-subj", "/CN=eve",
            "-out", path("eve.csr"),
        ]).expect(0)
        try openssl([
            "x509", "-req", "-in", path("eve.csr"), "-CA", pki + "/sub.pem", "-CAkey", pki + "/sub.key", "-set_serial",
            "99", "-days", "30", "-extfile", ext, "-out", path("eve.pem"),
        ]).expect(0)
        let inbox = try maildir(
            "inbox",
            [
                "m": try opensslSigned(
                    from: "eve@example.org", cert: path("eve.pem"), key: path("eve.key"), certfile: pki + "/sub.pem")
            ])
        try smimegate(["process", "incoming", inbox, "--out", path("in"), "--harvest"]).expect(0)
        let note = Array("From: a@example.com\nTo: x@y\nSubject: s\n\nsecret\n".utf8)
        try smimegate(["encrypt", "--to", "eve@example.org"], input: note).expect(0)
        XCTAssertEqual(try smimegate(["encrypt", "--to", "ceo@victim.com"], input: note).status, 1)
        XCTAssertEqual(try smimegate(["encrypt", "--to", "x@example.net"], input: note).status, 1)
    }
}
