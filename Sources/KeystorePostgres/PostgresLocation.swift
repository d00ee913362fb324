import FileIO
import Foundation
import Keystore

/// A `--keystore postgresql://USER@HOST:PORT/DB?sslmode=…` URL, read as libpq reads one, with libpq's
/// environment defaults (PGHOST, PGPORT, PGUSER, PGDATABASE, PGSSLMODE, PGSSLROOTCERT) and its password
/// sources: PGPASSWORD, else the matching line of PGPASSFILE or ~/.pgpass (ignored unless 0600, as libpq
/// does). A password in the URL itself is refused: URLs end up in argv, process listings and logs.
public struct PostgresLocation: Sendable, Equatable {
    public enum SSLMode: String, Sendable, CaseIterable {
        case disable, allow, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public var host: String
    public var port: Int
    public var user: String
    public var database: String
    public var sslMode: SSLMode
    /// verify-ca / verify-full: the CA file to trust ("system": the system's trust store).
    public var sslRootCert: String?
    /// A client certificate and key, for servers that ask for one (`hostssl … cert`).
    public var sslCert: String?
    public var sslKey: String?
    public var connectTimeout: Int

    /// Whether `host` is a Unix socket directory (a host starting with "/").
    public var isSocket: Bool { host.hasPrefix("/") }

    /// The URL without any secret: what messages and `doctor` show.
    public var description: String {
        let hostPart = isSocket ? "" : host.contains(":") ? "[\(host)]" : host
        let socket = isSocket ? "?host=\(host)" : ""
        return "postgresql://\(user)@\(hostPart):\(port)/\(database)\(socket)"
    }

    public init(url text: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        func fail(_ reason: String) -> KeystoreError { KeystoreError("--keystore \(Self.redacted(text)): \(reason)") }
        guard let components = URLComponents(string: text), ["postgresql", "postgres"].contains(components.scheme)
        else { throw fail("not a postgresql:// URL") }
        if components.password != nil {
            throw fail(
                "a password in the URL is refused (it would show in process listings): put it in ~/.pgpass, "
                    + "PGPASSFILE or PGPASSWORD")
        }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] {
            guard let value = item.value else { throw fail("parameter \(item.name) has no value") }
            query[item.name] = value
        }
        let known: Set = ["sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "host", "port"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail("unknown parameter \(unknown) (known: \(known.sorted().joined(separator: ", ")))")
        }
        func nonEmpty(_ value: String?) -> String? { value.flatMap { $0.isEmpty ? nil : $0 } }
        host =
            nonEmpty(query["host"]) ?? nonEmpty(components.percentEncodedHost?.removingPercentEncoding)
            ?? nonEmpty(environment["PGHOST"]) ?? "localhost"
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let portText = query["port"] ?? components.port.map(String.init) ?? nonEmpty(environment["PGPORT"]) ?? "5432"
        guard let port = Int(portText), (1...65535).contains(port) else { throw fail("port \(portText) is not a port") }
        self.port = port
        user =
            nonEmpty(components.user?.removingPercentEncoding) ?? nonEmpty(environment["PGUSER"])
            ?? nonEmpty(environment["USER"]) ?? "postgres"
        let path = String(components.path.drop { $0 == "/" })
        database =
            nonEmpty(path.removingPercentEncoding) ?? nonEmpty(environment["PGDATABASE"]) ?? user
        let modeText = query["sslmode"] ?? nonEmpty(environment["PGSSLMODE"]) ?? "prefer"
        guard let mode = SSLMode(rawValue: modeText) else {
            throw fail(
                "sslmode=\(modeText) is not one of \(SSLMode.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        sslMode = mode
        sslRootCert = query["sslrootcert"] ?? nonEmpty(environment["PGSSLROOTCERT"])
        sslCert = query["sslcert"]
        sslKey = query["sslkey"]
        if (sslCert == nil) != (sslKey == nil) { throw fail("sslcert and sslkey go together") }
        let timeout = query["connect_timeout"] ?? "10"
        guard let seconds = Int(timeout), seconds > 0 else { throw fail("connect_timeout=\(timeout) is not seconds") }
        connectTimeout = seconds
        if isSocket && [.require, .verifyCA, .verifyFull].contains(sslMode) {
            throw fail("sslmode=\(sslMode.rawValue) over a Unix socket: TLS runs over TCP only")
        }
    }

    /// The password libpq would send: PGPASSWORD, else the first matching line of the password file.
    public func password(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> String? {
        if let password = environment["PGPASSWORD"], !password.isEmpty { return password }
        let file =
            environment["PGPASSFILE"].flatMap { $0.isEmpty ? nil : $0 }
            ?? environment["HOME"].map { $0 + "/.pgpass" } ?? NSHomeDirectory() + "/.pgpass"
        var info = stat()
        guard stat(file, &info) == 0 else { return nil }
        if info.st_mode & 0o077 != 0 {
            throw KeystoreError(
                "\(file): a password file must not be readable by group or others (chmod 0600 \(file))")
        }
        guard let data = FileSystem.contents(of: file) else {
            throw KeystoreError("\(file): cannot read the password file")
        }
        let hostName = isSocket ? "localhost" : host
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            if line.hasPrefix("#") { continue }
            let fields = Self.passFields(String(line))
            guard fields.count == 5 else { continue }
            let wanted = [hostName, String(port), database, user]
            if zip(fields.prefix(4), wanted).allSatisfy({ $0 == "*" || $0 == $1 }) { return fields[4] }
        }
        return nil
    }

    /// A .pgpass line's fields: split at ":", with "\:" and "\\" escaping.
    static func passFields(_ line: String) -> [String] {
        var fields: [String] = []
        var field = ""
        var escaped = false
        for character in line {
            if escaped {
                field.append(character)
                escaped = false
            } else if character == "\\" {
                escaped = true
            } else if character == ":" && fields.count < 4 {
                fields.append(field)
                field = ""
            } else {
                field.append(character)
            }
        }
        fields.append(field)
        return fields
    }

    /// The URL with whatever stands before an "@" of its authority replaced (a user and maybe a password),
    /// for an error message about the URL itself: read by hand, since a URL Foundation cannot parse may
    /// still hold a password.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://") else { return "the --keystore URL" }
        let rest = text[scheme.upperBound...]
        let authority = rest.prefix { $0 != "/" && $0 != "?" }
        guard let at = authority.lastIndex(of: "@") else { return text }
        return String(text[..<scheme.upperBound]) + "…" + String(text[at...])
    }
}
