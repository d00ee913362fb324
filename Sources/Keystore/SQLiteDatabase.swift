import CSQLite
import Foundation

/// The home's keystore database: a thin owner of one SQLite connection, with prepared statements and
/// bound parameters only (no SQL built from values), closed in `deinit`. Writers take turns by
/// `BEGIN IMMEDIATE` (and wait up to 10 s for one another); the schema version is `PRAGMA user_version`.
final class SQLiteDatabase: KeystoreDatabase {
    private let db: OpaquePointer
    let location: String

    /// Each entry upgrades the schema by one version (`PRAGMA user_version`); the PostgreSQL backend's
    /// list builds the same tables in its own types. Never edit a released entry: append a new one (to both).
    static let migrations: [String] = [
        """
        CREATE TABLE certificates (
            name TEXT PRIMARY KEY,
            certificate_pem TEXT NOT NULL,
            key_pem TEXT NOT NULL,
            key_encrypted INTEGER NOT NULL DEFAULT 0,
            chain_pem TEXT NOT NULL DEFAULT '',
            fingerprint TEXT NOT NULL,
            created_at TEXT NOT NULL
        );
        CREATE TABLE public_keys (
            name TEXT PRIMARY KEY,
            certificate_pem TEXT NOT NULL,
            fingerprint TEXT NOT NULL,
            not_after TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT 'added',
            created_at TEXT NOT NULL
        );
        CREATE TABLE public_key_names (
            key_name TEXT NOT NULL REFERENCES public_keys(name) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'domain')),
            value TEXT NOT NULL COLLATE NOCASE
        );
        CREATE INDEX public_key_names_value ON public_key_names(value);
        CREATE TABLE ca_certificates (
            fingerprint TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            certificate_pem TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        """,
        // 2: sending profiles (SPEC F7), stored as their JSON definition; the Policy module owns the format.
        """
        CREATE TABLE profiles (
            name TEXT PRIMARY KEY,
            definition TEXT NOT NULL,
            updated_at TEXT NOT NULL
        );
        """,
        // 3: home-wide settings; `home_passphrase_verifier` marks a home whose private keys are encrypted.
        """
        CREATE TABLE settings (
            name TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        """,
        // 4: the policy file in force (SPEC F8, F9): at most one row, kept as loaded (Keystore+Policy.swift).
        """
        CREATE TABLE policy (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            text TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            loaded_at TEXT NOT NULL
        );
        """,
        // 5: trust and harvesting (SPEC F21–F25, Keystore+Trust.swift, Keystore+Harvest.swift). A CA certificate
        // with anchor = 0 is a known intermediate: an issuer to build paths with, trusted only through an anchor.
        """
        ALTER TABLE ca_certificates ADD COLUMN anchor INTEGER NOT NULL DEFAULT 1;
        CREATE TABLE crls (
            fingerprint TEXT PRIMARY KEY,
            issuer TEXT NOT NULL,
            scope TEXT NOT NULL,
            this_update TEXT NOT NULL,
            next_update TEXT,
            entries INTEGER NOT NULL,
            crl_pem TEXT NOT NULL,
            source TEXT NOT NULL,
            added_at TEXT NOT NULL
        );
        CREATE TABLE crl_sources (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            checked_at TEXT NOT NULL,
            status TEXT NOT NULL
        );
        CREATE TABLE harvested (
            fingerprint TEXT PRIMARY KEY,
            subject TEXT NOT NULL,
            certificate_pem TEXT NOT NULL,
            is_ca INTEGER NOT NULL,
            not_before TEXT NOT NULL,
            not_after TEXT NOT NULL,
            verified INTEGER NOT NULL,
            capabilities TEXT NOT NULL DEFAULT '',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            last_used TEXT NOT NULL,
            message TEXT NOT NULL,
            size INTEGER NOT NULL
        );
        CREATE INDEX harvested_last_used ON harvested(last_used, first_seen, fingerprint);
        CREATE TABLE harvest_size (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            total INTEGER NOT NULL
        );
        INSERT INTO harvest_size (id, total) VALUES (1, 0);
        CREATE TRIGGER harvested_size_in AFTER INSERT ON harvested
            BEGIN UPDATE harvest_size SET total = total + NEW.size WHERE id = 1; END;
        CREATE TRIGGER harvested_size_out AFTER DELETE ON harvested
            BEGIN UPDATE harvest_size SET total = total - OLD.size WHERE id = 1; END;
        CREATE TABLE harvested_names (
            fingerprint TEXT NOT NULL REFERENCES harvested(fingerprint) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'domain')),
            value TEXT NOT NULL COLLATE NOCASE
        );
        CREATE INDEX harvested_names_value ON harvested_names(value);
        CREATE INDEX harvested_names_fingerprint ON harvested_names(fingerprint);
        CREATE TABLE harvest_updates (
            name TEXT NOT NULL COLLATE NOCASE,
            fingerprint TEXT NOT NULL,
            seen_at TEXT NOT NULL,
            PRIMARY KEY (name, fingerprint)
        );
        CREATE TABLE alerts (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            raised_at TEXT NOT NULL,
            name TEXT NOT NULL,
            fingerprints TEXT NOT NULL,
            message TEXT NOT NULL,
            text TEXT NOT NULL
        );
        """,
        // 6: retired organisation certificates (still decrypt, never sign or receive new mail).
        """
        ALTER TABLE certificates ADD COLUMN retired_at TEXT;
        """,
    ]

