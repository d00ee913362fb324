import CMS

/// The home passphrase. A home is either encrypted — it stores a
/// `PassphraseVerifier` in `settings`, and every private key in it is PKCS #8
/// encrypted under that passphrase — or not, and then private keys are
/// protected by file permissions only. The passphrase given to a run is never
/// trusted blindly: storing or reading a private key first checks it against
/// the verifier, so a key is never stored in plaintext, or under a mistyped
/// passphrase, in an encrypted home. Commands that touch no private key (lists,
/// public keys, CAs, profiles) work without it.
extension Keystore {
    /// How the home protects its private keys at rest.
    public enum KeyProtection: Sendable, Equatable {
        /// By file permissions only (home 0700, files 0600).
        case filePermissions
        /// Encrypted with the home passphrase (PKCS #8, AES-256), which the home can check.
        case homePassphrase
    }

    /// What `encryptPrivateKeys()` did.
    public enum HomeEncryption: Sendable, Equatable {
        /// The home now checks the passphrase; `keys` private keys were encrypted by this call.
        case encrypted(keys: Int)
        /// The home was already encrypted with this passphrase and every key in it is encrypted: nothing changed.
        case alreadyEncrypted
    }

    static let verifierSetting = "home_passphrase_verifier"
    static let givePassphrase = "give the home passphrase (--home-passphrase-file FILE or $SMIMEGATE_PASSPHRASE_FILE)"

    public var keyProtection: KeyProtection {
        get throws { try storedVerifier() == nil ? .filePermissions : .homePassphrase }
    }

    /// True when this run was given a home passphrase (checked or not).
    public var hasPassphrase: Bool { passphrase != nil }

    /// How many organisation certificates (each with its private key) the home holds.
    public func privateKeyCount() throws -> Int {
        let count = try db.query("SELECT COUNT(*) FROM certificates").first?.first ?? nil
        return Int(count ?? "0") ?? 0
    }

    /// Fails, with an error of kind `.passphraseRequired`, `.wrongPassphrase` or
    /// `.homeNotEncrypted`, unless this run may store (`storing`) or read private keys —
    /// for commands that want to know before doing slow work such as generating a key.
    public func checkPrivateKeyAccess(storing: Bool) throws {
        _ = try passphraseForPrivateKeys(storing: storing)
    }

    /// The passphrase to encrypt a new private key with, or to decrypt stored ones
    /// with; nil when the home keeps keys unencrypted.
    func passphraseForPrivateKeys(storing: Bool) throws -> [UInt8]? {
        guard let verifier = try storedVerifier() else {
            if storing && passphrase != nil {
                throw KeystoreError(
                    "this home has no home passphrase: run 'smimegate home encrypt' to set it and encrypt its keys, "
                        + "or give no home passphrase", kind: .homeNotEncrypted)
            }
            // Reading: a home encrypted before homes stored a passphrase check still opens with it.
            return passphrase
        }
        guard let passphrase else {
            throw KeystoreError(
                "this home encrypts private keys: \(Keystore.givePassphrase)", kind: .passphraseRequired)
        }
        if !passphraseVerified {
            guard try verifier.matches(passphrase) else {
                throw KeystoreError("wrong home passphrase", kind: .wrongPassphrase)
            }
            passphraseVerified = true
        }
        return passphrase
    }

    /// Encrypts every unencrypted private key with this run's passphrase and stores
    /// the passphrase check, in one transaction (all or nothing). Keys already
    /// encrypted (a home set up before homes stored the check) must open with the
    /// passphrase. A home already encrypted accepts only its own passphrase;
    /// changing the passphrase is not supported.
    public func encryptPrivateKeys() throws -> HomeEncryption {
        guard let passphrase else {
            throw KeystoreError(
                "give the new home passphrase with --home-passphrase-file FILE or $SMIMEGATE_PASSPHRASE_FILE",
                kind: .passphraseRequired)
        }
        return try db.transaction {
            let existing = try storedVerifier()
            if let existing, try !existing.matches(passphrase) {
                throw KeystoreError(
                    "this home is already encrypted with another passphrase (wrong home passphrase)",
                    kind: .wrongPassphrase)
            }
            var encrypted = 0
            for row in try db.query("SELECT name, key_pem, key_encrypted FROM certificates ORDER BY name") {
                let name = row[0] ?? ""
                let pem = Array((row[1] ?? "").utf8)
                if row[2] == "1" {
                    guard (try? PrivateKey(bytes: pem, passphrase: passphrase)) != nil else {
                        throw KeystoreError(
                            "the private key of \"\(name)\" is encrypted with another passphrase; nothing was changed",
                            kind: .wrongPassphrase)
                    }
                    continue
                }
                guard let key = try? PrivateKey(bytes: pem) else {
                    throw KeystoreError("the private key of \"\(name)\" cannot be read; nothing was changed")
                }
                let encryptedPEM = String(decoding: try key.pkcs8PEM(passphrase: passphrase), as: UTF8.self)
                try db.query(
                    "UPDATE certificates SET key_pem = ?, key_encrypted = 1 WHERE name = ?",
                    [.text(encryptedPEM), .text(name)])
                encrypted += 1
            }
            passphraseVerified = true
            if existing != nil { return encrypted == 0 ? .alreadyEncrypted : .encrypted(keys: encrypted) }
            try db.query(
                "INSERT INTO settings (name, value) VALUES (?, ?)",
                [.text(Keystore.verifierSetting), .text(try PassphraseVerifier(passphrase: passphrase).encoded)])
            return .encrypted(keys: encrypted)
        }
    }

    private func storedVerifier() throws -> PassphraseVerifier? {
        guard
            let value = try db.query("SELECT value FROM settings WHERE name = ?", [.text(Keystore.verifierSetting)])
                .first?.first ?? nil
        else { return nil }
        guard let verifier = PassphraseVerifier(encoded: value) else {
            throw KeystoreError("the home passphrase check in this keystore is in an unknown format")
        }
        return verifier
    }
}
