import COpenSSL

/// Owns one OpenSSL memory `BIO` for the duration of a call. Nothing else frees BIOs.
final class MemoryBIO {
    let bio: OpaquePointer

    /// An empty, writable memory BIO.
    init() throws {
        guard let bio = BIO_new(BIO_s_mem()) else { throw OpenSSLError.drain("BIO_new") }
        self.bio = bio
    }

    /// A readable BIO holding a copy of `bytes`. It reports a clean EOF at the end
    /// (a writable memory BIO would report "retry", NOTES-openssl.md).
    convenience init(_ bytes: [UInt8]) throws {
        try self.init()
        if !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { BIO_write(bio, $0.baseAddress, Int32($0.count)) }
            guard written == Int32(bytes.count) else { throw OpenSSLError.drain("BIO_write") }
        }
        _ = smg_BIO_set_mem_eof_return(bio, 0)
    }

    deinit { BIO_free(bio) }

    /// Everything written into the BIO so far.
    var bytes: [UInt8] {
        var pointer: UnsafeMutablePointer<CChar>? = nil
        let length = smg_BIO_get_mem_data(bio, &pointer)
        guard length > 0, let pointer else { return [] }
        return pointer.withMemoryRebound(to: UInt8.self, capacity: length) {
            Array(UnsafeBufferPointer(start: $0, count: length))
        }
    }
}
