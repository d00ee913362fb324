import CMS
import Foundation
import Keystore
import TestSupport
import XCTest

/// The home passphrase: a home that encrypts private keys never stores one in
/// plaintext or under a wrong passphrase, and says which it is.
final class HomePassphraseTests: XCTestCase {
    var home: URL!
    let secret = Array("home secret".utf8)

    override func setUpWithError() throws { home = try temporaryDirectory().appendingPathComponent("home") }
    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: home.deletingLastPathComponent())
    }

    func certificate(_ name: String) throws -> Certificate { try Certificate(bytes: bytes(of: Paths.fixture(name))) }
    func key(_ name: String) throws -> PrivateKey { try PrivateKey(bytes: bytes(of: Paths.fixture(name))) }

    func addAlice(_ store: Keystore, as name: String = "alice") throws {
        try store.addIdentity(
            name: name, certificate: try certificate("alice.pem"), key: try key("alice.key"), chain: [])
    }

    /// The first line of each stored key, read with the sqlite3 or psql command line (not through the keystore).
    func storedKeys() throws -> [String] {
        let out = try Backend.sql(home, "SELECT key_pem FROM certificates ORDER BY name")
        return out.split(separator: "\n").filter { $0.hasPrefix("-----BEGIN") }.map(String.init)
    }

    func assertKind(
        _ kind: KeystoreError.Kind, _ body: @autoclosure () throws -> some Any, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), file: file, line: line) {
            XCTAssertEqual(($0 as? KeystoreError)?.kind, kind, "\($0)", file: file, line: line)
        }
    }

    func testPBKDF2MatchesRFC7914Vector() throws {
        // RFC 7914 §11: PBKDF2-HMAC-SHA256 (P="passwd", S="salt", c=1, dkLen=64).
        let derived = try KeyDerivation.pbkdf2HMACSHA256(
            passphrase: Array("passwd".utf8), salt: Array("salt".utf8), iterations: 1, length: 64)
        XCTAssertEqual(
            derived.map { String(format: "%02x", $0) }.joined(),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc"
                + "49ca9cccf179b645991664b39d77ef317c71b845b1e30bd509112041d3a19783")
    }

    func testHomeEncryptedFromTheStartRefusesMissingAndWrongPassphrases() throws {
        let store = try Backend.open(home: home, create: true, passphrase: secret)
        XCTAssertEqual(try store.keyProtection, .filePermissions)
        XCTAssertEqual(try store.encryptPrivateKeys(), .encrypted(keys: 0))
        XCTAssertEqual(try store.keyProtection, .homePassphrase)
        try addAlice(store)
        XCTAssertTrue(try storedKeys()[0].hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----"))

        let without = try Backend.open(home: home)
        assertKind(.passphraseRequired, try self.addAlice(without, as: "alice2"))
        assertKind(.passphraseRequired, try without.identity(named: "alice"))
        assertKind(.passphraseRequired, try without.identities())
        XCTAssertEqual(try without.certificates().map(\.name), ["alice"], "listings need no passphrase")

        let wrong = try Backend.open(home: home, passphrase: Array("home secreT".utf8))
        assertKind(.wrongPassphrase, try self.addAlice(wrong, as: "alice2"))
        assertKind(.wrongPassphrase, try wrong.identity(named: "alice"))
        assertKind(.wrongPassphrase, try wrong.checkPrivateKeyAccess(storing: false))
        XCTAssertEqual(try storedKeys().count, 1, "nothing was stored without the right passphrase")

        let right = try Backend.open(home: home, passphrase: secret)
        XCTAssertTrue(try right.identity(named: "alice").key.matches(try certificate("alice.pem")))
        try addAlice(right, as: "alice2")
        XCTAssertTrue(try storedKeys().allSatisfy { $0.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----") })
    }

    func testUnencryptedHomeRefusesToStoreUnderAPassphraseItCannotCheck() throws {
        try addAlice(try Backend.open(home: home, create: true))
        let given = try Backend.open(home: home, passphrase: secret)
        assertKind(.homeNotEncrypted, try self.addAlice(given, as: "alice2"))
        XCTAssertNoThrow(
            try given.identity(named: "alice"), "reading a plaintext key with a passphrase given is harmless")
        XCTAssertEqual(try storedKeys().count, 1)
    }

    func testEncryptingAnExistingHomeEncryptsEveryKeyInOneGo() throws {
        let plain = try Backend.open(home: home, create: true)
        try addAlice(plain)
        try plain.addIdentity(name: "bob", certificate: try certificate("bob.pem"), key: try key("bob.key"), chain: [])
        XCTAssertTrue(try storedKeys().allSatisfy { $0.hasPrefix("-----BEGIN PRIVATE KEY-----") })
        assertKind(.passphraseRequired, try plain.encryptPrivateKeys())

        XCTAssertEqual(try Backend.open(home: home, passphrase: secret).encryptPrivateKeys(), .encrypted(keys: 2))
        XCTAssertEqual(try storedKeys().count, 2)
        XCTAssertTrue(try storedKeys().allSatisfy { $0.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----") })
        // SQLite overwrites the old rows in the file (secure_delete); PostgreSQL keeps old row versions until
        // VACUUM and in its WAL (README, "Scale-out": encrypt a home before its keys go in).
        if !Backend.postgres {
            let database = try Data(contentsOf: home.appendingPathComponent(Keystore.databaseName))
            XCTAssertNil(database.range(of: Data("BEGIN PRIVATE KEY".utf8)), "the plaintext is overwritten in the file")
        }

        XCTAssertEqual(try Backend.open(home: home, passphrase: secret).encryptPrivateKeys(), .alreadyEncrypted)
        assertKind(
            .wrongPassphrase, try Backend.open(home: home, passphrase: Array("other".utf8)).encryptPrivateKeys())
        let reopened = try Backend.open(home: home, passphrase: secret)
        XCTAssertEqual(try reopened.identities().map(\.name), ["alice", "bob"])
    }

    func testEncryptingAHomeWithAKeyUnderAnotherPassphraseChangesNothing() throws {
        // A home from before homes stored a passphrase check: a key encrypted under some passphrase.
        let store = try Backend.open(home: home, create: true)
        try addAlice(store)
        let foreign = String(decoding: try key("bob.key").pkcs8PEM(passphrase: Array("typo".utf8)), as: UTF8.self)
        try store.addIdentity(name: "bob", certificate: try certificate("bob.pem"), key: try key("bob.key"), chain: [])
        try Backend.sql(home, "UPDATE certificates SET key_pem = '\(foreign)', key_encrypted = 1 WHERE name = 'bob'")
        assertKind(.wrongPassphrase, try Backend.open(home: home, passphrase: secret).encryptPrivateKeys())
        XCTAssertTrue(try storedKeys()[0].hasPrefix("-----BEGIN PRIVATE KEY-----"), "alice's key was left as it was")
        XCTAssertEqual(try Backend.open(home: home).keyProtection, .filePermissions)
    }
}

extension ProcessResult {
    func expectSuccess(file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(status, 0, stderr, file: file, line: line)
    }
}
