import Foundation
import Keystore
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import PostgresNIO

/// A keystore in PostgreSQL, shared by every machine of a sharded run (`--keystore postgresql://…`).
///
/// postgres-nio is asynchronous; the keystore's callers are not (the CLI, and a run's single harvest
/// writer). The bridge: one connection on one event-loop thread of its own, and each call waits for its
/// future on the caller's thread — never on the event loop — so a run's workers never wait on the
/// network except through the harvest writer (a run loads keys, CAs and CRLs once, before its first
/// message). Calls from several threads take turns on the connection (a lock that a transaction holds
/// for its whole body, so another thread's statement never lands inside it).
///
/// Writers on every machine take turns too: each transaction first takes one transaction-scoped advisory
/// lock, as SQLite's `BEGIN IMMEDIATE` does for one file — so the harvest's "already stored?", the LRU
/// eviction and the 48-hour alert window are decided by one writer at a time, in one transaction.
///
/// Parameters go as text of no declared type, so the server infers each from its place, as SQLite does;
/// `?` placeholders are numbered `$1…` outside quoted text. Private keys arrive already encrypted with the
/// home passphrase (when the home has one), which never goes to the database.
///
/// Unchecked Sendable: `connection` is used only under `lock`.
public final class PostgresKeystoreDatabase: KeystoreDatabase, @unchecked Sendable {
    public let location: String
    private let group: MultiThreadedEventLoopGroup
    private let connection: PostgresConnection
    private let lock = NSRecursiveLock()
    private let logger = Logger(label: "smimegate.keystore", factory: { _ in SwiftLogNoOpLogHandler() })
    private var inTransaction = false

    /// The advisory lock every keystore transaction takes first ("smimegat").
    static let writerLock: Int64 = 0x736d_696d_6567_6174

