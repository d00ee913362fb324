import CMS
import Foundation
import Keystore
import KeystorePostgres
import PKI
import TestSupport
import XCTest

/// The PostgreSQL keystore (issue 16) against a real server started for the tests.
final class PostgresKeystoreTests: XCTestCase {
    func open(_ url: String, create: Bool = true) throws -> Keystore {
        let home = try temporaryDirectory().appendingPathComponent("home")
        let database = try PostgresKeystoreDatabase(
            try PostgresLocation(url: url), environment: PostgresServer.shared.environment)
        return try Keystore.open(home: home, create: create, database: database)
    }

    func testMigratesAndStores() throws {
        let url = try PostgresServer.shared.createDatabase()
        let store = try open(url)
        XCTAssertEqual(store.version, Keystore.schemaVersion)
        XCTAssertEqual(store.location, url.replacingOccurrences(of: "?sslmode=disable", with: ""))
        let certificate = try Certificate(bytes: bytes(of: Paths.fixture("bob.pem")))
        try store.addPublicKey(name: "bob", certificate: certificate)
        XCTAssertEqual(try store.publicKeys().map(\.name), ["bob"])
        XCTAssertEqual(try store.integrityProblems(), [])
        // psql sees the rows.
        let names = try PostgresServer.shared.psql(
            "SELECT value FROM public_key_names ORDER BY value", database: String(url.split(separator: "/").last!.prefix { $0 != "?" }))
        XCTAssertTrue(names.contains("bob@partner.example"), names)
    }
}