    init(path: String) throws {
        location = "sqlite:" + path
        var handle: OpaquePointer? = nil
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close(handle) }
            throw KeystoreError("cannot open keystore \(path): \(message)")
        }
        db = handle
        sqlite3_busy_timeout(db, 10_000)
        try execute("PRAGMA foreign_keys = ON")
        // Deleted and overwritten rows (a deleted key, a key that `home encrypt`
        // replaced with its encrypted form) are zeroed in the file, not left in free pages.
        try execute("PRAGMA secure_delete = ON")
        // Runs that harvest into one home at once (SPEC F21): readers never wait for the writer, and
        // writers take turns within the busy timeout.
        try execute("PRAGMA journal_mode = WAL")
    }

    deinit { sqlite3_close(db) }

    func schemaVersion() throws -> Int { Int(try query("PRAGMA user_version").first?.first??.description ?? "0") ?? 0 }

    func migrate() throws {
        try KeystoreSchema.migrate(
            self, migrations: Self.migrations, current: schemaVersion, apply: execute,
            record: { try self.execute("PRAGMA user_version = \($0)") })
    }

    func integrityProblems() throws -> [String] {
        try query("PRAGMA integrity_check").compactMap { $0.first ?? nil }.filter { $0 != "ok" }
    }

    @discardableResult
    func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]] {
        var statement: OpaquePointer? = nil
        guard sqlite3_prepare_v2(db, sql, -1, &statement, nil) == SQLITE_OK, let statement else {
            throw KeystoreError("keystore query failed: \(String(cString: sqlite3_errmsg(db)))")
        }
        defer { sqlite3_finalize(statement) }
        for (index, value) in parameters.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .text(let text): sqlite3_bind_text(statement, position, text, -1, smg_sqlite_transient())
            case .int(let number): sqlite3_bind_int64(statement, position, number)
            case .null: sqlite3_bind_null(statement, position)
            }
        }
        var rows: [[String?]] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else {
                let message = String(cString: sqlite3_errmsg(db))
                if status == SQLITE_CONSTRAINT { throw KeystoreError("keystore constraint: \(message)") }
                throw KeystoreError("keystore query failed: \(message)")
            }
            rows.append(
                (0..<sqlite3_column_count(statement)).map { column in
                    sqlite3_column_text(statement, column).map { String(cString: $0) }
                })
        }
        return rows
    }

    func execute(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else {
            throw KeystoreError("keystore statement failed: \(String(cString: sqlite3_errmsg(db)))")
        }
    }

    func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let result = try body()
            try execute("COMMIT")
            return result
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }
}
