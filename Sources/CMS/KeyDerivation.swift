import COpenSSL

/// Password-based key derivation (PBKDF2, RFC 8018 §5.2) and random salts,
/// from OpenSSL — the home passphrase check of the keystore is built on these.
public enum KeyDerivation {
    /// PBKDF2 with HMAC-SHA-256 (RFC 8018 §5.2, RFC 7914 test vectors §11).
    public static func pbkdf2HMACSHA256(passphrase: [UInt8], salt: [UInt8], iterations: Int, length: Int) throws
        -> [UInt8]
    {
        guard iterations >= 1, iterations <= Int(Int32.max), length >= 1, length <= 1024 else {
            throw OpenSSLError(operation: "PBKDF2", reasons: ["iterations or length out of range"])
        }
        OpenSSLError.clear()
        var output = [UInt8](repeating: 0, count: length)
        let ok = passphrase.withUnsafeBufferPointer { pass in
            salt.withUnsafeBufferPointer { salt in
                pass.withMemoryRebound(to: CChar.self) { pass in
                    PKCS5_PBKDF2_HMAC(
                        pass.baseAddress, Int32(pass.count), salt.baseAddress, Int32(salt.count), Int32(iterations),
                        EVP_sha256(), Int32(length), &output)
                }
            }
        }
        guard ok == 1 else { throw OpenSSLError.drain("PBKDF2") }
        return output
    }

    /// `count` bytes from OpenSSL's CSPRNG, for salts.
    public static func randomBytes(_ count: Int) throws -> [UInt8] {
        OpenSSLError.clear()
        var bytes = [UInt8](repeating: 0, count: count)
        guard RAND_bytes(&bytes, Int32(count)) == 1 else { throw OpenSSLError.drain("random bytes") }
        return bytes
    }
}
