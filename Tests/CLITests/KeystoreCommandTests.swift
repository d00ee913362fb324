import Foundation
import TestSupport
import XCTest

/// SPEC F15–F20: certificates, CSRs, imports, public keys, CA list, bundles —
/// inspected with the openssl command line.
final class KeystoreCommandTests: CLITestCase {
    func x509Text(_ pem: String) throws -> String {
        try openssl(["x509", "-noout", "-text", "-in", try save(pem, "inspect.pem")]).expect(0).out
    }

    func testCertCreateMeetsRFC8550() throws {
        try smimegate([
            "cert", "create", "gw", "--cn", "Example gateway", "--org", "Example Corp", "--unit", "Mail", "--locality",
            "Chiyoda",
            "--state", "Tokyo", "--country", "jp", "--days", "90", "--san-domain", "domain.com,*.domain.net",
            "--san-email", "a@domain.com,b@domain.com", "--key-size", "3072",
        ]).expect(0)
        let pem = try smimegate(["cert", "export", "gw"]).expect(0).out
        XCTAssertFalse(pem.contains("PRIVATE KEY"), "export is the public part only")
        let text = try x509Text(pem)
        XCTAssertTrue(
            text.contains(
                "Subject: C = JP, ST = Tokyo, L = Chiyoda, O = Example Corp, OU = Mail, CN = Example gateway"), text)
        XCTAssertTrue(
            text.contains("Issuer: C = JP, ST = Tokyo, L = Chiyoda, O = Example Corp, OU = Mail, CN = Example gateway"))
        XCTAssertTrue(text.contains("Public-Key: (3072 bit)"))
        XCTAssertTrue(
            text.contains(
                "X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation, Key Encipherment"),
            text)
        XCTAssertTrue(text.contains("X509v3 Extended Key Usage: \n                E-mail Protection"))
        XCTAssertTrue(text.contains("X509v3 Basic Constraints: critical\n                CA:FALSE"))
        XCTAssertTrue(text.contains("X509v3 Subject Key Identifier"))
        XCTAssertTrue(text.contains("email:a@domain.com, email:b@domain.com, DNS:domain.com, DNS:*.domain.net"))
        // Validity: exactly --days.
        let dates = try openssl(["x509", "-noout", "-startdate", "-enddate", "-in", path("inspect.pem")]).expect(0).out
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy 'GMT'"
        let values = dates.split(separator: "\n").map {
            $0.split(separator: "=", maxSplits: 1)[1].replacingOccurrences(of: "  ", with: " ")
        }
        let start = try XCTUnwrap(formatter.date(from: values[0])), end = try XCTUnwrap(formatter.date(from: values[1]))
        XCTAssertEqual(end.timeIntervalSince(start), 90 * 86400, accuracy: 1)
        // A random positive serial of at least 64 bits.
        let serial = try openssl(["x509", "-noout", "-serial", "-in", path("inspect.pem")]).expect(0).out
        let hex = serial.trimmingCharacters(in: .whitespacesAndNewlines).replacingOccurrences(of: "serial=", with: "")
        XCTAssertGreaterThanOrEqual(hex.count * 4, 64, hex)
        XCTAssertLessThan(Int(String(hex.first!), radix: 16)!, 8, "positive")
        // Self-signed: the signature verifies with its own key.
        try openssl(["verify", "-CAfile", path("inspect.pem"), "-partial_chain", path("inspect.pem")]).expect(0)
        // EC P-384 gets keyAgreement instead of keyEncipherment.
        try smimegate([
            "cert", "create", "ec", "--cn", "EC gw", "--key-type", "ec", "--key-size", "384", "--san-domain",
            "example.org",
        ])
        .expect(0)
        let ec = try x509Text(try smimegate(["cert", "export", "ec"]).expect(0).out)
        XCTAssertTrue(ec.contains("NIST CURVE: P-384"))
        XCTAssertTrue(ec.contains("Digital Signature, Non Repudiation, Key Agreement"))
        XCTAssertTrue(
            try smimegate(["cert", "create", "gw", "--cn", "again"]).expect(2).stderr.contains("already exists"))
    }

