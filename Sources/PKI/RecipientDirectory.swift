import CMS
import Foundation
import Synchronization

/// Partners' public keys indexed once per run for recipient lookup (SPEC F18,
/// F19): exact SAN e-mail first, then SAN domain (wildcards included); only
/// certificates valid at `time` and usable for encryption; the latest notAfter wins.
/// Harvested certificates (SPEC F24) come after the added keys: used only for an
/// address no added key serves, the newest valid one first; the directory notes
/// which it chose, so their last use is recorded (the LRU order of F23).
public struct RecipientDirectory: Sendable {
    private let added: Tier
    private let harvested: Tier
    /// Harvested certificates' SMIMECapabilities, by fingerprint.
    private let capabilities: [String: [String]]
    private let used: UsedCertificates
    public let time: Date

    public init(
        _ certificates: [Certificate], harvested: [(certificate: Certificate, capabilities: [String])] = [],
        at time: Date = Date()
    ) {
        self.added = Tier(certificates)
        // A harvested certificate speaks for its own e-mail addresses only: its dNSName entries (a partner's
        // `*.com`) are nobody's word that it may receive a whole domain's mail.
        self.harvested = Tier(harvested.map(\.certificate), domains: false)
        self.capabilities = Dictionary(
            harvested.map { ($0.certificate.sha256Fingerprint, $0.capabilities) }, uniquingKeysWith: { a, _ in a })
        self.used = UsedCertificates()
        self.time = time
    }

    public func certificate(for address: String) -> Certificate? {
        if let certificate = added.choose(for: address, at: time) { return certificate }
        guard let certificate = harvested.choose(for: address, at: time) else { return nil }
        used.note(certificate.sha256Fingerprint)
        return certificate
    }

    /// The content ciphers a harvested certificate's owner announced; nil for an added key (unknown).
    public func announcedCiphers(of certificate: Certificate) -> [String]? {
        capabilities[certificate.sha256Fingerprint]
    }

    /// Fingerprints of the harvested certificates chosen so far.
    public var usedHarvested: Set<String> { used.all }

    private struct Tier: Sendable {
        let byEmail: [String: [Certificate]]
        let byDomain: [(pattern: String, certificate: Certificate)]

        init(_ certificates: [Certificate], domains: Bool = true) {
            var byEmail: [String: [Certificate]] = [:]
            var byDomain: [(String, Certificate)] = []
            for certificate in certificates {
                for email in Set(certificate.emailAddresses.map { $0.lowercased() }) {
                    byEmail[email, default: []].append(certificate)
                }
                guard domains else { continue }
                for domain in Set(certificate.dnsNames.map { $0.lowercased() }) {
                    byDomain.append((domain, certificate))
                }
            }
            self.byEmail = byEmail
            self.byDomain = byDomain
        }

        func choose(for address: String, at time: Date) -> Certificate? {
            let lowered = address.lowercased()
            var candidates = byEmail[lowered] ?? []
            if let domain = CMS.addressDomain(lowered) {
                candidates += byDomain.filter { AddressMatch.domainMatches(pattern: $0.pattern, domain: domain) }.map(
                    \.certificate)
            }
            return RecipientSelection.choose(for: address, among: candidates, at: time)
        }
    }

    private final class UsedCertificates: Sendable {
        private let fingerprints = Mutex<Set<String>>([])
        func note(_ fingerprint: String) { _ = fingerprints.withLock { $0.insert(fingerprint) } }
        var all: Set<String> { fingerprints.withLock { $0 } }
    }
}
