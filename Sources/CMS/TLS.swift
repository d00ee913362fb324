import COpenSSL

#if canImport(Glibc)
    import Glibc
#endif

/// A TLS client configuration (an `SSL_CTX`): TLS 1.2 or later, the peer's certificate
/// verified against the system's CAs or the ones in `caFile`. Built once and shared by
/// every connection of a run.
// Unchecked Sendable: an SSL_CTX is only read once set up; OpenSSL 3 makes SSL_new on a
// shared context thread-safe.
public final class TLSContext: @unchecked Sendable {
    let context: OpaquePointer

    public init(caFile: String? = nil) throws {
        OpenSSLError.clear()
        guard let context = SSL_CTX_new(TLS_client_method()) else { throw OpenSSLError.drain("SSL_CTX_new") }
        self.context = context
        SSL_CTX_set_verify(context, SSL_VERIFY_PEER, nil)
        guard smg_SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION) == 1 else {
            throw OpenSSLError.drain("SSL_CTX_set_min_proto_version")
        }
        if let caFile {
            guard SSL_CTX_load_verify_locations(context, caFile, nil) == 1 else {
                throw OpenSSLError.drain("\(caFile): cannot load the CA certificates")
            }
        } else {
            guard SSL_CTX_set_default_verify_paths(context) == 1 else {
                throw OpenSSLError.drain("cannot load the system CA certificates")
            }
        }
    }

    deinit { SSL_CTX_free(context) }
}

/// One TLS client session over a connected socket the caller owns (`fd`): the handshake
/// verifies the server's certificate and that it names `host` (a DNS name, or an IP address).
/// Reads and writes block, bounded by the socket's SO_RCVTIMEO/SO_SNDTIMEO.
// Unchecked Sendable: used by one thread at a time (a delivery worker), handed over under a lock.
public final class TLSConnection: @unchecked Sendable {
    private let ssl: OpaquePointer

    public init(context: TLSContext, fd: Int32, host: String) throws {
        OpenSSLError.clear()
        guard let ssl = SSL_new(context.context) else { throw OpenSSLError.drain("SSL_new") }
        self.ssl = ssl
        guard SSL_set_fd(ssl, fd) == 1 else { throw OpenSSLError.drain("SSL_set_fd") }
        let isAddress = Self.isIPAddress(host)
        if isAddress {
            guard X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) == 1 else {
                throw OpenSSLError.drain("\(host): not an IP address")
            }
        } else {
            guard smg_SSL_set_tlsext_host_name(ssl, host) == 1, SSL_set1_host(ssl, host) == 1 else {
                throw OpenSSLError.drain("\(host): cannot be checked against the server's certificate")
            }
        }
        let status = SSL_connect(ssl)
        guard status == 1 else {
            let verified = SSL_get_verify_result(ssl)
            if verified != X509_V_OK {
                let reason = X509_verify_cert_error_string(verified).map { String(cString: $0) } ?? "code \(verified)"
                ERR_clear_error()
                throw OpenSSLError(operation: "TLS handshake", reasons: ["the server's certificate: \(reason)"])
            }
            throw failure("TLS handshake", status)
        }
    }

    deinit { SSL_free(ssl) }

    /// The negotiated protocol, e.g. "TLSv1.3".
    public var version: String { String(cString: SSL_get_version(ssl)) }

    /// Writes all of `bytes`.
    public func write(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            OpenSSLError.clear()
            let n = bytes.withUnsafeBytes {
                SSL_write(ssl, $0.baseAddress! + offset, Int32(clamping: bytes.count - offset))
            }
            guard n > 0 else { throw failure("TLS write", n) }
            offset += Int(n)
        }
    }

    /// Reads what is available into `buffer` (up to its capacity); 0 at the end of the stream.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        OpenSSLError.clear()
        let n = SSL_read(ssl, buffer.baseAddress, Int32(clamping: buffer.count))
        if n > 0 { return Int(n) }
        if SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN { return 0 }
        throw failure("TLS read", n)
    }

    /// Sends close_notify, without waiting for the peer's.
    public func shutdown() { _ = SSL_shutdown(ssl) }

    private func failure(_ operation: String, _ status: Int32) -> OpenSSLError {
        let code = errno
        let kind = SSL_get_error(ssl, status)
        var error = OpenSSLError.drain(operation)
        if error.reasons.isEmpty {
            let reason: String
            switch kind {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE: reason = "timed out"
            case SSL_ERROR_SYSCALL:
                reason =
                    code == EAGAIN || code == EWOULDBLOCK
                    ? "timed out" : code == 0 ? "the connection was closed" : String(cString: strerror(code))
            case SSL_ERROR_ZERO_RETURN: reason = "the connection was closed"
            default: reason = "error \(kind)"
            }
            error = OpenSSLError(operation: operation, reasons: [reason])
        }
        return error
    }

    static func isIPAddress(_ host: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
    }
}