    func testCertCreateRejectsBadFields() throws {
        for arguments in [
            ["--country", "JPN"], ["--country", "1X"], ["--san-domain", "bad domain.com"],
            ["--san-email", "not-an-address"],
            ["--key-size", "1024"], ["--key-type", "ec", "--key-size", "521"], ["--key-type", "dsa"], ["--days", "0"],
        ] {
            let result = try smimegate(["cert", "create", "x", "--cn", "X"] + arguments).expect(2)
            XCTAssertEqual(result.stderr.filter { $0 == "\n" }.count >= 1, true, "\(arguments)")
        }
        XCTAssertFalse(try smimegate(["cert", "list"]).expect(0).out.contains("\nx\t"))
    }

    func testCSRVerifiesAndTheCAAnswerReplacesTheCertificateKeepingTheKey() throws {
        try smimegate([
            "cert", "create", "gw", "--cn", "Example gateway", "--org", "Example Corp", "--san-domain", "example.com",
        ]).expect(0)
        try smimegate(["cert", "csr", "gw", "-o", path("gw.csr")]).expect(0)
        let request = try openssl(["req", "-in", path("gw.csr"), "-verify", "-noout", "-text"]).expect(0)
        XCTAssertTrue(request.stderr.contains("verify OK") || request.out.contains("verify OK"), request.stderr)
        XCTAssertTrue(request.out.contains("Subject: O = Example Corp, CN = Example gateway"))
        XCTAssertTrue(request.out.contains("Requested Extensions:"))
        XCTAssertTrue(request.out.contains("DNS:example.com"))
        XCTAssertTrue(request.out.contains("Digital Signature, Non Repudiation, Key Encipherment"))
        XCTAssertTrue(request.out.contains("E-mail Protection"))
        // The CA signs it (copying the requested extensions); importing the answer keeps our key.
        try openssl([
            "x509", "-req", "-in", path("gw.csr"), "-CA", fixture("ca.pem"), "-CAkey", fixture("ca.key"),
            "-CAcreateserial",
            "-CAserial", path("ca.srl"), "-days", "30", "-copy_extensions", "copy", "-out", path("issued.pem"),
        ]).expect(0)
        let replaced = try smimegate(["cert", "import", "gw", path("issued.pem")]).expect(0)
        XCTAssertTrue(replaced.out.contains("replaced the certificate of gw (key kept)"), replaced.out)
        let shown = try smimegate(["cert", "show", "gw"]).expect(0).out
        XCTAssertTrue(shown.contains("issuer:                CN=smimegate Test Root CA,O=smimegate tests\n"), shown)
        // The kept key signs, and the signature chains to the CA now.
        let input = try save(
            Self.plainLF.replacingOccurrences(of: "Alice <alice@example.com>", with: "ceo@example.com"), "ceo.eml")
        try smimegate(["sign", "--cert", "gw", input, "-o", path("signed.eml")]).expect(0)
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", path("signed.eml"), "-out", "/dev/null"])
            .expect(0)
        // Someone else's certificate is refused as an answer.
        XCTAssertTrue(
            try smimegate(["cert", "import", "gw", fixture("bob.pem")]).expect(2).stderr.contains(
                "does not match the private key"))
    }

    func testPKCS12FromOpenSSLAndNSSImport() throws {
        for name in ["Alice", "Bob", "Alice-ec", "Fran-ec"] {
            let result = try runProcess(
                Paths.binary.path,
                [
                    "--home", home, "cert", "import", "nss-\(name)",
                    Paths.vector("thunderbird-nss-smime/\(name).p12").path,
                    "--passphrase-env", "P12",
                ],
                environment: ["P12": "nss"]
            ).expect(0)
            XCTAssertFalse(result.out.contains("nss\n"))
        }
        XCTAssertTrue(
            try smimegate(["cert", "show", "nss-Alice-ec"]).expect(0).out.contains("key:                   EC 384 bits")
        )
        XCTAssertTrue(
            try smimegate(["cert", "show", "nss-Alice"]).expect(0).out.contains(
                "chain:                 CN=NSS Test CA (RSA)"))
        // Made here by `openssl pkcs12 -export`, with a passphrase from a file.
        try openssl([
            "pkcs12", "-export", "-inkey", fixture("bob.key"), "-in", fixture("bob.pem"), "-certfile",
            fixture("ca.pem"),
            "-passout", "pass:s3cret", "-out", path("bob.p12"),
        ]).expect(0)
        let pass = try save("s3cret\n", "p12.pass")
        try smimegate(["cert", "import", "bob2", path("bob.p12"), "--passphrase-file", pass]).expect(0)
        // A PEM file with both the certificate and the key.
        let combined = try save(
            string(bytes(of: Paths.fixture("dan.pem"))) + string(bytes(of: Paths.fixture("dan.key"))), "dan-both.pem")
        try smimegate(["cert", "import", "dan2", combined]).expect(0)
        let listed = try smimegate(["cert", "list", "--json"]).expect(0).out
        for name in ["nss-Alice", "nss-Bob", "nss-Alice-ec", "nss-Fran-ec", "bob2", "dan2"] {
            XCTAssertTrue(listed.contains("\"name\" : \"\(name)\""), name)
        }
        XCTAssertFalse(listed.contains("PRIVATE"), "listings never show keys")
        // Neither format, and a PEM certificate with no key for a new name.
        XCTAssertTrue(
            try smimegate(["cert", "import", "x", try save([0x30, 0x03, 1, 2, 3], "junk.bin")]).expect(2).stderr
                .contains(
                    "neither a PKCS #12 file nor a PEM certificate"))
        XCTAssertTrue(
            try smimegate(["cert", "import", "y", fixture("bob.pem")]).expect(2).stderr.contains("no private key"))
    }

