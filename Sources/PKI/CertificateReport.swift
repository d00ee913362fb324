import CMS
import Foundation

/// What an operator needs to know about a certificate (`cert show`, `keys show`,
/// `--json` listings), including the SPEC F18 verdicts in words.
public struct CertificateReport: Codable, Sendable {
    public let subject: String
    public let issuer: String
    public let selfSigned: Bool
    public let serial: String
    public let emails: [String]
    public let domains: [String]
    public let keyType: String
    public let keyBits: Int
    public let keyUsage: [String]?
    public let extendedKeyUsageEmailProtection: Bool?
    public let notBefore: String
    public let notAfter: String
    public let sha256: String
    /// Empty when usable; otherwise the reasons.
    public let signingProblems: [String]
    public let encryptionProblems: [String]

    public init(_ certificate: Certificate, at time: Date = Date()) {
        subject = certificate.subject
        issuer = certificate.issuer
        selfSigned = certificate.isSelfSigned
        serial = certificate.serialHex
        emails = certificate.emailAddresses
        domains = certificate.dnsNames
        (keyType, keyBits) = certificate.publicKey
        keyUsage = certificate.keyUsage?.names
        let eku = certificate.extendedKeyUsage
        extendedKeyUsageEmailProtection = eku.present ? eku.emailProtection : nil
        notBefore = Requirements.day(certificate.notBefore)
        notAfter = Requirements.day(certificate.notAfter)
        sha256 = certificate.sha256Fingerprint
        signingProblems = Requirements.signingProblems(certificate, at: time)
        encryptionProblems = Requirements.encryptionProblems(certificate, at: time)
    }

    public static func verdict(_ problems: [String]) -> String {
        problems.isEmpty ? "yes" : "no: " + problems.joined(separator: "; ")
    }

    /// "label: value" lines for a terminal.
    public var lines: [(String, String)] {
        [
            ("subject", subject),
            ("issuer", selfSigned ? "\(issuer) (self-signed)" : issuer),
            ("serial", serial),
            ("SAN e-mails", emails.isEmpty ? "none" : emails.joined(separator: ", ")),
            ("SAN domains", domains.isEmpty ? "none" : domains.joined(separator: ", ")),
            ("key", "\(keyType) \(keyBits) bits"),
            ("key usage", keyUsage.map { $0.joined(separator: ", ") } ?? "not restricted (no keyUsage extension)"),
            (
                "extended key usage",
                extendedKeyUsageEmailProtection.map { $0 ? "emailProtection" : "present, without emailProtection" }
                    ?? "not restricted (no extendedKeyUsage extension)"
            ),
            ("valid", "\(notBefore) to \(notAfter)"),
            ("SHA-256", sha256),
            ("usable for signing", Self.verdict(signingProblems)),
            ("usable for encryption", Self.verdict(encryptionProblems)),
        ]
    }
}
