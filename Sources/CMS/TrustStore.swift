import COpenSSL
import Foundation

/// The trust of one run (RFC 5280 §6, RFC 8550 §2.3): an `X509_STORE` built once from the
/// trusted anchors, the known intermediate CAs and the CRLs, shared read-only by every worker.
/// Each validation gets its own `X509_STORE_CTX`; OpenSSL's store takes its own lock for lookups.
///
/// Known intermediates go into the store as issuers to look up, never as anchors: a path is
/// trusted only when it ends at a self-signed anchor (no `X509_V_FLAG_PARTIAL_CHAIN`), so
/// self-signed certificates other than the anchors are kept out.
///
/// Unchecked Sendable, because the store is complete when `init` returns and only read after.
public final class TrustStore: @unchecked Sendable {
    let store: OpaquePointer
    public let anchors: [Certificate]
    public let intermediates: [Certificate]
    public let revocationLists: [RevocationList]
    public let checking: RevocationChecking
    /// Asked for certificates no CRL covers, when set (`revocation-ocsp = yes`).
    public let ocsp: OCSPChecker?

    public init(
        anchors: [Certificate], intermediates: [Certificate] = [], revocationLists: [RevocationList] = [],
        checking: RevocationChecking = .soft, ocsp: OCSPChecker? = nil
    ) throws {
        OpenSSLError.clear()
        guard let store = X509_STORE_new() else { throw OpenSSLError.drain("X509_STORE_new") }
        self.store = store
        self.anchors = anchors
        self.intermediates = intermediates.filter { $0.isCA && !$0.isSelfSigned }
        self.revocationLists = revocationLists
        self.checking = checking
        self.ocsp = ocsp
        for certificate in anchors + self.intermediates { X509_STORE_add_cert(store, certificate.x509) }
        for list in revocationLists { X509_STORE_add_crl(store, list.crl) }
        ERR_clear_error()  // duplicates are harmless
    }

    deinit { X509_STORE_free(store) }

    /// Judges the path from `leaf` (with `untrusted` certificates, such as a message's, to build
    /// it) at `time`: signatures, validity, constraints, the algorithm floor, and the revocation of
    /// the leaf and of every CA of the path but the anchor.
    /// Revocations dated after `time` do not count — but for `claimedTime` (the signer's own signingTime),
    /// a key or CA compromise counts whenever it was: the thief of a key writes the signingTime.
    public func validate(
        _ leaf: Certificate, untrusted: [Certificate], at time: Date, floor: AlgorithmFloor, claimedTime: Bool = false
    ) -> ChainVerdict {
        let level = floor == .standard ? AlgorithmFloor.authLevel : 0
        let build = { (level: Int32) in
            try self.build(leaf, untrusted: untrusted, at: time, authLevel: level, claimedTime: claimedTime)
        }
        guard let first = try? build(level) else {
            return .invalid("cannot build a certificate path: \(OpenSSLError.drain("X509_verify_cert"))")
        }
        switch first.error {
        case X509_V_OK:
            let weaknesses = AlgorithmWeakness.find(in: first.chain)
            if floor == .standard && !weaknesses.isEmpty { return .weakAlgorithms(weaknesses) }
            return revocation(of: first, weaknesses: weaknesses, at: time)
        case X509_V_ERR_EE_KEY_TOO_SMALL, X509_V_ERR_CA_KEY_TOO_SMALL, X509_V_ERR_CA_MD_TOO_WEAK:
            // Name every weakness, not only the first OpenSSL met: the whole path, without the floor.
            guard let path = try? build(0) else {
                return .invalid(Self.reason(first.error))
            }
            let weaknesses = AlgorithmWeakness.find(in: path.chain)
            if path.error == X509_V_OK && !weaknesses.isEmpty { return .weakAlgorithms(weaknesses) }
            return path.error == X509_V_OK ? .invalid(Self.reason(first.error)) : verdict(failed: path)
        default:
            return verdict(failed: first)
        }
    }

    private struct Path {
        var error: Int32
        var chain: [Certificate]
        var notes: smg_revocation_notes
    }

