import CMS
import Foundation
import PKI

/// The home's SQLite keystore: the organisation's certificates with their
/// private keys, partners' public keys, and the trusted CA list.
///
/// The home directory is 0700 and every file in it 0600 (SQLite gives its
/// journal the database file's mode). Without a home passphrase, private keys
/// are protected by those file permissions only.
public final class Keystore {
    public let home: URL
    private let db: Database

    public static let databaseName = "keystore.sqlite"

    /// Each entry upgrades the schema by one version (`PRAGMA user_version`).
    /// Never edit a released entry: append a new one.
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
        """
    ]

    public static var schemaVersion: Int { migrations.count }

    private init(home: URL, db: Database) {
        self.home = home
        self.db = db
    }

    /// Opens the keystore in `home`. With `create`, makes the directory (0700)
    /// and the database (0600) and applies migrations; without, a missing
    /// keystore is an error that says to run `smimegate init`.
    public static func open(home: URL, create: Bool = false) throws -> Keystore {
        let fm = FileManager.default
        let path = home.appendingPathComponent(databaseName).path
        if !fm.fileExists(atPath: path) {
            guard create else { throw KeystoreError("no keystore in \(home.path): run 'smimegate init' first") }
            try fm.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            guard fm.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw KeystoreError("cannot create \(path)")
            }
        }
        try? fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: home.path)
        try? fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        let store = Keystore(home: home, db: try Database(path: path))
        try store.migrate()
        return store
    }

    private func migrate() throws {
        let version = Int(try db.query("PRAGMA user_version").first?.first??.description ?? "0") ?? 0
        guard version <= Keystore.migrations.count else {
            throw KeystoreError("keystore schema version \(version) is newer than this smimegate understands")
        }
        for (index, sql) in Keystore.migrations.enumerated() where index >= version {
            try db.transaction {
                try db.execute(sql)
                try db.execute("PRAGMA user_version = \(index + 1)")
            }
        }
    }

    public var version: Int { Int((try? db.query("PRAGMA user_version").first?.first ?? nil) ?? "0") ?? 0 }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    // MARK: Organisation certificates (with private keys)

    public struct Identity: Sendable {
        public let name: String
        public let certificate: Certificate
        public let key: PrivateKey
        public let chain: [Certificate]
    }

    /// Stores a certificate with its private key under `name`. The key must match the certificate.
    public func addIdentity(name: String, certificate: Certificate, key: PrivateKey, chain: [Certificate], replace: Bool = false)
        throws
    {
        guard Keystore.validName(name) else { throw KeystoreError("invalid name \"\(name)\": use letters, digits, . _ - @") }
        guard key.matches(certificate) else { throw KeystoreError("the private key does not match the certificate") }
        let keyPEM = String(decoding: try key.pkcs8PEM(), as: UTF8.self)
        try db.transaction {
            if !replace, try !db.query("SELECT 1 FROM certificates WHERE name = ?", [.text(name)]).isEmpty {
                throw KeystoreError("a certificate named \"\(name)\" already exists")
            }
            try db.query(
                "INSERT OR REPLACE INTO certificates (name, certificate_pem, key_pem, chain_pem, fingerprint, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .text(name), .text(certificate.pem), .text(keyPEM), .text(chain.map(\.pem).joined()),
                    .text(certificate.sha256Fingerprint), .text(Keystore.now()),
                ])
        }
    }

    public func identity(named name: String) throws -> Identity {
        guard let row = try db.query("SELECT certificate_pem, key_pem, chain_pem FROM certificates WHERE name = ?", [.text(name)]).first
        else { throw KeystoreError("no certificate named \"\(name)\" (see 'smimegate cert list')") }
        return try Keystore.identity(name: name, row: row)
    }

    /// Every organisation certificate, for decrypting with whichever key fits.
    public func identities() throws -> [Identity] {
        try db.query("SELECT name, certificate_pem, key_pem, chain_pem FROM certificates ORDER BY name").map {
            try Keystore.identity(name: $0[0] ?? "", row: Array($0.dropFirst()))
        }
    }

    private static func identity(name: String, row: [String?]) throws -> Identity {
        let certificate = try Certificate(bytes: Array((row[0] ?? "").utf8))
        let key: PrivateKey
        do {
            key = try PrivateKey(bytes: Array((row[1] ?? "").utf8))
        } catch {
            throw KeystoreError("the private key of \"\(name)\" cannot be read")
        }
        let chainPEM = row[2] ?? ""
        let chain = chainPEM.isEmpty ? [] : (try? Certificate.parseAll(Array(chainPEM.utf8))) ?? []
        return Identity(name: name, certificate: certificate, key: key, chain: chain)
    }

    // MARK: Partners' public keys (F19)

    public func addPublicKey(name: String, certificate: Certificate, source: String = "added") throws {
        guard Keystore.validName(name) else { throw KeystoreError("invalid name \"\(name)\": use letters, digits, . _ - @") }
        try db.transaction {
            if try !db.query("SELECT 1 FROM public_keys WHERE name = ?", [.text(name)]).isEmpty {
                throw KeystoreError("a public key named \"\(name)\" already exists")
            }
            try db.query(
                "INSERT INTO public_keys (name, certificate_pem, fingerprint, not_after, source, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    .text(name), .text(certificate.pem), .text(certificate.sha256Fingerprint),
                    .text(ISO8601DateFormatter().string(from: certificate.notAfter)), .text(source), .text(Keystore.now()),
                ])
            for email in Set(certificate.emailAddresses.map { $0.lowercased() }) {
                try db.query("INSERT INTO public_key_names (key_name, kind, value) VALUES (?, 'email', ?)", [.text(name), .text(email)])
            }
            for domain in Set(certificate.dnsNames.map { $0.lowercased() }) {
                try db.query("INSERT INTO public_key_names (key_name, kind, value) VALUES (?, 'domain', ?)", [.text(name), .text(domain)])
            }
        }
    }

    public func publicKey(named name: String) throws -> Certificate {
        guard let pem = try db.query("SELECT certificate_pem FROM public_keys WHERE name = ?", [.text(name)]).first?.first ?? nil
        else { throw KeystoreError("no public key named \"\(name)\" (see 'smimegate keys list')") }
        return try Certificate(bytes: Array(pem.utf8))
    }

    public func publicKeys() throws -> [(name: String, certificate: Certificate)] {
        try db.query("SELECT name, certificate_pem FROM public_keys ORDER BY name").map {
            ($0[0] ?? "", try Certificate(bytes: Array(($0[1] ?? "").utf8)))
        }
    }

    /// The certificate to encrypt to `address` (SPEC F18): exact SAN e-mail, then
    /// SAN domain (wildcards included), valid now and usable for encryption;
    /// the latest notAfter wins.
    public func recipientCertificate(for address: String, at time: Date = Date()) throws -> Certificate? {
        let lowered = address.lowercased()
        var names = Set(
            try db.query("SELECT key_name FROM public_key_names WHERE kind = 'email' AND value = ?", [.text(lowered)]).compactMap { $0[0] })
        if let domain = CMS.addressDomain(lowered) {
            let domainRows = try db.query("SELECT key_name, value FROM public_key_names WHERE kind = 'domain'")
            for row in domainRows where AddressMatch.domainMatches(pattern: row[1] ?? "", domain: domain) {
                if let name = row[0] { names.insert(name) }
            }
        }
        let candidates = try names.sorted().map { try publicKey(named: $0) }
        return RecipientSelection.choose(for: address, among: candidates, at: time)
    }

    // MARK: Trusted CAs

    /// Adds CA certificates; returns how many were new.
    @discardableResult
    public func addCertificateAuthorities(_ certificates: [Certificate]) throws -> Int {
        try db.transaction {
            var added = 0
            for certificate in certificates {
                let fingerprint = certificate.sha256Fingerprint
                if try db.query("SELECT 1 FROM ca_certificates WHERE fingerprint = ?", [.text(fingerprint)]).isEmpty {
                    try db.query(
                        "INSERT INTO ca_certificates (fingerprint, subject, certificate_pem, added_at) VALUES (?, ?, ?, ?)",
                        [.text(fingerprint), .text(certificate.subject), .text(certificate.pem), .text(Keystore.now())])
                    added += 1
                }
            }
            return added
        }
    }

    public func certificateAuthorities() throws -> [Certificate] {
        try db.query("SELECT certificate_pem FROM ca_certificates ORDER BY subject").map {
            try Certificate(bytes: Array(($0[0] ?? "").utf8))
        }
    }

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128
            && name.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || "._-@+".unicodeScalars.contains($0) }
    }
}
