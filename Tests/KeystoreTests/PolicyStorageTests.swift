import Foundation
import TestSupport
import XCTest

@testable import Keystore
@testable import KeystorePostgres

/// The policy in force (migration 4): one row holding the text as loaded, its
/// SHA-256 and the load time. The SHA-256 is checked against the openssl command line.
final class PolicyStorageTests: XCTestCase {
    var home: URL!

    override func setUpWithError() throws { home = try temporaryDirectory().appendingPathComponent("home") }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: home.deletingLastPathComponent())
    }

    /// Not ASCII, CRLF and LF mixed, a trailing space: every byte must come back as it went in.
    static let text =
        "# politique d'envoi \u{2014} Gr\u{fc}\u{df}e\r\n[message filters]\ndrop: if (true) { drop(); } \n"

    func testThePolicyIsStoredAndReadBackAsLoaded() throws {
        let store = try Backend.open(home: home, create: true)
        XCTAssertNil(try store.storedPolicy())
        let before = Date()
        let saved = try store.savePolicy(text: Self.text)
        let reopened = try XCTUnwrap(try Backend.open(home: home).storedPolicy())
        XCTAssertEqual(Array(reopened.text.utf8), Array(Self.text.utf8))
        XCTAssertEqual(reopened.sha256, saved.sha256)
        XCTAssertEqual(reopened.loadedAt, saved.loadedAt)
        // ISO 8601 keeps whole seconds.
        XCTAssertEqual(reopened.loadedAt.timeIntervalSince(before), 0, accuracy: 2)
    }

    func testSavingAgainReplacesTheOneRow() throws {
        let store = try Backend.open(home: home, create: true)
        try store.savePolicy(text: "first\n")
        let second = try store.savePolicy(text: "second\n")
        XCTAssertEqual(try store.storedPolicy()?.text, "second\n")
        XCTAssertEqual(try store.storedPolicy()?.sha256, second.sha256)
        let rows = try Backend.sql(home, "SELECT COUNT(*) FROM policy")
        XCTAssertEqual(rows.trimmingCharacters(in: .whitespacesAndNewlines), "1")
    }

    func testSHA256IsOpenSSLsDigestOfTheFile() throws {
        let store = try Backend.open(home: home, create: true)
        let saved = try store.savePolicy(text: Self.text)
        let file = home.deletingLastPathComponent().appendingPathComponent("policy.txt")
        try write(Self.text, to: file)
        // `-r`: "HEX *FILE", the coreutils form.
        let digest = try runProcess("openssl", ["dgst", "-sha256", "-r", file.path])
        XCTAssertEqual(digest.status, 0, digest.stderr)
        XCTAssertEqual(saved.sha256, String(digest.out.prefix { $0 != " " }))
        XCTAssertEqual(saved.sha256.count, 64)
    }

    func testATextWithANULByteIsRefusedNotTruncated() throws {
        let store = try Backend.open(home: home, create: true)
        try store.savePolicy(text: "kept\n")
        XCTAssertThrowsError(try store.savePolicy(text: "a\u{0}b"))
        XCTAssertEqual(try store.storedPolicy()?.text, "kept\n")
    }

    /// A keystore as schema 3 wrote it (the first three migrations, never edited), with a
    /// profile and a setting in it, opens at the current schema with both kept.
    func testMigrationFromSchema3KeepsItsData() throws {
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true)
        let data = """
            INSERT INTO profiles (name, definition, updated_at)
                VALUES ('partners', '{"mode":"encrypt"}', '2025-01-01T00:00:00Z');
            INSERT INTO settings (name, value) VALUES ('colour', 'blue');
            """
        if Backend.postgres {
            let schema3 = PostgresKeystoreDatabase.migrations.prefix(3).joined(separator: "\n")
            try Backend.sql(home, schema3 + "INSERT INTO smimegate_schema (version) VALUES (3);" + data)
        } else {
            let schema3 = SQLiteDatabase.migrations.prefix(3).joined(separator: "\n")
            try Backend.sql(home, schema3 + "PRAGMA user_version = 3;" + data)
        }
        let store = try Backend.open(home: home)
        XCTAssertEqual(store.version, Keystore.schemaVersion)
        XCTAssertEqual(Keystore.schemaVersion, 6)
        XCTAssertEqual(try store.profileDefinition(named: "partners"), "{\"mode\":\"encrypt\"}")
        XCTAssertEqual(try Backend.sql(home, "SELECT value FROM settings WHERE name = 'colour'"), "blue\n")
        XCTAssertNil(try store.storedPolicy())
        try store.savePolicy(text: "after the upgrade\n")
        XCTAssertEqual(try Backend.open(home: home).storedPolicy()?.text, "after the upgrade\n")
    }
}