    func testShowExplainsUsability() throws {
        let shown = try smimegate(["keys", "show", "signonly"]).expect(0).out
        XCTAssertTrue(shown.contains("usable for encryption: no: keyUsage lacks keyEncipherment"), shown)
        XCTAssertTrue(shown.contains("usable for signing:    yes"))
        let expired = try smimegate(["keys", "show", "expired"]).expect(0).out
        XCTAssertTrue(
            expired.contains("usable for signing:    no: certificate expired on 2021-01-01 00:00:00 UTC"), expired)
        let dan = try smimegate(["cert", "show", "dan"]).expect(0).out
        XCTAssertTrue(dan.contains("usable for signing:    no: keyUsage lacks nonRepudiation"), dan)
        XCTAssertTrue(dan.contains("SHA-256:"))
        XCTAssertTrue(dan.contains("SAN e-mails:           dan@partner.example"))
    }

    func testDeletes() throws {
        try smimegate(["keys", "delete", "bob"]).expect(0)
        XCTAssertTrue(
            try smimegate(["encrypt", "--to", "bob@partner.example", "-"], input: Array(Self.plainLF.utf8)).expect(1)
                .stderr.contains(
                    "no usable certificate"))
        try smimegate(["keys", "delete", "bob"]).expect(2)
        try smimegate(["cert", "delete", "dan"]).expect(0)
        XCTAssertTrue(try smimegate(["cert", "show", "dan"]).expect(2).stderr.contains("no certificate named \"dan\""))
        let fingerprint = String(try smimegate(["ca", "list"]).expect(0).out.prefix(12))
        try smimegate(["ca", "remove", fingerprint]).expect(0)
        XCTAssertEqual(try smimegate(["ca", "list"]).expect(0).out, "")
        try smimegate(["ca", "remove", fingerprint]).expect(2)
    }

    func testSystemTrustStoreIsExplicit() throws {
        let before = try smimegate(["ca", "list"]).expect(0).out.split(separator: "\n").count
        try smimegate(["ca", "add"]).expect(2)
        try smimegate(["ca", "add", "--system"]).expect(0)
        XCTAssertGreaterThan(try smimegate(["ca", "list"]).expect(0).out.split(separator: "\n").count, before + 50)
    }

