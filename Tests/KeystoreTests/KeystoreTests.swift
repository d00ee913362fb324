import CMS
import Foundation
import Keystore
import TestSupport
import XCTest

final class KeystoreTests: XCTestCase {
    var home: URL!

    override func setUpWithError() throws { home = try temporaryDirectory().appendingPathComponent("home") }

    func certificate(_ name: String) throws -> Certificate { try Certificate(bytes: bytes(of: Paths.fixture(name))) }

    func testOpenWithoutCreateRefusesAMissingStore() {
        XCTAssertThrowsError(try Backend.open(home: home)) {
            XCTAssertTrue(String(describing: $0).contains("run 'smimegate init' first"))
        }
    }

    func testSchemaIsVersionedAndReopens() throws {
        let store = try Backend.open(home: home, create: true)
        XCTAssertEqual(store.version, Keystore.schemaVersion)
        try store.addPublicKey(name: "bob", certificate: try certificate("bob.pem"))
        let reopened = try Backend.open(home: home)
        XCTAssertEqual(try reopened.publicKeys().map(\.name), ["bob"])
    }

    func testIdentitiesRoundTripAndKeysMustMatch() throws {
        let store = try Backend.open(home: home, create: true)
        let key = try PrivateKey(bytes: bytes(of: Paths.fixture("alice.key")))
        try store.addIdentity(
            name: "alice", certificate: try certificate("alice.pem"), key: key, chain: [try certificate("ca.pem")])
        let identity = try store.identity(named: "alice")
        XCTAssertTrue(identity.key.matches(identity.certificate))
        XCTAssertEqual(identity.chain.map(\.commonName), ["smimegate Test Root CA"])
        XCTAssertThrowsError(
            try store.addIdentity(name: "alice", certificate: try certificate("alice.pem"), key: key, chain: []))
        XCTAssertThrowsError(
            try store.addIdentity(name: "bob", certificate: try certificate("bob.pem"), key: key, chain: [])
        ) {
            XCTAssertEqual(String(describing: $0), "the private key does not match the certificate")
        }
        XCTAssertThrowsError(
            try store.addIdentity(name: "../evil", certificate: try certificate("alice.pem"), key: key, chain: []))
        // Nothing secret in the errors above, and the key is at rest in a 0600 file (SQLite; PostgreSQL's files
        // are the server's).
        if !Backend.postgres {
            let mode = try FileManager.default.attributesOfItem(
                atPath: home.appendingPathComponent(Keystore.databaseName).path)[.posixPermissions]
            XCTAssertEqual((mode as? NSNumber)?.intValue, 0o600)
        }
    }

    func testRecipientLookupByEmailThenDomainAndWildcard() throws {
        let store = try Backend.open(home: home, create: true)
        for name in ["bob", "gateway", "wildcard", "signonly", "expired"] {
            try store.addPublicKey(name: name, certificate: try certificate("\(name).pem"))
        }
        XCTAssertEqual(try store.recipientCertificate(for: "Bob@Partner.Example")?.commonName, "Bob")
        XCTAssertEqual(try store.recipientCertificate(for: "anyone@example.com")?.commonName, "Example gateway")
        XCTAssertEqual(try store.recipientCertificate(for: "u@mx.example.net")?.commonName, "Wildcard gateway")
        XCTAssertNil(
            try store.recipientCertificate(for: "signonly@example.com").flatMap {
                $0.commonName == "Sign Only" ? $0 : nil
            },
            "sign-only never chosen")
        XCTAssertEqual(
            try store.recipientCertificate(for: "signonly@example.com")?.commonName, "Example gateway",
            "falls back to the domain certificate")
        XCTAssertNil(try store.recipientCertificate(for: "x@nowhere.example"))
    }

    func testCAListDeduplicates() throws {
        let store = try Backend.open(home: home, create: true)
        XCTAssertEqual(
            try store.addCertificateAuthorities([try certificate("ca.pem"), try certificate("other-ca.pem")]), 2)
        XCTAssertEqual(try store.addCertificateAuthorities([try certificate("ca.pem")]), 0)
        XCTAssertEqual(try store.certificateAuthorities().count, 2)
    }
}
