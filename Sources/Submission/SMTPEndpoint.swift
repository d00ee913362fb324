/// Where and how to submit mail: `smtp://host[:port]` (plain, port 25),
/// `smtp+starttls://host[:port]` (STARTTLS required, port 587) or `smtps://host[:port]`
/// (TLS from the first byte, port 465). The host may be a name, an IPv4 address, or an
/// IPv6 address in brackets. Credentials never come from the URL.
public struct SMTPEndpoint: Sendable, Equatable, CustomStringConvertible {
    public enum Security: String, Sendable { case plain = "smtp", startTLS = "smtp+starttls", implicitTLS = "smtps" }

    public let security: Security
    public let host: String
    public let port: UInt16

    public init(security: Security, host: String, port: UInt16) {
        (self.security, self.host, self.port) = (security, host, port)
    }

    public init(url: String) throws {
        guard let schemeEnd = url.range(of: "://") else {
            throw SMTPError.usage("\(url): not an SMTP URL (smtp://HOST[:PORT], smtp+starttls://…, smtps://…)")
        }
        guard let security = Security(rawValue: url[..<schemeEnd.lowerBound].lowercased()) else {
            throw SMTPError.usage(
                "\(url): unknown scheme \(url[..<schemeEnd.lowerBound]) (smtp, smtp+starttls or smtps)")
        }
        var rest = url[schemeEnd.upperBound...]
        if rest.hasSuffix("/") { rest = rest.dropLast() }
        if rest.contains("@") { throw SMTPError.usage("\(url): credentials go in --smtp-auth-file, never in the URL") }
        if rest.contains("/") || rest.contains("?") || rest.isEmpty {
            throw SMTPError.usage("\(url): give only the host and port (smtp://HOST[:PORT])")
        }
        var host: Substring
        var portText: Substring?
        if rest.hasPrefix("[") {
            guard let close = rest.firstIndex(of: "]") else { throw SMTPError.usage("\(url): unclosed [ in the host") }
            host = rest[rest.index(after: rest.startIndex)..<close]
            let after = rest[rest.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw SMTPError.usage("\(url): text after the host") }
                portText = after.dropFirst()
            }
        } else if let colon = rest.lastIndex(of: ":") {
            host = rest[..<colon]
            portText = rest[rest.index(after: colon)...]
        } else {
            host = rest
        }
        if host.isEmpty { throw SMTPError.usage("\(url): no host") }
        let port: UInt16
        if let portText {
            guard let value = UInt16(portText), value > 0 else { throw SMTPError.usage("\(url): bad port \(portText)") }
            port = value
        } else {
            port = security == .plain ? 25 : security == .startTLS ? 587 : 465
        }
        self.init(security: security, host: String(host), port: port)
    }

    public var description: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "\(security.rawValue)://\(shown):\(port)"
    }
}

/// AUTH credentials, read from a file (`--smtp-auth-file`): the user name on the first
/// line, the password on the second. The file must not be readable by group or others.
public struct SMTPCredentials: Sendable {
    public let user: String
    let password: String

    public init(user: String, password: String) {
        self.user = user
        self.password = password
    }
}

extension SMTPCredentials: CustomStringConvertible {
    public var description: String { "SMTP credentials for \(user)" }  // never the password
}
