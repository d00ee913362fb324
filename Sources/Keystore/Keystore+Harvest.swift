import CMS
import Foundation
import Locking
import PKI

/// A certificate found on incoming signed mail, offered to the harvested repository (SPEC F21).
public struct HarvestCandidate: Sendable {
    public let certificate: Certificate
    /// CA certificates that came with it (the message's, or its verified path's): issuers to build
    /// paths with later.
    public let intermediates: [Certificate]
    /// Whether the signature verified and its signer was trusted.
    public let verified: Bool
    /// The content ciphers the signer announced (SMIMECapabilities), strongest first.
    public let capabilities: [String]
    /// Which message brought it (the manifest's input and Message-ID).
    public let message: String

    public init(
        certificate: Certificate, intermediates: [Certificate], verified: Bool, capabilities: [String],
        message: String
    ) {
        self.certificate = certificate
        self.intermediates = intermediates
        self.verified = verified
        self.capabilities = capabilities
        self.message = message
    }
}

/// Which candidates are stored (SPEC F21 options).
public struct HarvestRules: Sendable, Equatable {
    /// `harvest-on-failure`: store the signer of a signature that did not verify, marked unverified.
    public var onFailure = false
    /// `harvest-updated`: store a certificate for an address that already has another one.
    public var updated = false
    /// Store certificates outside their validity period.
    public var expired = false
    /// Store self-signed certificates.
    public var selfSigned = false

    public init(onFailure: Bool = false, updated: Bool = false, expired: Bool = false, selfSigned: Bool = false) {
        self.onFailure = onFailure
        self.updated = updated
        self.expired = expired
        self.selfSigned = selfSigned
    }
}

/// What storing one candidate did.
public struct HarvestResult: Sendable, Equatable {
    public enum Action: String, Sendable {
        /// Stored as a new certificate.
        case stored
        /// Already stored: seen again.
        case seen
        /// Not stored, and why.
        case skipped
    }

    public var action: Action
    public var reason: String?
    /// F22 alerts this certificate raised or renewed.
    public var alerts: [RaisedAlert] = []
    /// How many certificates the cap evicted (F23).
    public var evicted = 0
}

/// An F22 alert: the address or domain, and one line saying what happened.
public struct RaisedAlert: Sendable, Equatable {
    public let name: String
    public let text: String
}

/// One row of the harvested repository, for listings.
public struct HarvestedCertificate: Sendable {
    public let fingerprint: String
    public let certificate: Certificate
    public let isCA: Bool
    public let verified: Bool
    public let capabilities: [String]
    public let firstSeen: String
    public let lastSeen: String
    public let lastUsed: String
    public let message: String
}

/// A stored F22 alert.
public struct HarvestAlert: Sendable, Encodable {
    public let id: Int
    public let raisedAt: String
    public let name: String
    public let fingerprints: [String]
    public let message: String
    public let text: String
}

/// The harvested repository (SPEC F21–F24). Each candidate is stored in one transaction: the
/// certificate and its names, its intermediates, the updates that count towards an alert, the
/// alert, and the eviction that keeps the repository under the cap — so two runs harvesting into
/// one home at once (SQLite WAL, busy timeout) lose nothing and never store a certificate twice.
extension Keystore {
    /// Timestamps of harvest events, to the millisecond, so that least-recently-used order is exact
    /// within one second; one fixed format, so that text order is time order.
    static let alertNamesShown = 5
    static let alertFingerprintsKept = 50

