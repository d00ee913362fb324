import CMS
import Foundation
import PKI

/// The home's SQLite keystore: the organisation's certificates with their
/// private keys, partners' public keys, and the trusted CA list.
///
/// The home directory is 0700 and every file in it 0600 (SQLite gives its
/// journal the database file's mode). A home set up with a home passphrase
/// (`init` or `home encrypt`) stores a check of it and keeps every private key
/// as encrypted PKCS #8 (AES-256); without one, private keys are protected by
/// those file permissions only.
public final class Keystore {
    public let home: URL
    let db: any KeystoreDatabase
    /// The home passphrase given to this run, if any. It is checked against the
    /// home's `PassphraseVerifier` the first time a private key is stored or read.
    let passphrase: [UInt8]?
    /// Set once `passphrase` has matched the home's verifier (the check is slow on purpose).
    var passphraseVerified = false

    public static let databaseName = "keystore.sqlite"

    public static var schemaVersion: Int { KeystoreSchema.version }

    private init(home: URL, db: any KeystoreDatabase, passphrase: [UInt8]?) {
        self.home = home
        self.db = db
        self.passphrase = passphrase
    }

    /// Opens the keystore of `home`: its SQLite database (keystore.sqlite), or `database` when given (a
    /// PostgreSQL keystore, or an SQLite file elsewhere). With `create`, makes the home directory (0700) and
    /// an SQLite database that is missing; the schema is then migrated to this version. Without `create`, a
    /// home or keystore that does not exist yet is an error that says to run `smimegate init`.
    public static func open(
        home: URL, create: Bool = false, passphrase: [UInt8]? = nil, database: (any KeystoreDatabase)? = nil
    ) throws -> Keystore {
        let fm = FileManager.default
        // With a keystore elsewhere the home holds nothing of it: a machine of a sharded run gets one made.
        if !fm.fileExists(atPath: home.path) {
            guard create || database != nil else {
                throw KeystoreError("no keystore in \(home.path): run 'smimegate init' first")
            }
            try fm.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        try? fm.setAttributes([.posixPermissions: 0o700], ofItemAtPath: home.path)
        let db = try database ?? sqlite(path: home.appendingPathComponent(databaseName).path, create: create)
        if !create, try db.schemaVersion() == 0 {
            throw KeystoreError("no keystore in \(db.location): run 'smimegate init' first")
        }
        try db.migrate()
        return Keystore(home: home, db: db, passphrase: passphrase)
    }

    /// An SQLite keystore database at `path` (0600). With `create`, made when missing (in an existing directory).
    public static func sqlite(path: String, create: Bool) throws -> any KeystoreDatabase {
        let fm = FileManager.default
        if !fm.fileExists(atPath: path) {
            let directory = URL(fileURLWithPath: path).deletingLastPathComponent().path
            guard create else {
                throw KeystoreError("no keystore in \(directory): run 'smimegate init' first")
            }
            guard fm.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600]) else {
                throw KeystoreError("cannot create \(path)")
            }
        }
        try? fm.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return try SQLiteDatabase(path: path)
    }

    public var version: Int { (try? db.schemaVersion()) ?? 0 }

    /// Where the keystore is: "sqlite:PATH" or "postgresql://USER@HOST:PORT/DB".
    public var location: String { db.location }

    static func now() -> String { ISO8601DateFormatter().string(from: Date()) }

    // MARK: Organisation certificates (with private keys)

    public struct Identity: Sendable {
        public let name: String
        public let certificate: Certificate
        public let key: PrivateKey
        public let chain: [Certificate]
        /// When `cert retire` retired it: it still decrypts, but never signs or is encrypted to.
        public var retired: Date? = nil
    }

    /// Stores a certificate with its private key under `name`. The key must match the certificate.
    public func addIdentity(
        name: String, certificate: Certificate, key: PrivateKey, chain: [Certificate], replace: Bool = false
    )
        throws
    {
        guard Keystore.validName(name) else {
            throw KeystoreError("invalid name \"\(name)\": use letters, digits, . _ - @")
        }
        guard key.matches(certificate) else { throw KeystoreError("the private key does not match the certificate") }
        let keyPassphrase = try passphraseForPrivateKeys(storing: true)
        let keyPEM = String(decoding: try key.pkcs8PEM(passphrase: keyPassphrase), as: UTF8.self)
        try db.transaction {
            if !replace, try !db.query("SELECT 1 FROM certificates WHERE name = ?", [.text(name)]).isEmpty {
                throw KeystoreError("a certificate named \"\(name)\" already exists")
            }
            try db.query(
                "INSERT INTO certificates (name, certificate_pem, key_pem, key_encrypted, chain_pem, fingerprint, "
                    + "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                    + "certificate_pem = excluded.certificate_pem, key_pem = excluded.key_pem, "
                    + "key_encrypted = excluded.key_encrypted, chain_pem = excluded.chain_pem, "
                    + "fingerprint = excluded.fingerprint, created_at = excluded.created_at, retired_at = NULL",
                [
                    .text(name), .text(certificate.pem), .text(keyPEM), .int(keyPassphrase == nil ? 0 : 1),
                    .text(chain.map(\.pem).joined()), .text(certificate.sha256Fingerprint), .text(Keystore.now()),
                ])
        }
    }

    public func identity(named name: String) throws -> Identity {
        guard
            let row = try db.query(
                "SELECT \(Self.identityColumns) FROM certificates WHERE name = ?",
                [.text(name)]
            ).first
        else { throw KeystoreError("no certificate named \"\(name)\" (see 'smimegate cert list')") }
        return try identity(row: row, passphrase: try passphraseForPrivateKeys(storing: false))
    }

    /// What `identity(row:passphrase:)` reads.
    private static let identityColumns = "name, certificate_pem, key_pem, key_encrypted, chain_pem, retired_at"

    /// Every organisation certificate, retired ones included, for decrypting with whichever key fits.
    public func identities() throws -> [Identity] {
        let rows = try db.query(
            "SELECT \(Self.identityColumns) FROM certificates ORDER BY name"
        )
        if rows.isEmpty { return [] }
        let passphrase = try passphraseForPrivateKeys(storing: false)
        return try rows.map { try identity(row: $0, passphrase: passphrase) }
    }

    /// The organisation certificates without touching their private keys (for listings).
    public func certificates() throws -> [(
        name: String, certificate: Certificate, chain: [Certificate], keyEncrypted: Bool, retired: Date?
    )] {
        try db.query(
            "SELECT name, certificate_pem, chain_pem, key_encrypted, retired_at FROM certificates ORDER BY name"
        ).map {
            (
                $0[0] ?? "", try Certificate(bytes: Array(($0[1] ?? "").utf8)), Keystore.chain($0[2]), $0[3] == "1",
                $0[4].flatMap(ISO8601DateFormatter().date(from:))
            )
        }
    }

    /// `cert retire` / `cert unretire`: a retired certificate still decrypts (archives encrypted to it), but
    /// never signs and is never a recipient. Returns false when it already was in that state.
    @discardableResult
    public func setRetired(_ name: String, _ retired: Bool) throws -> Bool {
        try db.transaction {
            guard try hasIdentity(named: name) else {
                throw KeystoreError("no certificate named \"\(name)\" (see 'smimegate cert list')")
            }
            let now = retired ? Keystore.now() : nil
            return try !db.query(
                "UPDATE certificates SET retired_at = ? WHERE name = ? AND retired_at IS "
                    + (retired ? "NULL" : "NOT NULL") + " RETURNING name",
                [now.map { .text($0) } ?? .null, .text(name)]
            ).isEmpty
        }
    }

    /// `passphrase` has passed `passphraseForPrivateKeys(storing: false)`.
    private func identity(row: [String?], passphrase: [UInt8]?) throws -> Identity {
        let name = row[0] ?? ""
        let certificate = try Certificate(bytes: Array((row[1] ?? "").utf8))
        let encrypted = row[3] == "1"
        if encrypted && passphrase == nil {
            // Only in a home encrypted before homes stored a passphrase check (`home encrypt` adds one).
            throw KeystoreError(
                "the private key of \"\(name)\" is encrypted: \(Keystore.givePassphrase)", kind: .passphraseRequired)
        }
        let key: PrivateKey
        do {
            key = try PrivateKey(bytes: Array((row[2] ?? "").utf8), passphrase: encrypted ? passphrase : nil)
        } catch {
            if encrypted {
                throw KeystoreError("wrong home passphrase for the private key of \"\(name)\"", kind: .wrongPassphrase)
            }
            throw KeystoreError("the private key of \"\(name)\" cannot be read")
        }
        var identity = Identity(name: name, certificate: certificate, key: key, chain: Keystore.chain(row[4]))
        identity.retired = row[5].flatMap(ISO8601DateFormatter().date(from:))
        return identity
    }

    private static func chain(_ pem: String?) -> [Certificate] {
        guard let pem, !pem.isEmpty else { return [] }
        return (try? Certificate.parseAll(Array(pem.utf8))) ?? []
    }

    /// Replaces the certificate of `name` and keeps its key — for the CA-issued
    /// certificate that answers `cert csr` (SPEC F16). The key must match.
    public func replaceCertificate(name: String, certificate: Certificate, chain: [Certificate]) throws {
        let current = try identity(named: name)
        guard current.key.matches(certificate) else {
            throw KeystoreError("the certificate does not match the private key of \"\(name)\"")
        }
        try db.query(
            "UPDATE certificates SET certificate_pem = ?, chain_pem = ?, fingerprint = ? WHERE name = ?",
            [
                .text(certificate.pem), .text(chain.map(\.pem).joined()), .text(certificate.sha256Fingerprint),
                .text(name),
            ])
    }

    public func hasIdentity(named name: String) throws -> Bool {
        try !db.query("SELECT 1 FROM certificates WHERE name = ?", [.text(name)]).isEmpty
    }

    public func deleteIdentity(named name: String) throws {
        try db.transaction {
            guard try hasIdentity(named: name) else { throw KeystoreError("no certificate named \"\(name)\"") }
            try db.query("DELETE FROM certificates WHERE name = ?", [.text(name)])
        }
    }

    // MARK: Partners' public keys (F19)

    public func addPublicKey(name: String, certificate: Certificate, source: String = "added") throws {
        try db.transaction { try insertPublicKey(name: name, certificate: certificate, source: source) }
    }

    /// `addPublicKey` inside a transaction the caller holds.
    func addPublicKeyInTransaction(name: String, certificate: Certificate, source: String) throws {
        try insertPublicKey(name: name, certificate: certificate, source: source)
    }

    private func insertPublicKey(name: String, certificate: Certificate, source: String) throws {
        guard Keystore.validName(name) else {
            throw KeystoreError("invalid name \"\(name)\": use letters, digits, . _ - @")
        }
        if try !db.query("SELECT 1 FROM public_keys WHERE name = ?", [.text(name)]).isEmpty {
            throw KeystoreError("a public key named \"\(name)\" already exists")
        }
        try db.query(
            "INSERT INTO public_keys (name, certificate_pem, fingerprint, not_after, source, created_at) VALUES (?, ?, ?, ?, ?, ?)",
            [
                .text(name), .text(certificate.pem), .text(certificate.sha256Fingerprint),
                .text(ISO8601DateFormatter().string(from: certificate.notAfter)), .text(source), .text(Keystore.now()),
            ])
        try indexNames(of: certificate, in: .publicKeys, key: name)
    }

    /// The two tables that index certificates by their e-mail addresses and domains (lower case).
    enum NameIndex: String {
        case publicKeys = "INSERT INTO public_key_names (key_name, kind, value) VALUES (?, ?, ?)"
        case harvested = "INSERT INTO harvested_names (fingerprint, kind, value) VALUES (?, ?, ?)"
    }

    /// Indexes `certificate`'s SAN e-mail addresses and DNS names in `index` under `key`.
    func indexNames(of certificate: Certificate, in index: NameIndex, key: String) throws {
        for (kind, values) in [("email", certificate.emailAddresses), ("domain", certificate.dnsNames)] {
            for value in Set(values.map { $0.lowercased() }) {
                try db.query(index.rawValue, [.text(key), .text(kind), .text(value)])
            }
        }
    }

    public func deletePublicKey(named name: String) throws {
        try db.transaction {
            if try db.query("SELECT 1 FROM public_keys WHERE name = ?", [.text(name)]).isEmpty {
                throw KeystoreError("no public key named \"\(name)\"")
            }
            try db.query("DELETE FROM public_keys WHERE name = ?", [.text(name)])
        }
    }

    // MARK: Bundles (F20)

    /// The index of a key bundle: one entry per PEM file in `keys/`.
    struct BundleIndex: Codable {
        static let currentFormat = "smimegate-public-keys/1"
        var format = currentFormat
        var keys: [Entry]

        struct Entry: Codable {
            var name: String
            var file: String
            var sha256: String
            var subject: String
            var emails: [String]
            var domains: [String]
            var notAfter: String
        }
    }

    /// Writes every public key into a tar (tar.gz) bundle: `keys/NAME.pem` per
    /// key and `index.json` with names and metadata. Returns how many keys.
    @discardableResult
    public func exportPublicKeys(to path: String) throws -> Int {
        let keys = try publicKeys()
        var files: [BundleFile] = []
        var entries: [BundleIndex.Entry] = []
        for (name, certificate) in keys {
            let file = "keys/\(name).pem"
            files.append(BundleFile(path: file, bytes: Array(certificate.pem.utf8)))
            entries.append(
                BundleIndex.Entry(
                    name: name, file: file, sha256: certificate.sha256Fingerprint, subject: certificate.subject,
                    emails: certificate.emailAddresses, domains: certificate.dnsNames,
                    notAfter: ISO8601DateFormatter().string(from: certificate.notAfter)))
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let index = try encoder.encode(BundleIndex(keys: entries))
        try TarBundle.write([BundleFile(path: "index.json", bytes: Array(index))] + files, to: path)
        return keys.count
    }

    /// Imports a bundle made by `exportPublicKeys`: every entry is validated
    /// first, then all keys go in one transaction (all or nothing). Keys already
    /// present with the same certificate are left alone, so importing twice
    /// changes nothing. Returns (added, unchanged).
    @discardableResult
    public func importPublicKeys(from path: String) throws -> (added: Int, unchanged: Int) {
        let files = try TarBundle.read(path)
        var byPath: [String: [UInt8]] = [:]
        for file in files {
            if byPath[file.path] != nil { throw KeystoreError("\(path): duplicate entry \"\(file.path)\"") }
            byPath[file.path] = file.bytes
        }
        guard let indexBytes = byPath["index.json"] else {
            throw KeystoreError("\(path): no index.json: not a smimegate key bundle")
        }
        let index: BundleIndex
        do {
            index = try JSONDecoder().decode(BundleIndex.self, from: Data(indexBytes))
        } catch {
            throw KeystoreError("\(path): index.json is not a valid key bundle index")
        }
        guard index.format == BundleIndex.currentFormat else {
            throw KeystoreError("\(path): unknown bundle format \"\(index.format)\"")
        }
        let listed = Set(index.keys.map(\.file))
        if let stray = byPath.keys.first(where: { $0 != "index.json" && !listed.contains($0) }) {
            throw KeystoreError("\(path): entry \"\(stray)\" is not in the index")
        }
        var seen = Set<String>()
        let keys: [(String, Certificate)] = try index.keys.map { entry in
            guard Keystore.validName(entry.name), seen.insert(entry.name).inserted else {
                throw KeystoreError("\(path): invalid or duplicate key name \"\(entry.name)\"")
            }
            guard let bytes = byPath[entry.file] else { throw KeystoreError("\(path): \(entry.file) is missing") }
            let certificates: [Certificate]
            do { certificates = try Certificate.parseAll(bytes) } catch {
                throw KeystoreError("\(path): \(entry.file) is not a certificate")
            }
            guard certificates.count == 1, certificates[0].sha256Fingerprint == entry.sha256 else {
                throw KeystoreError("\(path): \(entry.file) does not match its SHA-256 in the index")
            }
            return (entry.name, certificates[0])
        }
        return try db.transaction {
            var added = 0
            var unchanged = 0
            for (name, certificate) in keys {
                if let existing = try db.query("SELECT fingerprint FROM public_keys WHERE name = ?", [.text(name)])
                    .first
                {
                    guard existing[0] == certificate.sha256Fingerprint else {
                        throw KeystoreError(
                            "\(path): a different public key named \"\(name)\" already exists; nothing imported")
                    }
                    unchanged += 1
                } else {
                    try insertPublicKey(name: name, certificate: certificate, source: "bundle")
                    added += 1
                }
            }
            return (added, unchanged)
        }
    }

    public func publicKey(named name: String) throws -> Certificate {
        guard
            let pem = try db.query("SELECT certificate_pem FROM public_keys WHERE name = ?", [.text(name)]).first?.first
                ?? nil
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
        try recipientDirectory(at: time).certificate(for: address)
    }

    /// Every public key, indexed for lookups during a run (loaded once).
    /// Every public key, then the verified harvested certificates (SPEC F24), indexed for lookups during a run.
    public func recipientDirectory(at time: Date = Date()) throws -> RecipientDirectory {
        RecipientDirectory(try publicKeys().map(\.certificate), harvested: HarvestedIndex(self), at: time)
    }

    // MARK: Trusted CAs

    /// Adds CA certificates; returns how many were new.
    @discardableResult
    /// With `anchors: false`, known intermediates: issuers to build paths and check CRLs with, trusted only
    /// through an anchor. A certificate already stored keeps its kind.
    public func addCertificateAuthorities(_ certificates: [Certificate], anchors: Bool = true) throws -> Int {
        try db.transaction {
            var added = 0
            for certificate in certificates {
                let fingerprint = certificate.sha256Fingerprint
                if try db.query("SELECT 1 FROM ca_certificates WHERE fingerprint = ?", [.text(fingerprint)]).isEmpty {
                    try db.query(
                        "INSERT INTO ca_certificates (fingerprint, subject, certificate_pem, added_at, anchor) "
                            + "VALUES (?, ?, ?, ?, ?)",
                        [
                            .text(fingerprint), .text(certificate.subject), .text(certificate.pem),
                            .text(Keystore.now()), .int(anchors ? 1 : 0),
                        ])
                    added += 1
                }
            }
            return added
        }
    }

    /// Removes trusted CAs whose SHA-256 fingerprint starts with `fingerprint`
    /// (at least 8 hex digits) or whose subject equals it. Returns how many.
    @discardableResult
    public func removeCertificateAuthorities(matching selector: String) throws -> Int {
        let lowered = selector.lowercased().replacingOccurrences(of: ":", with: "")
        return try db.transaction {
            let rows = try db.query("SELECT fingerprint, subject FROM ca_certificates")
            let doomed = rows.filter { row in
                (lowered.count >= 8 && (row[0] ?? "").hasPrefix(lowered)) || row[1] == selector
            }.compactMap { $0[0] }
            for fingerprint in doomed {
                try db.query("DELETE FROM ca_certificates WHERE fingerprint = ?", [.text(fingerprint)])
            }
            return doomed.count
        }
    }

    /// The trust anchors (not the known intermediates).
    public func certificateAuthorities() throws -> [Certificate] {
        try db.query("SELECT certificate_pem FROM ca_certificates WHERE anchor = 1 ORDER BY subject").map {
            try Certificate(bytes: Array(($0[0] ?? "").utf8))
        }
    }

    // MARK: Sending profiles (F7)

    /// Stores a profile definition (JSON from the Policy module) under `name`.
    public func saveProfile(name: String, definition: String, replace: Bool) throws {
        try db.transaction {
            let exists = try !db.query("SELECT 1 FROM profiles WHERE name = ?", [.text(name)]).isEmpty
            if exists && !replace { throw KeystoreError("a profile named \"\(name)\" already exists") }
            if !exists && replace { throw KeystoreError("no profile named \"\(name)\" (see 'smimegate profile list')") }
            try db.query(
                Self.upsertProfile,
                [.text(name), .text(definition), .text(Keystore.now())])
        }
    }

    /// Stores several profiles in one transaction (all or nothing), replacing same-named ones.
    public func saveProfiles(_ profiles: [(name: String, definition: String)]) throws {
        try db.transaction {
            for (name, definition) in profiles {
                try db.query(
                    Self.upsertProfile,
                    [.text(name), .text(definition), .text(Keystore.now())])
            }
        }
    }

    /// The stored definition, or nil when there is no profile of that name.
    public func profileDefinition(named name: String) throws -> String? {
        try db.query("SELECT definition FROM profiles WHERE name = ?", [.text(name)]).first?.first ?? nil
    }

    public func profileDefinitions() throws -> [(name: String, definition: String)] {
        try db.query("SELECT name, definition FROM profiles ORDER BY name").map { ($0[0] ?? "", $0[1] ?? "") }
    }

    /// Removes a profile; false when there was none of that name (the caller says so in its own words).
    @discardableResult
    public func deleteProfile(named name: String) throws -> Bool {
        try db.transaction {
            if try db.query("SELECT 1 FROM profiles WHERE name = ?", [.text(name)]).isEmpty { return false }
            try db.query("DELETE FROM profiles WHERE name = ?", [.text(name)])
            return true
        }
    }

    private static let upsertProfile =
        "INSERT INTO profiles (name, definition, updated_at) VALUES (?, ?, ?) "
        + "ON CONFLICT (name) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at"

    static func validName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 128
            && name.unicodeScalars.allSatisfy {
                CharacterSet.alphanumerics.contains($0) || "._-@+".unicodeScalars.contains($0)
            }
    }
}

extension Keystore {
    /// What the database's own check finds wrong (SQLite: `PRAGMA integrity_check`): empty when fine.
    public func integrityProblems() throws -> [String] { try db.integrityProblems() }
}
