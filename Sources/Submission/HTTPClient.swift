import Foundation

/// An HTTP/1.1 client for what trust needs from the network (RFC 9110/9112): CRLs from their
/// distribution points and OCSP answers (RFC 6960 appendix A), both over plain http:// as RFC 5280
/// and RFC 5019 expect (the data is signed). One request per connection (`Connection: close`);
/// the whole exchange is bounded by `timeout` seconds and the body by `maximumBody` bytes. Failures
/// do not repeat the URL: the caller names it.
public enum HTTPClient {
    public struct Response: Sendable {
        public let status: Int
        /// Header fields by lower-cased name (the last one of a name wins).
        public let headers: [String: String]
        public let body: [UInt8]
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    static let maximumHeaderFields = 200

    public static func request(
        _ method: String, url: String, headers: [(String, String)] = [], body: [UInt8]? = nil, timeout: Double = 15,
        maximumBody: Int = 20 * 1_048_576
    ) throws -> Response {
        guard let parts = URLComponents(string: url), parts.scheme?.lowercased() == "http", var host = parts.host,
            !host.isEmpty
        else { throw Failure("not an http:// URL") }
        if parts.user != nil || parts.password != nil { throw Failure("credentials in the URL are not supported") }
        // URLComponents gives no port for one beyond Int's range: a port written but not read is refused.
        let authority = url.drop { $0 != "/" }.dropFirst(2).prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        let written = authority.split(separator: "]").last.map { $0.contains(":") } ?? false
        guard let port = UInt16(exactly: parts.port ?? 80), port > 0, parts.port != nil || !written else {
            throw Failure("not a TCP port in the URL")
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }  // IPv6 literal
        let path =
            (parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath)
            + (parts.percentEncodedQuery.map { "?" + $0 } ?? "")
        do {
            let channel = try Channel.connect(host: host, port: port, timeout: timeout)
            channel.deadline = .now + .milliseconds(Int(timeout * 1000))
            var head = "\(method) \(path) HTTP/1.1\r\nHost: \(host)\(parts.port.map { ":\($0)" } ?? "")\r\n"
            head += "User-Agent: smimegate\r\nConnection: close\r\n"
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            if let body { head += "Content-Length: \(body.count)\r\n" }
            try channel.write(Array((head + "\r\n").utf8) + (body ?? []))
            let statusLine = try channel.readLine()
            let fields = statusLine.split(separator: " ", maxSplits: 2)
            guard fields.count >= 2, fields[0].hasPrefix("HTTP/1."), let status = Int(fields[1]) else {
                throw Failure("not an HTTP response (\(statusLine.prefix(60)))")
            }
            var received: [String: String] = [:]
            var lines = 0
            while true {
                let line = try channel.readLine()
                if line.isEmpty { break }
                lines += 1
                if lines > maximumHeaderFields { throw Failure("more than \(maximumHeaderFields) header fields") }
                guard let colon = line.firstIndex(of: ":") else { continue }
                let name = line[..<colon].lowercased()
                let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                // RFC 9112 §6.3: differing Content-Length fields are an unrecoverable error.
                if name == "content-length", let earlier = received[name], earlier != value {
                    throw Failure("conflicting Content-Length fields")
                }
                received[name] = value
            }
            let noBody = method == "HEAD" || status == 204 || status == 304 || (100..<200).contains(status)
            let content = noBody ? [] : try readBody(channel, headers: received, maximum: maximumBody)
            channel.shutdown()
            return Response(status: status, headers: received, body: content)
        } catch let error as SMTPError {
            throw Failure("\(error)")
        }
    }

    private static func readBody(_ channel: Channel, headers: [String: String], maximum: Int) throws -> [UInt8] {
        func tooLarge() -> Failure { Failure("the answer is larger than \(maximum) bytes") }
        if headers["transfer-encoding"]?.lowercased().contains("chunked") == true {
            var body: [UInt8] = []
            while true {
                let sizeLine = try channel.readLine()
                guard let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16), size >= 0
                else { throw Failure("a malformed chunk") }
                if size == 0 { break }
                guard size <= maximum - body.count else { throw tooLarge() }
                body += try readExactly(channel, size)
                _ = try channel.readLine()
            }
            return body
        }
        if let text = headers["content-length"] {
            guard let length = Int(text), length >= 0 else { throw Failure("a malformed Content-Length") }
            guard length <= maximum else { throw tooLarge() }
            return try readExactly(channel, length)
        }
        var body: [UInt8] = []
        while true {
            let chunk = try channel.readSome(limit: 65_536)
            if chunk.isEmpty { return body }
            guard chunk.count <= maximum - body.count else { throw tooLarge() }
            body += chunk
        }
    }

    private static func readExactly(_ channel: Channel, _ count: Int) throws -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count)
        while bytes.count < count {
            let chunk = try channel.readSome(limit: count - bytes.count)
            if chunk.isEmpty { throw Failure("the connection closed before the end of the answer") }
            bytes += chunk
        }
        return bytes
    }
}