    static func preciseNow(_ date: Date = Date()) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    @discardableResult
    public func harvest(_ candidate: HarvestCandidate, rules: HarvestRules, at time: Date = Date()) throws
        -> HarvestResult
    {
        let certificate = candidate.certificate
        if !candidate.verified && !rules.onFailure {
            return HarvestResult(action: .skipped, reason: "the signature did not verify")
        }
        if !rules.expired && (certificate.notAfter < time || certificate.notBefore > time) {
            return HarvestResult(action: .skipped, reason: "outside its validity period")
        }
        if !rules.selfSigned && certificate.isSelfSigned {
            return HarvestResult(action: .skipped, reason: "self-signed")
        }
        let settings = try globalSettings()
        let now = Keystore.preciseNow(time)
        let fingerprint = certificate.sha256Fingerprint
        return try db.transaction {
            try noteIntermediatesUsed(candidate, now: now)
            if let row = try db.query("SELECT verified FROM harvested WHERE fingerprint = ?", [.text(fingerprint)])
                .first
            {
                // A signature that verifies later makes an unverified harvest usable.
                let verified = row[0] == "1" || candidate.verified
                try db.query(
                    "UPDATE harvested SET last_seen = ?, verified = ? WHERE fingerprint = ?",
                    [.text(now), .int(verified ? 1 : 0), .text(fingerprint)])
                return HarvestResult(action: .seen)
            }
            let emails = Set(certificate.emailAddresses.map { $0.lowercased() })
            var updatedNames: Set<String> = []
            for email in emails where try knownElsewhere(email, except: fingerprint) {
                updatedNames.insert(email)
                if let domain = CMS.addressDomain(email) { updatedNames.insert(domain) }
            }
            var result = HarvestResult(action: .stored)
            result.alerts = try recordUpdates(
                of: updatedNames, fingerprint: fingerprint, message: candidate.message, now: now, time: time,
                window: settings.alertWindowHours)
            if !updatedNames.isEmpty && !rules.updated {
                result.action = .skipped
                result.reason = "an update for an address already known (harvest-updated = no)"
                return result
            }
            try insertHarvested(
                certificate, isCA: false, verified: candidate.verified, capabilities: candidate.capabilities,
                message: candidate.message, now: now)
            try indexNames(of: certificate, in: .harvested, key: fingerprint)
            var stored: Set<String> = [fingerprint]
            for intermediate in candidate.intermediates where intermediate.isCA && !intermediate.isSelfSigned {
                let known = try db.query(
                    "SELECT 1 FROM harvested WHERE fingerprint = ? UNION SELECT 1 FROM ca_certificates "
                        + "WHERE fingerprint = ?",
                    [.text(intermediate.sha256Fingerprint), .text(intermediate.sha256Fingerprint)])
                if known.isEmpty {
                    try insertHarvested(
                        intermediate, isCA: true, verified: candidate.verified, capabilities: [],
                        message: candidate.message, now: now)
                    stored.insert(intermediate.sha256Fingerprint)
                }
            }
            result.evicted = try evict(cap: settings.harvestCap, keeping: stored)
            return result
        }
    }

    /// A verified signature's path was built with these harvested intermediates: their use (F23's LRU).
    private func noteIntermediatesUsed(_ candidate: HarvestCandidate, now: String) throws {
        guard candidate.verified else { return }
        for intermediate in candidate.intermediates where intermediate.isCA {
            try db.query(
                "UPDATE harvested SET last_used = ?, last_seen = ? WHERE fingerprint = ? AND is_ca = 1",
                [.text(now), .text(now), .text(intermediate.sha256Fingerprint)])
        }
    }

