import CMS
import Foundation
import Keystore
import PKI
import TestSupport
import XCTest

@testable import KeystorePostgres

/// The PostgreSQL keystore (issue 16) against a real server started for the tests: libpq's URL and password
/// rules, TLS, and writers on several connections at once.
final class PostgresKeystoreTests: XCTestCase {
    var server: PostgresServer { PostgresServer.shared }

    func database(_ url: String, environment: [String: String]? = nil) throws -> PostgresKeystoreDatabase {
        try PostgresKeystoreDatabase(
            try PostgresLocation(url: url, environment: environment ?? server.environment),
            environment: environment ?? server.environment)
    }

    func open(_ url: String, create: Bool = true) throws -> Keystore {
        try Keystore.open(
            home: try temporaryDirectory().appendingPathComponent("home"), create: create, database: database(url))
    }

    func testMigratesOnceAndPsqlSeesTheRows() throws {
        let url = try server.createDatabase()
        let store = try open(url)
        XCTAssertEqual(store.version, Keystore.schemaVersion)
        XCTAssertEqual(store.location, url.replacingOccurrences(of: "?sslmode=disable", with: ""))
        try store.addPublicKey(name: "bob", certificate: try Certificate(bytes: bytes(of: Paths.fixture("bob.pem"))))
        XCTAssertEqual(try open(url, create: false).publicKeys().map(\.name), ["bob"])
        XCTAssertEqual(try store.integrityProblems(), [])
        let name = String(url.split(separator: "/").last!.prefix { $0 != "?" })
        XCTAssertEqual(try server.psql("SELECT version FROM smimegate_schema", database: name), "6\n")
        XCTAssertTrue(
            try server.psql("SELECT value FROM public_key_names", database: name).contains("bob@partner.example"))
        // A database nobody ran init on is not a keystore yet.
        XCTAssertThrowsError(try open(try server.createDatabase(), create: false)) {
            XCTAssertTrue("\($0)".contains("run 'smimegate init' first"), "\($0)")
        }
    }

    func testURLsAreReadAsLibpqReadsThem() throws {
        let environment = ["PGUSER": "env-user", "PGHOST": "db.example", "PGPORT": "6543", "USER": "login"]
        let full = try PostgresLocation(
            url: "postgresql://alice@pg.example:5433/keys?sslmode=verify-full", environment: [:])
        XCTAssertEqual(
            [full.user, full.host, String(full.port), full.database, full.sslMode.rawValue],
            ["alice", "pg.example", "5433", "keys", "verify-full"])
        let defaults = try PostgresLocation(url: "postgresql://", environment: environment)
        XCTAssertEqual(
            [defaults.user, defaults.host, String(defaults.port), defaults.database, defaults.sslMode.rawValue],
            ["env-user", "db.example", "6543", "env-user", "prefer"])
        let socket = try PostgresLocation(url: "postgresql:///keys?host=/run/postgresql", environment: [:])
        XCTAssertTrue(socket.isSocket)
        XCTAssertEqual(socket.description, "postgresql://\(socket.user)@:5432/keys?host=/run/postgresql")
        for bad in [
            "postgresql://alice:secret@pg.example/keys", "postgresql://pg.example/keys?sslmode=sometimes",
            "postgresql://pg.example/keys?password=x", "postgresql://pg.example:99999/keys", "mysql://pg.example/keys",
            "postgresql://pg.example/keys?sslcert=/c.pem",
        ] {
            XCTAssertThrowsError(try PostgresLocation(url: bad, environment: [:]), bad) {
                XCTAssertFalse("\($0)".contains("secret"), "a password is never repeated: \($0)")
            }
        }
    }