    public init(_ target: PostgresLocation, environment: [String: String] = ProcessInfo.processInfo.environment)
        throws
    {
        location = target.description
        let password = try target.password(environment: environment)
        var configuration: PostgresConnection.Configuration
        if target.isSocket {
            configuration = .init(
                unixSocketPath: target.host + "/.s.PGSQL.\(target.port)", username: target.user,
                password: password, database: target.database)
        } else {
            configuration = .init(
                host: target.host, port: target.port, username: target.user, password: password,
                database: target.database, tls: try Self.tls(target))
        }
        configuration.options.connectTimeout = .seconds(Int64(target.connectTimeout))
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            connection = try PostgresConnection.connect(
                on: group.next(), configuration: configuration, id: 1, logger: logger
            ).wait()
        } catch {
            try? group.syncShutdownGracefully()
            var reason = Self.describe(error)
            if password == nil, reason.contains("authMechanismRequiresPassword") {
                reason = "the server asks for a password: give it in PGPASSWORD, PGPASSFILE or ~/.pgpass"
            }
            // Refused, reset or timed out: the server may be back soon (exit 75); a refusal by the server
            // itself (authentication, no such database) is a configuration error (exit 2).
            let answered = (error as? PSQLError)?.serverInfo != nil
            throw KeystoreError(
                "cannot connect to the keystore \(target.description): \(reason)",
                kind: answered ? .other : .unavailable)
        }
    }

    deinit {
        try? connection.close().wait()
        try? group.syncShutdownGracefully()
    }

    static func tls(_ target: PostgresLocation) throws -> PostgresConnection.Configuration.TLS {
        var tls = TLSConfiguration.makeClientConfiguration()
        // As libpq: require with a root certificate verifies the chain as verify-ca does; verify-ca and
        // verify-full need a root to verify against (libpq's default ~/.postgresql/root.crt is not read: name
        // it); the system's roots only with verify-full (any public certificate would pass verify-ca).
        var mode = target.sslMode
        if mode == .require && target.sslRootCert != nil { mode = .verifyCA }
        if [.verifyCA, .verifyFull].contains(mode) && target.sslRootCert == nil {
            throw KeystoreError(
                "--keystore: sslmode=\(mode.rawValue) needs sslrootcert=FILE (or system, with verify-full)")
        }
        if mode == .verifyCA && target.sslRootCert == "system" {
            throw KeystoreError("--keystore: sslrootcert=system goes with sslmode=verify-full only")
        }
        switch mode {
        case .disable: return .disable
        case .allow, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if [.verifyCA, .verifyFull].contains(mode), let root = target.sslRootCert, root != "system" {
            guard FileManager.default.isReadableFile(atPath: root) else {
                throw KeystoreError("--keystore: sslrootcert \(root) cannot be read")
            }
            tls.trustRoots = .file(root)
        }
        if let cert = target.sslCert, let key = target.sslKey {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) }
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))
            } catch {
                throw KeystoreError("--keystore: sslcert/sslkey cannot be read: \(error)")
            }
        }
        let context: NIOSSLContext
        do { context = try NIOSSLContext(configuration: tls) } catch {
            throw KeystoreError("--keystore: TLS set-up failed: \(error)")
        }
        return [.require, .verifyCA, .verifyFull].contains(mode) ? .require(context) : .prefer(context)
    }

    // MARK: KeystoreDatabase

    @discardableResult
    public func query(_ sql: String, _ parameters: [SQLValue]) throws -> [[String?]] {
        var bindings = PostgresBindings(capacity: parameters.count)
        for parameter in parameters {
            switch parameter {
            case .text(let text): bindings.append(UntypedText(text))
            case .int(let number): bindings.append(UntypedText(String(number)))
            case .null: bindings.appendNull()
            }
        }
        let statement = PostgresQuery(unsafeSQL: Self.numbered(sql), binds: bindings)
        let result = try locked { try connection.query(statement, logger: logger).wait() }
        return try result.rows.map { row in try row.map(Self.text) }
    }

    public func transaction<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        precondition(!inTransaction, "keystore transactions do not nest")
        // Read committed whatever the database's default: each statement sees what the writer before this one
        // committed while this transaction waited for the lock (a repeatable-read snapshot would be older).
        try simple("BEGIN ISOLATION LEVEL READ COMMITTED")
        inTransaction = true
        defer { inTransaction = false }
        do {
            try query("SELECT pg_advisory_xact_lock(?)", [.int(Self.writerLock)])
            let result = try body()
            try simple("COMMIT")
            return result
        } catch {
            try? simple("ROLLBACK")
            throw error
        }
    }

    public func schemaVersion() throws -> Int {
        let exists = try query(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = 'smimegate_schema'")
        guard exists.first?.first == "1" else { return 0 }
        return Int(try query("SELECT max(version) FROM smimegate_schema").first?.first??.description ?? "0") ?? 0
    }

    public func migrate() throws {
        try KeystoreSchema.migrate(
            self, migrations: Self.migrations, current: schemaVersion, apply: simple,
            record: {
                try self.query("DELETE FROM smimegate_schema")
                try self.query("INSERT INTO smimegate_schema (version) VALUES (?)", [.int(Int64($0))])
            })
    }

    /// PostgreSQL checks its pages itself (checksums, when the cluster has them); there is no whole-database
    /// check to run from a client. What can be seen: the schema version and that every table is there.
    public func integrityProblems() throws -> [String] {
        let version = try schemaVersion()
        var problems =
            version == KeystoreSchema.version ? [] : ["schema version \(version), not \(KeystoreSchema.version)"]
        let present = Set(
            try query("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()").compactMap { $0[0] })
        problems += Self.tables.filter { !present.contains($0) }.map { "table \($0) is missing" }
        return problems
    }

    // MARK: Plumbing

    private func locked<T>(_ body: () throws -> T) throws -> T {
        lock.lock()
        defer { lock.unlock() }
        do { return try body() } catch let error as KeystoreError { throw error } catch {
            throw KeystoreError("keystore query failed (\(location)): \(Self.describe(error))")
        }
    }

    /// Statements without parameters, several separated by ";" (a migration), one after the other.
    private func simple(_ sql: String) throws {
        for statement in Self.statements(sql) {
            _ = try locked { try connection.query(PostgresQuery(unsafeSQL: statement), logger: logger).wait() }
        }
    }

    /// `sql` cut at each ";" outside quoted text and `$$` bodies (a function's body has its own).
    static func statements(_ sql: String) -> [String] {
        var statements: [String] = []
        var current = ""
        var quote: Character? = nil
        var dollar = false
        var previous: Character = " "
        for character in sql {
            if dollar {
                if character == "$" && previous == "$" { dollar = false }
            } else if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "$" && previous == "$" {
                dollar = true
            } else if character == ";" {
                let statement = current.trimmingCharacters(in: .whitespacesAndNewlines)
                if !statement.isEmpty { statements.append(statement) }
                current = ""
                previous = " "
                continue
            }
            current.append(character)
            // "$$" that closed a body must not open the next one with its second "$".
            previous = character == "$" && previous == "$" ? " " : character
        }
        let last = current.trimmingCharacters(in: .whitespacesAndNewlines)
        if !last.isEmpty { statements.append(last) }
        return statements
    }

    /// `?` → `$1`, `$2`, … outside single-quoted text, double-quoted names and dollar-quoted bodies.
    static func numbered(_ sql: String) -> String {
        var out = ""
        out.reserveCapacity(sql.utf8.count + 16)
        var number = 0
        var quote: Character? = nil
        for character in sql {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "'" || character == "\"" {
                quote = character
            } else if character == "?" {
                number += 1
                out += "$\(number)"
                continue
            }
            out.append(character)
        }
        return out
    }

    /// A column as the SQLite side gives it: text as is, integers in decimal, booleans 1/0, NULL as nil.
    static func text(_ cell: PostgresCell) throws -> String? {
        guard cell.bytes != nil else { return nil }
        switch cell.dataType {
        case .int2, .int4, .int8: return String(try cell.decode(Int64.self))
        case .bool: return try cell.decode(Bool.self) ? "1" : "0"
        default: return try cell.decode(String.self)
        }
    }

    /// The server's words for a failure (postgres-nio's own description hides them).
    static func describe(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] {
            let state = error.serverInfo?[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let detail = error.serverInfo?[.detail].map { ": \($0)" } ?? ""
            return message + detail + state
        }
        if let underlying = error.underlying { return "\(error.code): \(underlying)" }
        return "\(error.code)"
    }
}

/// A parameter as text of no declared type (OID 0): the server infers its type from where it stands.
struct UntypedText: PostgresDynamicTypeEncodable {
    let text: String
    init(_ text: String) { self.text = text }
    var psqlType: PostgresDataType { PostgresDataType(0) }
    var psqlFormat: PostgresFormat { .text }
    func encode<JSONEncoder: PostgresJSONEncoder>(
        into byteBuffer: inout ByteBuffer, context: PostgresEncodingContext<JSONEncoder>
    ) {
        byteBuffer.writeString(text)
    }
}
