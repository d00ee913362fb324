import CSQLite
import Foundation

/// A thin owner of one SQLite connection: prepared statements with bound
/// parameters only (no SQL built from values), closed in `deinit`.
final class Database {
    private let db: OpaquePointer

    init(path: String) throws {
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

    enum Value {
        case text(String)
        case int(Int64)
        case null
    }

    /// Runs `sql` with `parameters`, returning every row as text columns.
    @discardableResult
    func query(_ sql: String, _ parameters: [Value] = []) throws -> [[String?]] {
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

    /// Runs `body` in one transaction: all or nothing.
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
