import CMS

/// What a home stores to recognise its passphrase without holding it: a random
/// salt and PBKDF2-HMAC-SHA-256 of the passphrase (RFC 8018 §5.2), as the text
/// `pbkdf2-sha256$ITERATIONS$SALT$HASH` (salt and hash in hex).
///
/// It lets the keystore refuse a missing or wrong passphrase before a private key
/// is stored under it or read with it. The iteration count is far above the
/// one OpenSSL uses for the PKCS #8 keys themselves, so the verifier is never
/// the cheaper way to guess the passphrase.
struct PassphraseVerifier: Equatable {
    static let scheme = "pbkdf2-sha256"
    /// OWASP's 2023 figure for PBKDF2-HMAC-SHA-256; about 0.2 s per check.
    static let defaultIterations = 600_000

    let iterations: Int
    let salt: [UInt8]
    let hash: [UInt8]

    /// A verifier for `passphrase` with a new random salt.
    init(passphrase: [UInt8], iterations: Int = PassphraseVerifier.defaultIterations) throws {
        let salt = try KeyDerivation.randomBytes(16)
        self.iterations = iterations
        self.salt = salt
        self.hash = try KeyDerivation.pbkdf2HMACSHA256(
            passphrase: passphrase, salt: salt, iterations: iterations, length: 32)
    }

    /// Parses the stored text; nil when it is not a verifier this version understands.
    init?(encoded: String) {
        let parts = encoded.split(separator: "$", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == PassphraseVerifier.scheme, let iterations = Int(parts[1]), iterations >= 1,
            let salt = PassphraseVerifier.bytes(hex: parts[2]), let hash = PassphraseVerifier.bytes(hex: parts[3]),
            !salt.isEmpty, !hash.isEmpty
        else { return nil }
        self.iterations = iterations
        self.salt = salt
        self.hash = hash
    }

    var encoded: String {
        [PassphraseVerifier.scheme, String(iterations), PassphraseVerifier.hex(salt), PassphraseVerifier.hex(hash)]
            .joined(separator: "$")
    }

    /// True when `passphrase` is the one this verifier was made from (compared in constant time).
    func matches(_ passphrase: [UInt8]) throws -> Bool {
        let candidate = try KeyDerivation.pbkdf2HMACSHA256(
            passphrase: passphrase, salt: salt, iterations: iterations, length: hash.count)
        return zip(candidate, hash).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } == 0
    }

    private static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef")
        return String(bytes.flatMap { [digits[Int($0 >> 4)], digits[Int($0 & 15)]] })
    }

    private static func bytes(hex: Substring) -> [UInt8]? {
        let nibbles = hex.compactMap(\.hexDigitValue)
        guard nibbles.count == hex.count, nibbles.count % 2 == 0 else { return nil }
        return stride(from: 0, to: nibbles.count, by: 2).map { UInt8(nibbles[$0] << 4 | nibbles[$0 + 1]) }
    }
}
