import Foundation

/// A value bound to a `?` placeholder.
public enum SQLValue: Sendable, Equatable {
    case text(String)
    case int(Int64)
    case null
}

/// Where a keystore lives: the SQLite database in the home (`SQLiteDatabase`, the default) or a PostgreSQL
/// database that many machines share (module KeystorePostgres). The keystore's statements are written once,
/// in the SQL both run (SQLite ≥ 3.35 and PostgreSQL ≥ 12: `ON CONFLICT`, `RETURNING`, `?` placeholders that
/// the PostgreSQL side numbers); what differs — the schema and its migrations, how writers take turns, the
/// schema version's place, the integrity check — is each backend's own, in its one file.
public protocol KeystoreDatabase: AnyObject {
    /// What `doctor` and `init` show: "sqlite:PATH" or "postgresql://USER@HOST:PORT/DB" (never a password).
    var location: String { get }
    /// Runs one statement with its parameters bound (never SQL built from values); every column as text
    /// (integers in decimal), NULL as nil.
    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]]
    /// Runs `body` in one transaction, all or nothing. Writers take turns: two transactions never
    /// interleave, whichever process or machine runs them (what keeps harvesting, eviction and alerts
    /// right when shards share a keystore). Transactions do not nest.
    func transaction<T>(_ body: () throws -> T) throws -> T
    /// The schema version this database is at (0: empty).
    func schemaVersion() throws -> Int
    /// Brings the schema to `KeystoreSchema.version` with the backend's own forward-only migrations, each
    /// in its own transaction; a database newer than this program is an error.
    func migrate() throws
    /// What a backend's own consistency check finds wrong (SQLite: `PRAGMA integrity_check`); empty when fine.
    func integrityProblems() throws -> [String]
}

extension KeystoreDatabase {
    @discardableResult
    public func query(_ sql: String) throws -> [[String?]] { try query(sql, []) }
}

/// The schema every backend's migrations build: version N means the same tables and columns everywhere.
public enum KeystoreSchema {
    public static let version = 6

    /// Applies `migrations` (entry i takes the schema from version i to i + 1) from `current` on, each
    /// inside `database.transaction` with `record` writing the new version there too.
    public static func migrate(
        _ database: any KeystoreDatabase, migrations: [String], current: () throws -> Int,
        apply: (String) throws -> Void, record: (Int) throws -> Void
    ) throws {
        precondition(migrations.count == version, "a backend's migrations must reach KeystoreSchema.version")
        let found = try current()
        guard found <= version else {
            throw KeystoreError("keystore schema version \(found) is newer than this smimegate understands")
        }
        for (index, sql) in migrations.enumerated() where index >= found {
            try database.transaction {
                // Another process may have migrated while this one waited for its turn.
                guard try current() == index else { return }
                try apply(sql)
                try record(index + 1)
            }
        }
    }
}
