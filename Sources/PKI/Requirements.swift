import CMS
import Foundation

/// Certificate requirements for S/MIME (SPEC F18, RFC 8550 §4.4): what a
/// certificate must allow before the gateway signs, encrypts or trusts with it.
/// Each check returns the reasons it fails, in words an operator can act on.
public enum Requirements {
    /// Problems that stop the gateway signing with `certificate` at `time`
    /// (SPEC F18: digitalSignature *and* nonRepudiation when keyUsage is present).
    public static func signingProblems(_ certificate: Certificate, at time: Date = Date()) -> [String] {
        var problems = validityProblems(certificate, at: time)
        if let usage = certificate.keyUsage {
            let missing = [(KeyUsage.digitalSignature, "digitalSignature"), (.nonRepudiation, "nonRepudiation")]
                .filter { !usage.contains($0.0) }.map(\.1)
            if !missing.isEmpty { problems.append("keyUsage lacks \(missing.joined(separator: " and "))") }
        }
        if !certificate.extendedKeyUsage.emailProtection {
            problems.append("extendedKeyUsage lacks emailProtection")
        }
        return problems
    }

    /// Problems that stop a received signature by `certificate` being trusted
    /// (RFC 8550 §4.4.2: digitalSignature *or* nonRepudiation when keyUsage is present).
    public static func signerProblems(_ certificate: Certificate, at time: Date = Date()) -> [String] {
        var problems = validityProblems(certificate, at: time)
        if let usage = certificate.keyUsage, !usage.contains(.digitalSignature), !usage.contains(.nonRepudiation) {
            problems.append("keyUsage lacks digitalSignature and nonRepudiation")
        }
        if !certificate.extendedKeyUsage.emailProtection {
            problems.append("extendedKeyUsage lacks emailProtection")
        }
        return problems
    }

    /// Problems that stop mail being encrypted to `certificate` at `time`.
    public static func encryptionProblems(_ certificate: Certificate, at time: Date = Date()) -> [String] {
        var problems = validityProblems(certificate, at: time)
        let algorithm = certificate.publicKey.algorithm
        if let usage = certificate.keyUsage {
            if algorithm == "EC" {
                if !usage.contains(.keyAgreement) { problems.append("keyUsage lacks keyAgreement") }
            } else if !usage.contains(.keyEncipherment) {
                problems.append("keyUsage lacks keyEncipherment")
            }
        }
        if algorithm != "RSA" && algorithm != "EC" {
            problems.append("\(algorithm) keys cannot receive encrypted mail")
        }
        if !certificate.extendedKeyUsage.emailProtection {
            problems.append("extendedKeyUsage lacks emailProtection")
        }
        return problems
    }

    public static func validityProblems(_ certificate: Certificate, at time: Date) -> [String] {
        if time > certificate.notAfter { return ["certificate expired on \(day(certificate.notAfter))"] }
        if time < certificate.notBefore { return ["certificate not valid before \(day(certificate.notBefore))"] }
        return []
    }

    public static func day(_ date: Date) -> String {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss 'UTC'"
        return f.string(from: date)
    }
}

/// Whether a certificate speaks for an address (RFC 8550 §3 and SPEC F18):
/// an rfc822Name (or legacy emailAddress) equal to the address, or a dNSName
/// for its domain — `example.com` covers `u@example.com`, `*.example.net`
/// covers `u@mx.example.net` (one label, RFC 6125 §6.4.3).
public enum AddressMatch {
    public static func emailCovers(_ certificate: Certificate, _ address: String) -> Bool {
        certificate.emailAddresses.contains { sameAddress($0, address) }
    }

    public static func domainCovers(_ certificate: Certificate, _ address: String) -> Bool {
        guard let domain = CMS.addressDomain(address) else { return false }
        return certificate.dnsNames.contains { domainMatches(pattern: $0, domain: domain) }
    }

    public static func covers(_ certificate: Certificate, _ address: String) -> Bool {
        emailCovers(certificate, address) || domainCovers(certificate, address)
    }

    /// Local parts compare exactly, domains case-insensitively (RFC 5321 §2.4);
    /// in practice clients compare the whole address case-insensitively, and so do we.
    public static func sameAddress(_ a: String, _ b: String) -> Bool { a.lowercased() == b.lowercased() }

    public static func domainMatches(pattern: String, domain: String) -> Bool {
        // Without Foundation's CharacterSet: building one per call cost ~34k instructions (callgrind).
        func trimmed(_ name: String) -> Substring {
            let lower = name.lowercased()
            let start = lower.firstIndex { $0 != "." } ?? lower.endIndex
            let end = lower.lastIndex { $0 != "." }.map { lower.index(after: $0) } ?? start
            return lower[start..<max(start, end)]
        }
        let pattern = trimmed(pattern)
        let domain = trimmed(domain)
        if pattern.hasPrefix("*.") {
            let suffix = pattern.dropFirst(1)  // ".example.net"
            guard domain.hasSuffix(suffix) else { return false }
            let label = domain.dropLast(suffix.count)
            return !label.isEmpty && !label.contains { $0 == "." }
        }
        return pattern == domain
    }
}

extension CMS {
    /// The domain part of an address, lower-cased.
    public static func addressDomain(_ address: String) -> String? {
        address.lastIndex(of: "@").map { address[address.index(after: $0)...].lowercased() }
    }
}
