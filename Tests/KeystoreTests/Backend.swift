import Foundation
import Keystore
import KeystorePostgres
import TestSupport

/// Which keystore backend the tests of this target use: the home's SQLite file, or (scripts/test.sh's second
/// pass, SMIMEGATE_TEST_KEYSTORE=postgresql) a database of its own per home on the test PostgreSQL server.
enum Backend {
    static var postgres: Bool { ProcessInfo.processInfo.environment["SMIMEGATE_TEST_KEYSTORE"] == "postgresql" }

    nonisolated(unsafe) private static var databases: [String: String] = [:]
    private static let lock = NSLock()

    /// The keystore of `home`, as `Keystore.open` opens it, on this pass's backend.
    static func open(home: URL, create: Bool = false, passphrase: [UInt8]? = nil) throws -> Keystore {
        guard postgres else { return try Keystore.open(home: home, create: create, passphrase: passphrase) }
        return try Keystore.open(
            home: home, create: create, passphrase: passphrase,
            database: try PostgresKeystoreDatabase(
                try PostgresLocation(url: try database(of: home)), environment: PostgresServer.shared.environment))
    }

    /// The URL of `home`'s PostgreSQL database (made on first use).
    static func database(of home: URL) throws -> String {
        lock.lock()
        defer { lock.unlock() }
        if let url = databases[home.path] { return url }
        let url = try PostgresServer.shared.createDatabase()
        databases[home.path] = url
        return url
    }

    /// Runs SQL in `home`'s keystore behind the keystore's back: sqlite3 on the file, or psql.
    @discardableResult
    static func sql(_ home: URL, _ statement: String) throws -> String {
        if postgres {
            let name = String(try database(of: home).split(separator: "/").last!.prefix { $0 != "?" })
            return try PostgresServer.shared.psql(statement, database: name)
        }
        let result = try runProcess("sqlite3", [home.appendingPathComponent(Keystore.databaseName).path, statement])
        guard result.status == 0 else { throw TestFailure("sqlite3: \(result.stderr)") }
        return result.out
    }
}
