import CMS
import PKI
import TestSupport
import XCTest

final class CertificateTests: XCTestCase {
    func testHexIsLowerCaseTwoDigitsABytePlusTheEmptyCase() {
        XCTAssertEqual(CMS.hex([0x00, 0x0f, 0xab, 0xff]), "000fabff")
        XCTAssertEqual(CMS.hex([]), "")
        XCTAssertEqual(CMS.hex((0...255).map(UInt8.init)).count, 512)
    }

    func certificate(_ name: String) throws -> Certificate { try Certificate(bytes: bytes(of: Paths.fixture(name))) }

    func testNamesUsageAndValidityAreRead() throws {
        let alice = try certificate("alice.pem")
        XCTAssertEqual(alice.subject, "CN=Alice,O=Example Corp")
        XCTAssertEqual(alice.issuer, "CN=smimegate Test Root CA,O=smimegate tests")
        XCTAssertEqual(alice.emailAddresses, ["alice@example.com"])
        XCTAssertEqual(alice.keyUsage, [.digitalSignature, .nonRepudiation, .keyEncipherment])
        XCTAssertTrue(alice.extendedKeyUsage.present && alice.extendedKeyUsage.emailProtection)
        XCTAssertEqual(alice.publicKey.algorithm, "RSA")
        XCTAssertEqual(alice.publicKey.bits, 2048)
        XCTAssertFalse(alice.isSelfSigned)
        XCTAssertTrue(try certificate("ca.pem").isSelfSigned)
        // The fingerprint agrees with OpenSSL's.
        let openssl = try runProcess("openssl", ["x509", "-in", Paths.fixture("alice.pem").path, "-noout", "-fingerprint", "-sha256"])
        XCTAssertEqual(
            openssl.out.split(separator: "=").last?.replacingOccurrences(of: ":", with: "").lowercased().trimmingCharacters(
                in: .whitespacesAndNewlines), alice.sha256Fingerprint)
        XCTAssertEqual(try certificate("wildcard.pem").dnsNames, ["*.example.net"])
        let expired = try certificate("expired.pem")
        XCTAssertEqual(expired.notAfter, Date(timeIntervalSince1970: 1_609_459_200))
    }

    func testDERAndMultiplePEMCertificatesParse() throws {
        let der = try Certificate(bytes: bytes(of: Paths.vector("rfc4134/CarlRSASelf.cer")))
        XCTAssertEqual(der.commonName, "CarlRSA")
        let both = bytes(of: Paths.fixture("ca.pem")) + bytes(of: Paths.fixture("alice.pem"))
        XCTAssertEqual(try Certificate.parseAll(both).map(\.commonName), ["smimegate Test Root CA", "Alice"])
        XCTAssertThrowsError(try Certificate(bytes: Array("junk".utf8)))
        XCTAssertThrowsError(try Certificate(bytes: []))
    }

    func testPKCS12FromNSSAndOpenSSL() throws {
        let nss = try PKCS12Contents(bytes: bytes(of: Paths.vector("thunderbird-nss-smime/Alice.p12")), passphrase: Array("nss".utf8))
        XCTAssertEqual(nss.certificate.commonName, "Alice")
        XCTAssertTrue(nss.key.matches(nss.certificate))
        XCTAssertEqual(nss.chain.map(\.commonName), ["NSS Test CA (RSA)"])
        let ours = try PKCS12Contents(bytes: bytes(of: Paths.fixture("alice.p12")), passphrase: Array("correct horse battery staple".utf8))
        XCTAssertEqual(ours.certificate.emailAddresses, ["alice@example.com"])
        XCTAssertThrowsError(try PKCS12Contents(bytes: bytes(of: Paths.fixture("alice.p12")), passphrase: Array("nss".utf8))) {
            XCTAssertEqual(($0 as? OpenSSLError)?.reasons, ["wrong passphrase (mac verify failure)"])
        }
    }

    func testKeysMatchOnlyTheirCertificate() throws {
        let key = try PrivateKey(bytes: bytes(of: Paths.fixture("alice.key")))
        XCTAssertTrue(key.matches(try certificate("alice.pem")))
        XCTAssertFalse(key.matches(try certificate("bob.pem")))
        let ec = try PrivateKey(bytes: bytes(of: Paths.fixture("carol-ec.key")))
        XCTAssertEqual(ec.algorithm, "EC")
        XCTAssertEqual(ec.bits, 256)
        // Encrypted PKCS #8 round trip.
        let locked = try key.pkcs8PEM(passphrase: Array("pw".utf8))
        XCTAssertTrue(string(locked).contains("ENCRYPTED PRIVATE KEY"))
        XCTAssertTrue(try PrivateKey(bytes: locked, passphrase: Array("pw".utf8)).matches(try certificate("alice.pem")))
        XCTAssertThrowsError(try PrivateKey(bytes: locked, passphrase: Array("wrong".utf8)))
    }
}

