import CMS
import Foundation

/// Partners' public keys indexed once per run for recipient lookup (SPEC F18,
/// F19): exact SAN e-mail first, then SAN domain (wildcards included); only
/// certificates valid at `time` and usable for encryption; the latest notAfter wins.
public struct RecipientDirectory: Sendable {
    private let byEmail: [String: [Certificate]]
    private let byDomain: [(pattern: String, certificate: Certificate)]
    public let time: Date

    public init(_ certificates: [Certificate], at time: Date = Date()) {
        var byEmail: [String: [Certificate]] = [:]
        var byDomain: [(String, Certificate)] = []
        for certificate in certificates {
            for email in Set(certificate.emailAddresses.map { $0.lowercased() }) { byEmail[email, default: []].append(certificate) }
            for domain in Set(certificate.dnsNames.map { $0.lowercased() }) { byDomain.append((domain, certificate)) }
        }
        self.byEmail = byEmail
        self.byDomain = byDomain
        self.time = time
    }

    public func certificate(for address: String) -> Certificate? {
        let lowered = address.lowercased()
        var candidates = byEmail[lowered] ?? []
        if let domain = CMS.addressDomain(lowered) {
            candidates += byDomain.filter { AddressMatch.domainMatches(pattern: $0.pattern, domain: domain) }.map(\.certificate)
        }
        return RecipientSelection.choose(for: address, among: candidates, at: time)
    }
}
