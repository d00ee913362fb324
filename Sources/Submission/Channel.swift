import CMS
import FileIO

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP connection to an SMTP server (or an HTTP one, HTTPClient.swift), plain or (after
/// `startTLS`) over TLS, with a line reader. Every connect, read and write is bounded by `timeout` seconds.
final class Channel {
    private let fd: Int32
    private var tls: TLSConnection?
    private var buffer: [UInt8] = []
    private var start = 0
    let peer: String
    /// When the reply being read must be complete: each read waits only for what is left of it,
    /// so a server that drips a byte at a time cannot hold a worker beyond it.
    var deadline: ContinuousClock.Instant?

    /// The longest reply line accepted (RFC 5321 §4.5.3.1.5 allows 512 octets; servers send longer).
    static let maximumLine = 65_536

    private init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
    }

    deinit {
        tls = nil
        close(fd)
    }

    /// Connects to the first address of `host` that answers within `timeout` seconds.
    static func connect(host: String, port: UInt16, timeout: Double) throws -> Channel {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let looked = getaddrinfo(host, String(port), &hints, &list)
        guard looked == 0, let list else {
            throw SMTPError.connection("\(host): cannot resolve (\(String(cString: gai_strerror(looked))))")
        }
        defer { freeaddrinfo(list) }
        var failures: [String] = []
        var entry: UnsafeMutablePointer<addrinfo>? = list
        while let address = entry {
            entry = address.pointee.ai_next
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else {
                failures.append(errorText(errno))
                continue
            }
            if let problem = connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen, timeout: timeout) {
                failures.append(problem)
                close(fd)
                continue
            }
            var limit = timeval(tv_sec: Int(timeout), tv_usec: Int((timeout - Double(Int(timeout))) * 1e6))
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
            var one: Int32 = 1
            setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            return Channel(fd: fd, peer: "\(host) port \(port)")
        }
        let reasons = Array(Set(failures)).sorted().joined(separator: "; ")
        throw SMTPError.connection("\(host) port \(port): cannot connect (\(reasons))")
    }

    /// A non-blocking connect bounded by `timeout`; nil on success, else the reason.
    private static func connect(
        _ fd: Int32, _ address: UnsafeMutablePointer<sockaddr>, _ length: socklen_t, timeout: Double
    ) -> String? {
        let flags = fcntl(fd, F_GETFL)
        _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
        defer { _ = fcntl(fd, F_SETFL, flags) }
        if Glibc.connect(fd, address, length) == 0 { return nil }
        guard errno == EINPROGRESS else { return errorText(errno) }
        var poller = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
        var ready: Int32
        repeat { ready = poll(&poller, 1, Int32(timeout * 1000)) } while ready < 0 && errno == EINTR
        if ready == 0 { return "timed out after \(Int(timeout)) s" }
        var problem: Int32 = 0
        var size = socklen_t(MemoryLayout<Int32>.size)
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &problem, &size)
        return problem == 0 ? nil : errorText(problem)
    }

    /// Switches to TLS (after STARTTLS's 220, or at once for smtps://).
    func startTLS(_ context: TLSContext, host: String) throws {
        buffer.removeAll()  // RFC 3207 §4.2: nothing read before the handshake counts
        start = 0
        do {
            tls = try TLSConnection(context: context, fd: fd, host: host)
        } catch {
            throw SMTPError.connection("\(peer): \(error)")
        }
    }

    var isTLS: Bool { tls != nil }

    func write(_ bytes: [UInt8]) throws {
        if let tls {
            do { try tls.write(bytes) } catch { throw SMTPError.connection("\(peer): \(error)") }
            return
        }
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes {
                send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL))
            }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw SMTPError.connection("\(peer): cannot send (\(Self.describe(errno)))") }
            offset += n
        }
    }

    /// One line without its CRLF (or bare LF).
    func readLine() throws -> String {
        while true {
            if let newline = buffer[start...].firstIndex(of: 10) {
                var end = newline
                if end > start && buffer[end - 1] == 13 { end -= 1 }
                let line = String(decoding: buffer[start..<end], as: UTF8.self)
                start = newline + 1
                if start == buffer.count {
                    buffer.removeAll(keepingCapacity: true)
                    start = 0
                }
                return line
            }
            if buffer.count - start > Self.maximumLine {
                throw SMTPError.connection("\(peer): a reply line longer than \(Self.maximumLine) bytes")
            }
            try fill()
        }
    }

    /// Up to `limit` bytes: what is buffered, else one read; empty at the end of the stream.
    func readSome(limit: Int) throws -> [UInt8] {
        if start == buffer.count, try !fill(endIsError: false) { return [] }
        let end = min(buffer.count, start + limit)
        let bytes = Array(buffer[start..<end])
        start = end
        if start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        return bytes
    }

    private func fill() throws { _ = try fill(endIsError: true) }

    /// Reads once more into the buffer; false at the end of the stream (unless that is an error).
    private func fill(endIsError: Bool) throws -> Bool {
        if start > 0 {
            buffer.removeFirst(start)
            start = 0
        }
        if let deadline {
            let left = deadline - ContinuousClock.now
            guard left > .zero else { throw SMTPError.connection("\(peer): timed out waiting for a reply") }
            let seconds = left.components.seconds
            let micro = max(1000, Int(left.components.attoseconds / 1_000_000_000_000))
            var limit = timeval(tv_sec: Int(seconds), tv_usec: seconds > 0 ? micro % 1_000_000 : micro)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        }
        var chunk = [UInt8](repeating: 0, count: 16_384)
        let n: Int
        if let tls {
            do { n = try chunk.withUnsafeMutableBytes { try tls.read(into: $0) } } catch {
                throw SMTPError.connection("\(peer): \(error)")
            }
        } else {
            var got: Int
            repeat {
                got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            } while got < 0
                && errno == EINTR
            guard got >= 0 else { throw SMTPError.connection("\(peer): cannot read (\(Self.describe(errno)))") }
            n = got
        }
        if n == 0 {
            if endIsError { throw SMTPError.connection("\(peer): the server closed the connection") }
            return false
        }
        buffer += chunk[0..<n]
        return true
    }

    /// Closes TLS politely; the socket closes with the channel.
    func shutdown() { tls?.shutdown() }

    private static func describe(_ code: Int32) -> String {
        code == EAGAIN || code == EWOULDBLOCK ? "timed out" : errorText(code)
    }
}