    private func insertHarvested(
        _ certificate: Certificate, isCA: Bool, verified: Bool, capabilities: [String], message: String, now: String
    ) throws {
        let formatter = ISO8601DateFormatter()
        try db.query(
            "INSERT INTO harvested (fingerprint, subject, certificate_pem, is_ca, not_before, not_after, verified, "
                + "capabilities, first_seen, last_seen, last_used, message, size) "
                + "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                .text(certificate.sha256Fingerprint), .text(certificate.subject), .text(certificate.pem),
                .int(isCA ? 1 : 0), .text(formatter.string(from: certificate.notBefore)),
                .text(formatter.string(from: certificate.notAfter)), .int(verified ? 1 : 0),
                .text(capabilities.joined(separator: " ")), .text(now), .text(now), .text(now), .text(message),
                .int(Int64(certificate.der.count)),
            ])
    }

    /// Whether another certificate — a verified harvested one or a public key — already speaks for `email`.
    /// One harvested on failure does not: anyone can claim an address, and that claim must not keep the
    /// owner's genuine certificate out (harvest-updated = no) nor count as an update.
    private func knownElsewhere(_ email: String, except fingerprint: String) throws -> Bool {
        try !db.query(
            "SELECT 1 FROM harvested_names n JOIN harvested h ON h.fingerprint = n.fingerprint "
                + "WHERE n.value = ? AND n.kind = 'email' AND n.fingerprint != ? AND h.verified = 1 UNION "
                + "SELECT 1 FROM public_key_names n JOIN public_keys k ON k.name = n.key_name "
                + "WHERE n.value = ? AND n.kind = 'email' AND k.fingerprint != ?",
            [.text(email.lowercased()), .text(fingerprint), .text(email.lowercased()), .text(fingerprint)]
        ).isEmpty
    }

    /// F22: notes that `fingerprint` updates each of `names` (addresses and their domains); an alert for
    /// every name with more than one update within the window — one per name and window, renewed in place
    /// as updates go on, naming the latest few, so a flood of certificates cannot flood the alerts.
    private func recordUpdates(
        of names: Set<String>, fingerprint: String, message: String, now: String, time: Date, window: Int
    ) throws -> [RaisedAlert] {
        let since = Keystore.preciseNow(time.addingTimeInterval(-Double(window) * 3600))
        var alerts: [RaisedAlert] = []
        for name in names.sorted() {
            try db.query(
                "INSERT INTO harvest_updates (name, fingerprint, seen_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                [.text(name), .text(fingerprint), .text(now)])
            let recent = try db.query(
                "SELECT fingerprint FROM harvest_updates WHERE name = ? AND seen_at >= ? ORDER BY seen_at",
                [.text(name), .text(since)]
            ).compactMap { $0[0] }
            guard recent.count > 1 else { continue }
            let latest = recent.suffix(Self.alertNamesShown).map { String($0.prefix(16)) }
            let more = recent.count > latest.count ? ", and \(recent.count - latest.count) more" : ""
            let text =
                "\(recent.count) updated certificates for \(name) within \(window) hours "
                + "(\(latest.joined(separator: ", "))\(more))"
            let kept = recent.suffix(Self.alertFingerprintsKept).joined(separator: " ")
            if let open = try db.query(
                "SELECT id FROM alerts WHERE name = ? AND raised_at >= ? ORDER BY id DESC LIMIT 1",
                [.text(name), .text(since)]
            ).first?.first ?? nil {
                try db.query(
                    "UPDATE alerts SET fingerprints = ?, message = ?, text = ? WHERE id = ?",
                    [.text(kept), .text(message), .text(text), .text(open)])
            } else {
                try db.query(
                    "INSERT INTO alerts (raised_at, name, fingerprints, message, text) VALUES (?, ?, ?, ?, ?)",
                    [.text(now), .text(name), .text(kept), .text(message), .text(text)])
            }
            alerts.append(RaisedAlert(name: name, text: text))
        }
        // Updates older than the longest window anyone may set are of no more use.
        try db.query(
            "DELETE FROM harvest_updates WHERE seen_at < ?",
            [.text(Keystore.preciseNow(time.addingTimeInterval(-8760 * 3600)))])
        return alerts
    }

    /// F23: while the repository is over `cap` bytes, the least recently used certificates go — never one
    /// stored by this transaction (`keeping`). The total is kept by triggers, and the oldest are read in
    /// batches by the index on last use, so a store costs the same with 500,000 certificates as with ten.
    private func evict(cap: Int, keeping: Set<String>) throws -> Int {
        var total =
            Int(try db.query("SELECT total FROM harvest_size WHERE id = 1").first?.first??.description ?? "0") ?? 0
        var evicted = 0
        while total > cap {
            let oldest = try db.query(
                "SELECT fingerprint, size FROM harvested ORDER BY last_used, first_seen, fingerprint LIMIT ?",
                [.int(Int64(Self.evictionBatch + keeping.count))])
            let doomed = oldest.filter { !keeping.contains($0[0] ?? "") }
            if doomed.isEmpty { break }
            for row in doomed where total > cap {
                try db.query("DELETE FROM harvested WHERE fingerprint = ?", [.text(row[0] ?? "")])
                total -= Int(row[1] ?? "0") ?? 0
                evicted += 1
            }
        }
        return evicted
    }

    static let evictionBatch = 64

    // MARK: Reading the repository

    public func harvestedCertificates() throws -> [HarvestedCertificate] {
        try db.query(
            "SELECT fingerprint, certificate_pem, is_ca, verified, capabilities, first_seen, last_seen, last_used, "
                + "message FROM harvested ORDER BY is_ca, subject, first_seen"
        ).map { row in
            HarvestedCertificate(
                fingerprint: row[0] ?? "", certificate: try Certificate(bytes: Array((row[1] ?? "").utf8)),
                isCA: row[2] == "1", verified: row[3] == "1",
                capabilities: (row[4] ?? "").split(separator: " ").map(String.init), firstSeen: row[5] ?? "",
                lastSeen: row[6] ?? "", lastUsed: row[7] ?? "", message: row[8] ?? "")
        }
    }

    /// Harvested CA certificates that came with verified signatures: issuers to build paths with.
    public func harvestedIntermediates() throws -> [Certificate] {
        try db.query("SELECT certificate_pem FROM harvested WHERE is_ca = 1 AND verified = 1").map {
            try Certificate(bytes: Array(($0[0] ?? "").utf8))
        }
    }

    /// Harvested end-entity certificates usable to encrypt to (verified ones only), with what each
    /// signer announced.
    public func harvestedRecipients() throws -> [(certificate: Certificate, capabilities: [String])] {
        try db.query("SELECT certificate_pem, capabilities FROM harvested WHERE is_ca = 0 AND verified = 1").map {
            (try Certificate(bytes: Array(($0[0] ?? "").utf8)), ($0[1] ?? "").split(separator: " ").map(String.init))
        }
    }

    /// The verified harvested end-entity certificates for one e-mail address, with their announced ciphers.
    func harvestedRecipients(for email: String) throws -> [(certificate: Certificate, capabilities: [String])] {
        try db.query(
            "SELECT h.certificate_pem, h.capabilities FROM harvested h JOIN harvested_names n "
                + "ON n.fingerprint = h.fingerprint WHERE n.value = ? AND n.kind = 'email' AND h.verified = 1 "
                + "AND h.is_ca = 0",
            [.text(email.lowercased())]
        ).map {
            (try Certificate(bytes: Array(($0[0] ?? "").utf8)), ($0[1] ?? "").split(separator: " ").map(String.init))
        }
    }

    /// Records that a run used these harvested certificates (to encrypt, or to build a path).
    public func markHarvestedUsed(_ fingerprints: Set<String>, at time: Date = Date()) throws {
        guard !fingerprints.isEmpty else { return }
        let now = Keystore.preciseNow(time)
        try db.transaction {
            for fingerprint in fingerprints {
                try db.query(
                    "UPDATE harvested SET last_used = ? WHERE fingerprint = ?", [.text(now), .text(fingerprint)])
            }
        }
    }

    /// The harvested rows a selector names: a fingerprint prefix (8+ hex digits) or an e-mail address.
    private func harvestedMatching(_ selector: String) throws -> [HarvestedCertificate] {
        let lowered = selector.lowercased().replacingOccurrences(of: ":", with: "")
        let all = try harvestedCertificates()
        if selector.contains("@") {
            return all.filter { row in row.certificate.emailAddresses.contains { $0.lowercased() == lowered } }
        }
        guard lowered.count >= 8 else { return [] }
        return all.filter { $0.fingerprint.hasPrefix(lowered) }
    }

    /// F24: makes a harvested certificate a public key named `name` (default: its first e-mail
    /// address). For an address, the newest valid one. Returns the name and the certificate.
    @discardableResult
    public func promoteHarvested(_ selector: String, name: String? = nil) throws -> (String, Certificate) {
        let now = Date()
        let matches = try harvestedMatching(selector).filter { !$0.isCA }
        // By address, only a verified certificate valid now: an unverified one (harvest-on-failure) may be
        // anyone's claim to the address, and is promoted only by its fingerprint, on purpose.
        let usable =
            selector.contains("@")
            ? matches.filter { $0.verified && $0.certificate.notBefore <= now && now <= $0.certificate.notAfter }
            : matches
        guard let chosen = usable.max(by: { $0.certificate.notBefore < $1.certificate.notBefore }) else {
            let unverified = selector.contains("@") ? " verified and valid now" : ""
            throw KeystoreError(
                "no\(unverified) harvested certificate matches \"\(selector)\" (see 'smimegate keys harvested')")
        }
        if !selector.contains("@") && matches.count > 1 {
            throw KeystoreError("\"\(selector)\" matches \(matches.count) harvested certificates: give more digits")
        }
        let keyName =
            name ?? chosen.certificate.emailAddresses.first?.lowercased() ?? String(chosen.fingerprint.prefix(16))
        try db.transaction {
            try addPublicKeyInTransaction(name: keyName, certificate: chosen.certificate, source: "harvested")
            try db.query("DELETE FROM harvested WHERE fingerprint = ?", [.text(chosen.fingerprint)])
        }
        return (keyName, chosen.certificate)
    }

    /// F24: removes harvested certificates by fingerprint prefix (8+ hex digits); returns how many.
    @discardableResult
    public func forgetHarvested(_ selector: String) throws -> Int {
        let lowered = selector.lowercased().replacingOccurrences(of: ":", with: "")
        guard lowered.count >= 8, lowered.allSatisfy(\.isHexDigit) else {
            throw KeystoreError("give a SHA-256 fingerprint (8 or more hex digits), as 'keys harvested' shows it")
        }
        return try db.transaction {
            let doomed = try db.query("SELECT fingerprint FROM harvested").compactMap { $0[0] }.filter {
                $0.hasPrefix(lowered)
            }
            for fingerprint in doomed {
                try db.query("DELETE FROM harvested WHERE fingerprint = ?", [.text(fingerprint)])
            }
            return doomed.count
        }
    }

    // MARK: Alerts (F22)

    public func alerts() throws -> [HarvestAlert] {
        try db.query("SELECT id, raised_at, name, fingerprints, message, text FROM alerts ORDER BY id").map { row in
            HarvestAlert(
                id: Int(row[0] ?? "") ?? 0, raisedAt: row[1] ?? "", name: row[2] ?? "",
                fingerprints: (row[3] ?? "").split(separator: " ").map(String.init), message: row[4] ?? "",
                text: row[5] ?? "")
        }
    }

    @discardableResult
    public func clearAlerts() throws -> Int {
        try db.transaction {
            let count = Int(try db.query("SELECT COUNT(*) FROM alerts").first?.first??.description ?? "0") ?? 0
            try db.query("DELETE FROM alerts")
            return count
        }
    }
}

/// Harvested certificates looked up in the keystore per address as a run needs them, each answer kept for
/// the run (`RecipientDirectory`).
///
/// Unchecked Sendable: the keystore's connection is SQLite's serialized mode (FULLMUTEX), and the cache is
/// behind its lock.
final class HarvestedIndex: HarvestedCertificates, @unchecked Sendable {
    private let keystore: Keystore
    private let cache = Locked<[String: [(certificate: Certificate, capabilities: [String])]]>([:])

    init(_ keystore: Keystore) { self.keystore = keystore }

    func certificates(for email: String) -> [(certificate: Certificate, capabilities: [String])] {
        if let known = cache.withLock({ $0[email] }) { return known }
        // A keystore that cannot answer (busy beyond the timeout) leaves the address without a harvested key,
        // as if none were known: the message is split or bounced by the profile, never sent in clear.
        let found = (try? keystore.harvestedRecipients(for: email)) ?? []
        cache.withLock { $0[email] = found }
        return found
    }
}
