import CMS
import Foundation

/// Certificate revocation lists (SPEC F25), the known intermediate CAs, the global settings, and
/// the run's `TrustStore` made from them.
extension Keystore {
    // MARK: Known intermediates

    /// CA certificates stored as issuers to build paths with (`ca add --intermediate`), not anchors.
    public func knownIntermediates() throws -> [Certificate] {
        try db.query("SELECT certificate_pem FROM ca_certificates WHERE anchor = 0 ORDER BY subject").map {
            try Certificate(bytes: Array(($0[0] ?? "").utf8))
        }
    }

    /// Every CA certificate with its kind, for listings.
    public func certificateAuthorityList() throws -> [(certificate: Certificate, anchor: Bool)] {
        try db.query("SELECT certificate_pem, anchor FROM ca_certificates ORDER BY anchor DESC, subject").map {
            (try Certificate(bytes: Array(($0[0] ?? "").utf8)), $0[1] == "1")
        }
    }

    // MARK: CRLs

    public struct StoredRevocationList: Sendable {
        public let list: RevocationList
        public let source: String
        public let addedAt: String
    }

    public enum RevocationListChange: Sendable, Equatable {
        case added, replaced, unchanged
        /// An older CRL than the one stored for that issuer.
        case older
    }

    /// Stores a CRL once its signature verifies with the key of a CA named as its issuer: a trusted anchor,
    /// or a known or harvested intermediate whose own path to an anchor is valid now and not revoked — so
    /// no certificate a sender put in a message can sign CRLs. One CRL per issuer and scope (the key that
    /// signed it and the Issuing Distribution Point): a newer one (later thisUpdate) replaces it, an older one is
    /// not stored, and one not valid yet is refused (dated in the future, it would shut the current one out
    /// and decide nothing until then). Delta CRLs and CRLs of partial scope are refused: read as complete
    /// CRLs they would un-revoke what their base lists.
    @discardableResult
    public func addRevocationList(_ list: RevocationList, source: String, at time: Date = Date()) throws
        -> RevocationListChange
    {
        if list.isDelta { throw KeystoreError("a delta CRL is not supported: add the complete (base) CRL") }
        if let partial = list.partialScope {
            throw KeystoreError("a CRL of partial scope (\(partial)) is not supported: add the complete CRL")
        }
        guard list.nextUpdate != nil else {
            // RFC 5280 §5.1.2.5: issuers MUST include it; without one a CRL would stand for ever.
            throw KeystoreError("the CRL has no nextUpdate: it cannot say how long it holds")
        }
        if let weak = list.weakSignature {
            throw KeystoreError("the CRL is signed with \(weak), below the algorithm floor")
        }
        if list.thisUpdate > time {
            throw KeystoreError("the CRL is not valid before \(ISO8601DateFormatter().string(from: list.thisUpdate))")
        }
        let anchors = try certificateAuthorities()
        let intermediates = try knownIntermediates() + harvestedIntermediates()
        let named = (anchors + intermediates).filter { $0.subject == list.issuer }
        guard !named.isEmpty else {
            throw KeystoreError(
                "no trusted CA or known intermediate named \(list.issuer) to check the CRL with "
                    + "(add the issuer with 'ca add' or 'ca add --intermediate' first)")
        }
        let signers = named.filter { list.isSigned(by: $0) }
        guard !signers.isEmpty else {
            throw KeystoreError("the CRL's signature does not verify with the key of \(list.issuer)")
        }
        if let weak = signers.lazy.compactMap({ AlgorithmWeakness.find(in: [$0]).first }).first,
            signers.allSatisfy({ !AlgorithmWeakness.find(in: [$0]).isEmpty })
        {
            throw KeystoreError("the CRL's issuer is below the algorithm floor: \(weak)")
        }
        if !signers.contains(where: { anchors.contains($0) }) {
            let trust = try TrustStore(
                anchors: anchors, intermediates: intermediates, revocationLists: try revocationLists().map(\.list))
            let verdicts = signers.map { trust.validate($0, untrusted: [], at: time, floor: .standard) }
            guard verdicts.contains(where: { if case .valid = $0 { true } else { false } }) else {
                throw KeystoreError("its issuer \(list.issuer) has no valid path to a trusted CA: \(verdicts[0])")
            }
        }
        let fingerprint = list.sha256Fingerprint
        // One CRL per issuer key and distribution point: a CA re-keyed under the same name, or another CA
        // given that name, never replaces (or shuts out) the CRL of the key that issued our partners'.
        let scope = signers[0].publicKeyFingerprint + ":" + list.distributionPointScope
        return try db.transaction {
            if try !db.query("SELECT 1 FROM crls WHERE fingerprint = ?", [.text(fingerprint)]).isEmpty {
                return .unchanged
            }
            let current = try db.query(
                "SELECT fingerprint, crl_pem FROM crls WHERE issuer = ? AND scope = ?",
                [.text(list.issuer), .text(scope)])
            var change = RevocationListChange.added
            for row in current {
                guard let stored = try? RevocationList.parseAll(Array((row[1] ?? "").utf8)).first else { continue }
                if stored.thisUpdate > list.thisUpdate { return .older }
                try db.query("DELETE FROM crls WHERE fingerprint = ?", [.text(row[0] ?? "")])
                change = .replaced
            }
            let formatter = ISO8601DateFormatter()
            try db.query(
                "INSERT INTO crls (fingerprint, issuer, scope, this_update, next_update, entries, crl_pem, source, "
                    + "added_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    .text(fingerprint), .text(list.issuer), .text(scope),
                    .text(formatter.string(from: list.thisUpdate)),
                    list.nextUpdate.map { .text(formatter.string(from: $0)) } ?? .null, .int(Int64(list.entries)),
                    .text(list.pem), .text(source), .text(Keystore.now()),
                ])
            return change
        }
    }

    public func revocationLists() throws -> [StoredRevocationList] {
        try db.query("SELECT crl_pem, source, added_at FROM crls ORDER BY issuer").compactMap { row in
            guard let list = try RevocationList.parseAll(Array((row[0] ?? "").utf8)).first else { return nil }
            return StoredRevocationList(list: list, source: row[1] ?? "", addedAt: row[2] ?? "")
        }
    }

    /// What `ca crl list` shows of each stored CRL, read from its columns (no CRL is parsed).
    public func revocationListSummaries() throws -> [(
        issuer: String, sha256: String, thisUpdate: Date, nextUpdate: Date?, entries: Int, source: String
    )] {
        let formatter = ISO8601DateFormatter()
        return try db.query(
            "SELECT issuer, fingerprint, this_update, next_update, entries, source FROM crls ORDER BY issuer"
        ).map { row in
            guard let thisUpdate = formatter.date(from: row[2] ?? "") else {
                throw KeystoreError("the keystore holds an unreadable time \"\(row[2] ?? "")\"")
            }
            return (
                row[0] ?? "", row[1] ?? "", thisUpdate, row[3].flatMap { formatter.date(from: $0) },
                Int(row[4] ?? "") ?? 0, row[5] ?? ""
            )
        }
    }

    /// Removes the CRLs whose issuer is `selector` or whose SHA-256 starts with it (8+ hex digits).
    @discardableResult
    public func removeRevocationLists(matching selector: String) throws -> Int {
        let lowered = selector.lowercased().replacingOccurrences(of: ":", with: "")
        return try db.transaction {
            let doomed = try db.query("SELECT fingerprint, issuer FROM crls").filter { row in
                (lowered.count >= 8 && (row[0] ?? "").hasPrefix(lowered)) || row[1] == selector
            }.compactMap { $0[0] }
            for fingerprint in doomed { try db.query("DELETE FROM crls WHERE fingerprint = ?", [.text(fingerprint)]) }
            return doomed.count
        }
    }

    /// What the last `ca crl update` learnt of a distribution point, for conditional requests.
    public func crlSource(url: String) throws -> (etag: String?, lastModified: String?)? {
        guard let row = try db.query("SELECT etag, last_modified FROM crl_sources WHERE url = ?", [.text(url)]).first
        else { return nil }
        return (row[0], row[1])
    }

    public func recordCRLSource(url: String, etag: String?, lastModified: String?, status: String) throws {
        try db.query(
            "INSERT INTO crl_sources (url, etag, last_modified, checked_at, status) VALUES (?, ?, ?, ?, ?) "
                + "ON CONFLICT (url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified, "
                + "checked_at = excluded.checked_at, status = excluded.status",
            [
                .text(url), etag.map { .text($0) } ?? .null, lastModified.map { .text($0) } ?? .null,
                .text(Keystore.now()), .text(status),
            ])
    }

    /// The certificates whose CRL distribution points `ca crl update` fetches: the anchors, the known and
    /// harvested intermediates with a valid path to one (so a certificate a sender slipped into a message
    /// never makes us fetch its URL), the partners' keys added by hand and the verified harvested ones.
    public func revocationSources(at time: Date = Date()) throws -> [Certificate] {
        let trust = try trustStore(checking: .soft)
        let issuers = trust.intermediates.filter {
            if case .valid = trust.validate($0, untrusted: [], at: time, floor: .legacy) { true } else { false }
        }
        return trust.anchors + issuers + (try publicKeys().map(\.certificate))
            + (try harvestedRecipients().map(\.certificate))
    }

    // MARK: The run's trust

    /// The anchors, the known and harvested intermediates and the CRLs, in one store for a run.
    public func trustStore(checking: RevocationChecking? = nil, ocsp: OCSPChecker? = nil) throws -> TrustStore {
        let settings = try globalSettings()
        return try TrustStore(
            anchors: try certificateAuthorities(), intermediates: try knownIntermediates() + harvestedIntermediates(),
            revocationLists: try revocationLists().map(\.list), checking: checking ?? settings.revocation,
            ocsp: settings.revocationOCSP ? ocsp : nil)
    }
}