final class RequirementTests: XCTestCase {
    func certificate(_ name: String) throws -> Certificate { try Certificate(bytes: bytes(of: Paths.fixture(name))) }

    func testSigningAndEncryptionRequirements() throws {
        XCTAssertEqual(Requirements.signingProblems(try certificate("alice.pem")), [])
        XCTAssertEqual(Requirements.encryptionProblems(try certificate("alice.pem")), [])
        XCTAssertEqual(Requirements.encryptionProblems(try certificate("signonly.pem")), ["keyUsage lacks keyEncipherment"])
        XCTAssertEqual(Requirements.encryptionProblems(try certificate("carol-ec.pem")), [], "EC needs keyAgreement, which carol has")
        XCTAssertEqual(Requirements.signingProblems(try certificate("expired.pem")), ["certificate expired on 2021-01-01 00:00:00 UTC"])
        XCTAssertEqual(Requirements.signingProblems(try certificate("ca.pem")), ["keyUsage lacks digitalSignature and nonRepudiation"])
        // F18: the gateway signs only with both bits; a received signature needs either (RFC 8550 §4.4.2).
        XCTAssertEqual(Requirements.signingProblems(try certificate("dan.pem")), ["keyUsage lacks nonRepudiation"])
        XCTAssertEqual(Requirements.signerProblems(try certificate("dan.pem")), [])
        XCTAssertEqual(Requirements.signerProblems(try certificate("ca.pem")), ["keyUsage lacks digitalSignature and nonRepudiation"])
    }

    func testAddressCoverage() throws {
        let gateway = try certificate("gateway.pem")
        XCTAssertTrue(AddressMatch.covers(gateway, "anyone@example.com"))
        XCTAssertTrue(AddressMatch.covers(gateway, "Anyone@EXAMPLE.com"))
        XCTAssertFalse(AddressMatch.covers(gateway, "anyone@sub.example.com"))
        let wildcard = try certificate("wildcard.pem")
        XCTAssertTrue(AddressMatch.covers(wildcard, "u@mx.example.net"))
        XCTAssertFalse(AddressMatch.covers(wildcard, "u@example.net"))
        XCTAssertFalse(AddressMatch.covers(wildcard, "u@a.b.example.net"))
        XCTAssertTrue(AddressMatch.covers(try certificate("alice.pem"), "ALICE@example.com"))
        XCTAssertFalse(AddressMatch.covers(try certificate("alice.pem"), "bob@example.com"))
    }

    func testRotationPicksTheLatestValidCertificate() throws {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let fields = CertificateRequestFields(commonName: "Rotating", sanEmails: ["r@example.com"])
        let short = try CertificateBuilder.selfSigned(fields, key: key, days: 10)
        let long = try CertificateBuilder.selfSigned(fields, key: key, days: 400)
        XCTAssertTrue(RecipientSelection.choose(for: "r@example.com", among: [short, long]) === long)
        XCTAssertTrue(RecipientSelection.choose(for: "r@example.com", among: [long, short]) === long)
        XCTAssertNil(RecipientSelection.choose(for: "r@example.com", among: [long], at: Date().addingTimeInterval(500 * 86400)))
    }

    func testBuiltCertificatesMeetRFC8550AsOpenSSLSeesThem() throws {
        let key = try PrivateKey.generateEC(curve: "P-256")
        let certificate = try CertificateBuilder.selfSigned(
            CertificateRequestFields(
                commonName: "Gateway", organization: "Org", country: "JP", sanDomains: ["domain.com", "*.domain.net"],
                sanEmails: ["a@domain.com"]),
            key: key, days: 30)
        let dir = try temporaryDirectory()
        try write(certificate.pem, to: dir.appendingPathComponent("c.pem"))
        let text = try runProcess("openssl", ["x509", "-in", dir.appendingPathComponent("c.pem").path, "-noout", "-text"]).out
        XCTAssertTrue(text.contains("Subject: C = JP, O = Org, CN = Gateway"), text)
        XCTAssertTrue(text.contains("Digital Signature, Non Repudiation, Key Agreement"))
        XCTAssertTrue(text.contains("E-mail Protection"))
        XCTAssertTrue(text.contains("CA:FALSE"))
        XCTAssertTrue(text.contains("email:a@domain.com, DNS:domain.com, DNS:*.domain.net"))
        XCTAssertThrowsError(
            try CertificateBuilder.selfSigned(CertificateRequestFields(commonName: "x", country: "JPN"), key: key, days: 1))
    }
}