    func testRotationUsesTheLatestValidCertificate() throws {
        for (name, days) in [("old", "10"), ("new", "400")] {
            try openssl([
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name).key"), "-out",
                path("\(name).pem"), "-days", days,
                "-subj", "/CN=Rotating \(name)", "-addext", "subjectAltName=email:rot@partner.example",
                "-addext", "keyUsage=critical,digitalSignature,keyEncipherment", "-addext",
                "extendedKeyUsage=emailProtection",
            ]).expect(0)
        }
        try smimegate(["keys", "add", "rot-new", path("new.pem")]).expect(0)
        try smimegate(["keys", "add", "rot-old", path("old.pem")]).expect(0)
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["encrypt", "--to", "rot@partner.example", input, "-o", path("enc.eml")]).expect(0)
        try openssl([
            "cms", "-decrypt", "-recip", path("new.pem"), "-inkey", path("new.key"), "-in", path("enc.eml"), "-out",
            "/dev/null",
        ])
        .expect(0)
        try openssl([
            "cms", "-decrypt", "-recip", path("old.pem"), "-inkey", path("old.key"), "-in", path("enc.eml"), "-out",
            "/dev/null",
        ])
        .expect(4)
    }

    func testHomePassphraseEncryptsKeysAtRest() throws {
        let locked = CLIHome(dir.appendingPathComponent("locked"))
        let pass = try save("home secret\n", "home.pass")
        let env = ["SMIMEGATE_PASSPHRASE_FILE": pass]
        let initialised = try locked.run(["init"], environment: env).expect(0)
        XCTAssertTrue(initialised.out.contains("encrypted at rest with the home passphrase"), initialised.out)
        try locked.run(
            ["cert", "import", "alice", fixture("alice.pem"), "--key", fixture("alice.key")], environment: env
        ).expect(0)
        let stored = try locked.sql("SELECT key_pem FROM certificates")
        XCTAssertTrue(stored.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"), stored)
        let input = try save(Self.plainLF, "plain.eml")
        try locked.run(["sign", "--cert", "alice", input, "-o", "/dev/null"], environment: env).expect(0)
        try locked.run(["--home-passphrase-file", pass, "sign", "--cert", "alice", input, "-o", "/dev/null"]).expect(0)
        let missing = try locked.run(["sign", "--cert", "alice", input]).expect(2)
        XCTAssertTrue(
            missing.stderr.contains("this home encrypts private keys: give the home passphrase"), missing.stderr)
        let wrong = try locked.run(
            ["sign", "--cert", "alice", input],
            environment: ["SMIMEGATE_PASSPHRASE_FILE": try save("nope\n", "wrong.pass")]
        ).expect(2)
        XCTAssertTrue(wrong.stderr.contains("wrong home passphrase"), wrong.stderr)
        XCTAssertFalse(
            wrong.stderr.contains("nope") || missing.stderr.contains("home secret"), "passphrases are never printed")
        // Files stay 0600, the home 0700.
        for file in try FileManager.default.contentsOfDirectory(atPath: locked.url.path) {
            let mode =
                try FileManager.default.attributesOfItem(atPath: locked.url.path + "/" + file)[.posixPermissions]
                as? NSNumber
            XCTAssertEqual(mode?.intValue, 0o600, file)
        }
    }

    func stored(_ home: CLIHome, _ sql: String) throws -> String {
        try home.sql(sql)
    }

    func testEncryptedHomeRefusesToStoreOrUseKeysWithoutTheRightPassphrase() throws {
        let locked = CLIHome(dir.appendingPathComponent("locked"))
        let right = ["SMIMEGATE_PASSPHRASE_FILE": try save("home secret\n", "home.pass")]
        let wrong = ["SMIMEGATE_PASSPHRASE_FILE": try save("home secreT\n", "wrong.pass")]
        try locked.run(["init"], environment: right).expect(0)
        XCTAssertTrue(try stored(locked, "SELECT value FROM settings").hasPrefix("pbkdf2-sha256$600000$"))
        let create = ["cert", "create", "gw", "--cn", "Gateway", "--san-domain", "example.com", "--key-type", "ec"]
        let unlocked = try locked.run(create).expect(2).stderr
        XCTAssertEqual(
            unlocked,
            "smimegate: this home encrypts private keys: give the home passphrase (--home-passphrase-file FILE or "
                + "$SMIMEGATE_PASSPHRASE_FILE)\n")
        XCTAssertEqual(
            try locked.run(create, environment: wrong).expect(2).stderr, "smimegate: wrong home passphrase\n")
        let importing = ["cert", "import", "alice", fixture("alice.pem"), "--key", fixture("alice.key")]
        XCTAssertTrue(try locked.run(importing, environment: wrong).expect(2).stderr.contains("wrong home passphrase"))
        XCTAssertTrue(try locked.run(importing).expect(2).stderr.contains("this home encrypts private keys"))
        XCTAssertEqual(try stored(locked, "SELECT COUNT(*) FROM certificates"), "0\n", "nothing stored")
        try locked.run(importing, environment: right).expect(0)
        let input = try save(Self.plainLF, "plain.eml")
        let signing = try locked.run(["sign", "--cert", "alice", input], environment: wrong).expect(2)
        XCTAssertTrue(signing.stderr.contains("wrong home passphrase"), signing.stderr)
        XCTAssertTrue(
            try locked.run(["decrypt", input], environment: wrong).expect(2).stderr.contains("wrong home passphrase"))
        // Commands that touch no private key need no passphrase, and a wrong one does not matter to them.
        try locked.run(["keys", "add", "bob", fixture("bob.pem")]).expect(0)
        try locked.run(["ca", "add", fixture("ca.pem")]).expect(0)
        XCTAssertTrue(try locked.run(["keys", "list"]).expect(0).out.contains("bob"))
        XCTAssertFalse(try locked.run(["ca", "list"], environment: wrong).expect(0).out.isEmpty)
        XCTAssertTrue(try locked.run(["cert", "list", "--json"]).expect(0).out.contains("\"keyEncrypted\" : \"true\""))
        try locked.run(["cert", "export", "alice"]).expect(0)
        try locked.run(["encrypt", "--key", "bob", input, "-o", path("enc.eml")]).expect(0)
        // A plaintext home is not silently given keys "under" a passphrase it cannot check.
        let plainHome = CLIHome(dir.appendingPathComponent("plain"))
        let initialised = try plainHome.run(["init"]).expect(0).out
        XCTAssertTrue(initialised.contains("no home passphrase"), initialised)
        try plainHome.run(["cert", "create", "gw", "--cn", "Gateway", "--key-type", "ec"]).expect(0)
        let refused = try plainHome.run(create.map { $0 == "gw" ? "gw2" : $0 }, environment: right).expect(2).stderr
        XCTAssertTrue(refused.contains("this home has no home passphrase: run 'smimegate home encrypt'"), refused)
    }

    func testHomeEncryptEncryptsAnExistingHomeAndInitSaysToUseIt() throws {
        let plainHome = CLIHome(URL(fileURLWithPath: home))
        let pass = ["SMIMEGATE_PASSPHRASE_FILE": try save("home secret\n", "home.pass")]
        let initialised = try plainHome.run(["init"], environment: pass).expect(2)
        XCTAssertFalse(initialised.out.contains("encrypted at rest"), initialised.out)
        XCTAssertEqual(
            initialised.stderr,
            "smimegate: \(home) already holds 5 private key(s) not protected by a home passphrase: the passphrase was "
                + "not applied; run 'smimegate home encrypt' to encrypt them with it\n")
        XCTAssertEqual(try stored(plainHome, "SELECT COUNT(*) FROM settings"), "0\n")
        XCTAssertTrue(try smimegate(["cert", "list", "--json"]).expect(0).out.contains("\"keyEncrypted\" : \"false\""))

        XCTAssertTrue(try smimegate(["home", "encrypt"]).expect(2).stderr.contains("give the new home passphrase"))
        let encrypted = try plainHome.run(["home", "encrypt"], environment: pass).expect(0).out
        XCTAssertTrue(encrypted.contains("encrypted 5 private key(s) with the home passphrase"), encrypted)
        let keys = try stored(plainHome, "SELECT key_pem FROM certificates").split(separator: "\n")
            .filter { $0.hasPrefix("-----BEGIN") }
        XCTAssertEqual(keys.count, 5)
        XCTAssertTrue(keys.allSatisfy { $0 == "-----BEGIN ENCRYPTED PRIVATE KEY-----" }, "\(keys)")
        XCTAssertEqual(try stored(plainHome, "SELECT DISTINCT key_encrypted FROM certificates"), "1\n")

        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["sign", "--cert", "alice", input]).expect(2)
        try plainHome.run(["sign", "--cert", "alice", input, "-o", path("signed.eml")], environment: pass).expect(0)
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", path("signed.eml"), "-out", "/dev/null"])
            .expect(0)

        let again = try plainHome.run(["home", "encrypt"], environment: pass).expect(0).out
        XCTAssertTrue(again.contains("already encrypted with this home passphrase: nothing to do"), again)
        let other = ["SMIMEGATE_PASSPHRASE_FILE": try save("another\n", "other.pass")]
        XCTAssertTrue(
            try plainHome.run(["home", "encrypt"], environment: other).expect(2).stderr.contains(
                "already encrypted with another passphrase"))
        XCTAssertTrue(try plainHome.run(["init"], environment: pass).expect(0).out.contains("encrypted at rest"))
        let wrongInit = try plainHome.run(["init"], environment: other).expect(2).stderr
        XCTAssertTrue(wrongInit.contains("wrong home passphrase"), wrongInit)
        let creating = try plainHome.run(["cert", "create", "x", "--cn", "X"]).expect(2).stderr
        XCTAssertTrue(creating.contains("this home encrypts"), creating)
    }
}