    private func verdict(failed path: Path) -> ChainVerdict {
        if path.error == X509_V_ERR_CERT_REVOKED, path.notes.revoked_depth >= 0 {
            let depth = Int(path.notes.revoked_depth)
            return .revoked(
                Revocation(
                    subject: depth < path.chain.count ? path.chain[depth].subject : "depth \(depth)",
                    date: path.notes.revoked_at == 0 ? nil : Date(timeIntervalSince1970: Double(path.notes.revoked_at)),
                    reason: RevocationReason(rawValue: Int(path.notes.revoked_reason)), source: "CRL"))
        }
        return .invalid(Self.reason(path.error))
    }

    /// A valid path's revocation: what the CRLs left undecided goes to OCSP, if any; what stays
    /// undecided is `checking`'s to judge.
    private func revocation(of path: Path, weaknesses: [AlgorithmWeakness], at time: Date) -> ChainVerdict {
        var notes = path.notes
        var unknown: [UnknownRevocation] = []
        let count = Int(notes.unknown_count)
        let depths = withUnsafeBytes(of: &notes.unknown_depth) { Array($0.bindMemory(to: Int32.self).prefix(count)) }
        let errors = withUnsafeBytes(of: &notes.unknown_error) { Array($0.bindMemory(to: Int32.self).prefix(count)) }
        for (depth, error) in zip(depths.map(Int.init), errors) where depth < path.chain.count {
            let certificate = path.chain[depth]
            // The anchor is trusted as configured: removing it from the CA list is its revocation.
            if depth == path.chain.count - 1 && certificate.isSelfSigned { continue }
            var why = Self.reason(error)
            if let ocsp, depth + 1 < path.chain.count, !certificate.ocspResponders.isEmpty {
                switch ocsp.status(of: certificate, issuer: path.chain[depth + 1], trust: self, at: time) {
                case .good: continue
                case .revoked(let date, let reason):
                    return .revoked(
                        Revocation(subject: certificate.subject, date: date, reason: reason, source: "OCSP"))
                case .unknown(let answer): why += "; OCSP: \(answer)"
                }
            }
            unknown.append(UnknownRevocation(subject: certificate.subject, why: why))
        }
        if unknown.isEmpty { return .valid(weaknesses: weaknesses, revocation: .good, path: path.chain) }
        return checking == .hard
            ? .revocationUnknown(unknown)
            : .valid(weaknesses: weaknesses, revocation: .unknown(unknown), path: path.chain)
    }

    /// One `X509_verify_cert` run with CRL checks on every certificate of the path.
    private func build(
        _ leaf: Certificate, untrusted: [Certificate], at time: Date, authLevel: Int32, claimedTime: Bool
    ) throws -> Path {
        OpenSSLError.clear()
        guard let ctx = X509_STORE_CTX_new() else { throw OpenSSLError.drain("X509_STORE_CTX_new") }
        defer { X509_STORE_CTX_free(ctx) }
        let stack = try CertificateStack(untrusted)
        guard X509_STORE_CTX_init(ctx, store, leaf.x509, stack.stack) == 1 else {
            throw OpenSSLError.drain("X509_STORE_CTX_init")
        }
        let param = X509_STORE_CTX_get0_param(ctx)
        X509_STORE_CTX_set_time(ctx, 0, time_t(time.timeIntervalSince1970))
        X509_VERIFY_PARAM_set_auth_level(param, authLevel)
        X509_VERIFY_PARAM_set_flags(param, UInt(X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL))
        var notes = smg_revocation_notes()
        notes.check_time = time_t(time.timeIntervalSince1970)
        notes.revoked_depth = -1
        notes.compromise_any_time = claimedTime ? 1 : 0
        let verified = withUnsafeMutablePointer(to: &notes) { pointer in
            smg_X509_STORE_CTX_set_revocation_notes(ctx, pointer)
            defer { smg_X509_STORE_CTX_set_revocation_notes(ctx, nil) }
            return X509_verify_cert(ctx) == 1
        }
        let code = verified ? X509_V_OK : X509_STORE_CTX_get_error(ctx)
        ERR_clear_error()
        var chain: [Certificate] = []
        if let stack = X509_STORE_CTX_get0_chain(ctx) {
            for i in 0..<OPENSSL_sk_num(stack) {
                if let x = OPENSSL_sk_value(stack, i) { chain.append(Certificate(retaining: OpaquePointer(x))) }
            }
        }
        return Path(error: code, chain: chain, notes: notes)
    }

    static func reason(_ code: Int32) -> String { String(cString: X509_verify_cert_error_string(Int(code))) }
}