    /// PGPASSWORD first, else the first matching line of PGPASSFILE (0600 only), with "*" and "\:" as libpq has them.
    func testPasswordsComeFromThePasswordFile() throws {
        let dir = try temporaryDirectory()
        let file = dir.appendingPathComponent("pgpass").path
        try write(
            "# comment\nother.example:*:*:*:wrong\npg.example:5432:keys:alice:s\\:cret\n*:*:*:*:fallback\n",
            to: URL(fileURLWithPath: file))
        chmod(file, 0o600)
        let location = try PostgresLocation(url: "postgresql://alice@pg.example/keys", environment: [:])
        XCTAssertEqual(try location.password(environment: ["PGPASSFILE": file]), "s:cret")
        XCTAssertEqual(try location.password(environment: ["PGPASSFILE": file, "PGPASSWORD": "env"]), "env")
        let other = try PostgresLocation(url: "postgresql://bob@else.example/keys", environment: [:])
        XCTAssertEqual(try other.password(environment: ["PGPASSFILE": file]), "fallback")
        chmod(file, 0o644)
        XCTAssertThrowsError(try location.password(environment: ["PGPASSFILE": file])) {
            XCTAssertTrue("\($0)".contains("chmod 0600"), "\($0)")
        }
        // And for real: the server takes the password from the file.
        let url = try server.createDatabase()
        let pgpass = dir.appendingPathComponent("real").path
        try write("127.0.0.1:\(server.port):*:\(server.user):\(server.password)\n", to: URL(fileURLWithPath: pgpass))
        chmod(pgpass, 0o600)
        XCTAssertNoThrow(try database(url, environment: ["PGPASSFILE": pgpass]))
        XCTAssertThrowsError(try database(url, environment: ["PGPASSWORD": "wrong"])) {
            XCTAssertTrue("\($0)".contains("cannot connect to the keystore"), "\($0)")
            XCTAssertTrue("\($0)".contains("password authentication failed"), "\($0)")
            XCTAssertFalse("\($0)".contains("\n"), "one line: \($0)")
        }
    }

    func testTLSIsVerifiedWhenTheURLAsks() throws {
        let url = try server.createDatabase(query: "")
        let verified = try open(url + "?sslmode=verify-full&sslrootcert=" + server.certificate)
        XCTAssertEqual(try verified.publicKeys().count, 0)
        XCTAssertNoThrow(try database(url + "?sslmode=require"))
        // Another CA: verify-ca and verify-full refuse the server; require (no verification) does not care.
        let other = try temporaryDirectory().appendingPathComponent("other.pem").path
        XCTAssertEqual(
            try runProcess(
                "openssl",
                [
                    "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=someone else", "-keyout", "/dev/null", "-out", other,
                ]
            ).status, 0)
        for mode in ["verify-ca", "verify-full"] {
            XCTAssertThrowsError(try database(url + "?sslmode=\(mode)&sslrootcert=" + other), mode) {
                XCTAssertTrue("\($0)".contains("cannot connect to the keystore"), "\($0)")
            }
        }
        // By name (sent as SNI, checked against the certificate's DNS name) as well as by address.
        let named = url.replacingOccurrences(of: "127.0.0.1", with: "localhost")
        XCTAssertNoThrow(try database(named + "?sslmode=verify-full&sslrootcert=" + server.certificate))
    }

    /// Four connections harvest the same certificates at once, each in its own order: every certificate is
    /// stored once, the size total is the sum, and each address has one alert (decided in one transaction).
    func testWritersOnSeveralConnectionsTakeTurns() throws {
        let url = try server.createDatabase()
        _ = try open(url)
        let certificates = try (0..<24).map { index in
            try CertificateBuilder.selfSigned(
                CertificateRequestFields(
                    commonName: "p\(index % 6)", sanEmails: ["p\(index % 6)@partner.example"]),
                key: try PrivateKey.generateEC(curve: "P-256"), days: 3650)
        }
        // One keystore (one connection) per thread, as in one process per shard.
        nonisolated(unsafe) let stores = try (0..<4).map { _ in try open(url, create: false) }
        let failures = NSLock()
        nonisolated(unsafe) var errors: [String] = []
        DispatchQueue.concurrentPerform(iterations: 4) { worker in
            var generator = SystemRandomNumberGenerator()
            for certificate in certificates.shuffled(using: &generator) {
                do {
                    _ = try stores[worker].harvest(
                        HarvestCandidate(
                            certificate: certificate, intermediates: [], verified: true, capabilities: [],
                            message: "m\(worker)"),
                        rules: HarvestRules(updated: true, selfSigned: true))
                } catch {
                    failures.lock()
                    errors.append("\(error)")
                    failures.unlock()
                }
            }
        }
        XCTAssertEqual(errors, [])
        let harvested = try stores[0].harvestedCertificates()
        XCTAssertEqual(harvested.count, 24)
        XCTAssertEqual(Set(harvested.map(\.fingerprint)).count, 24)
        let name = String(url.split(separator: "/").last!.prefix { $0 != "?" })
        let sums = try server.psql(
            "SELECT (SELECT total FROM harvest_size) = (SELECT sum(size) FROM harvested)", database: name)
        XCTAssertEqual(sums, "t\n")
        // Six addresses with four certificates each, and their one domain: one alert each, renewed in place.
        let alerts = try stores[0].alerts()
        XCTAssertEqual(alerts.map(\.name).sorted(), (0..<6).map { "p\($0)@partner.example" } + ["partner.example"])
    }
}
