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

    private init(borrowing bio: OpaquePointer) { self.bio = bio }

    deinit { BIO_free(bio) }

    /// Lends `body` a read-only BIO over `bytes` without copying them (BIO_new_mem_buf);
    /// the BIO must not outlive the call.
    static func reading<T>(_ bytes: [UInt8], _ body: (MemoryBIO) throws -> T) throws -> T {
        if bytes.isEmpty { return try body(try MemoryBIO([])) }
        return try bytes.withUnsafeBytes { raw in
            guard let bio = BIO_new_mem_buf(raw.baseAddress, Int32(raw.count)) else { throw OpenSSLError.drain("BIO_new_mem_buf") }
            return try body(MemoryBIO(borrowing: bio))
        }
    }

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
