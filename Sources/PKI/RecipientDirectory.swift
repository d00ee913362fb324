import CMS
import Foundation
import Locking

/// Where harvested certificates are looked up by e-mail address (SPEC F24): the keystore, asked per
/// address as a run needs one, so a repository of half a million certificates costs nothing at start-up.
public protocol HarvestedCertificates: Sendable {
    /// The verified harvested end-entity certificates whose e-mail SANs name `email` (lower case), each
    /// with the content ciphers its owner announced.
    func certificates(for email: String) -> [(certificate: Certificate, capabilities: [String])]
}

/// Partners' public keys indexed once per run for recipient lookup (SPEC F18,
/// F19): exact SAN e-mail first, then SAN domain (wildcards included); only
/// certificates valid at `time` and usable for encryption; the latest notAfter wins.
/// Harvested certificates (SPEC F24) come after the added keys: used only for an
/// address no added key serves, matched by their e-mail addresses only, the newest
/// valid one first; the directory notes which it chose, so their last use is recorded
/// (the LRU order of F23).
public struct RecipientDirectory: Sendable {
    private let byEmail: [String: [Certificate]]
    private let byDomain: [(pattern: String, certificate: Certificate)]
    private let harvested: (any HarvestedCertificates)?
    private let chosen: ChosenHarvested
    public let time: Date

    public init(_ certificates: [Certificate], harvested: (any HarvestedCertificates)? = nil, at time: Date = Date()) {
        var byEmail: [String: [Certificate]] = [:]
        var byDomain: [(String, Certificate)] = []
        for certificate in certificates {
            for email in Set(certificate.emailAddresses.map { $0.lowercased() }) {
                byEmail[email, default: []].append(certificate)
            }
            for domain in Set(certificate.dnsNames.map { $0.lowercased() }) { byDomain.append((domain, certificate)) }
        }
        self.byEmail = byEmail
        self.byDomain = byDomain
        self.harvested = harvested
        self.chosen = ChosenHarvested()
        self.time = time
    }

    public func certificate(for address: String) -> Certificate? {
        let lowered = address.lowercased()
        var candidates = byEmail[lowered] ?? []
        if let domain = CMS.addressDomain(lowered) {
            candidates += byDomain.filter { AddressMatch.domainMatches(pattern: $0.pattern, domain: domain) }.map(
                \.certificate)
        }
        if let added = RecipientSelection.choose(for: address, among: candidates, at: time) { return added }
        // A harvested certificate speaks for its own e-mail addresses only: its dNSName entries (a partner's
        // `*.com`) are nobody's word that it may receive a whole domain's mail.
        guard let found = harvested?.certificates(for: lowered), !found.isEmpty else { return nil }
        let byAddress = found.filter { AddressMatch.emailCovers($0.certificate, address) }
        guard let certificate = RecipientSelection.choose(for: address, among: byAddress.map(\.certificate), at: time)
        else { return nil }
        let capabilities = byAddress.first { $0.certificate == certificate }?.capabilities ?? []
        chosen.note(certificate.sha256Fingerprint, capabilities)
        return certificate
    }

    /// The content ciphers a harvested certificate's owner announced; nil for an added key (unknown).
    public func announcedCiphers(of certificate: Certificate) -> [String]? {
        chosen.capabilities(of: certificate.sha256Fingerprint)
    }

    /// The AES-GCM cipher the owners of all of `certificates` announced, the strongest first; nil when one
    /// announced none or is an added key (nothing is known of it): then AES-256-CBC, which every client reads.
    public func announcedGCM(for certificates: [Certificate]) -> ContentCipher? {
        let announced = certificates.map { announcedCiphers(of: $0) ?? [] }
        return [ContentCipher.aes256gcm, .aes128gcm].first { gcm in announced.allSatisfy { $0.contains(gcm.rawValue) } }
    }

    /// Fingerprints of the harvested certificates chosen so far.
    public var usedHarvested: Set<String> { chosen.fingerprints }

    /// The harvested certificates chosen in this run, with what their owners announced.
    private final class ChosenHarvested: Sendable {
        private let chosen = Locked<[String: [String]]>([:])
        func note(_ fingerprint: String, _ capabilities: [String]) {
            chosen.withLock { $0[fingerprint] = capabilities }
        }
        func capabilities(of fingerprint: String) -> [String]? { chosen.withLock { $0[fingerprint] } }
        var fingerprints: Set<String> { chosen.withLock { Set($0.keys) } }
    }
}
