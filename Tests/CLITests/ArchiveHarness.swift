import Foundation
import TestSupport
import XCTest

/// Old mail for the archive tests, made by third-party tools: Tests/peers/archive_pki.sh (openssl
/// and faketime: a partner certificate of 2016 that expired in 2017, messages it signed in 2016
/// and in 2018, encrypted to our organisation certificate) and Tests/peers/timestamp.py (RFC 3161
/// tokens from `openssl ts`, added as unsigned attributes with asn1crypto).
extension CLITestCase {
    /// An organisation certificate `org` for example.com (DIR/org.pem, DIR/org.key), and the archive PKI
    /// encrypting to it, in DIR/name.
    func archivePKI(_ name: String = "archive") throws -> String {
        try organisationCertificate("org")
        let root = path(name)
        let made = try runProcess(
            "bash",
            [Paths.packageRoot.appendingPathComponent("Tests/peers/archive_pki.sh").path, root, path("org.pem")])
        guard made.status == 0 else { throw TestFailure("archive_pki.sh: \(made.stderr)") }
        try smimegate(["ca", "add", root + "/ca.pem"]).expect(0)
        return root
    }

    /// An organisation certificate for example.com made with openssl (self-signed, S/MIME signing and
    /// encryption), imported as NAME; its files are DIR/NAME.pem and DIR/NAME.key for the openssl peer.
    func organisationCertificate(_ name: String) throws {
        let config = try save(
            """
            [req]
            distinguished_name = dn
            prompt = no
            [dn]
            CN = \(name).example.com
            [v3]
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
            extendedKeyUsage = emailProtection
            subjectAltName = DNS:example.com

            """, "\(name).cnf")
        try openssl([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", path("\(name).key"), "-out",
            path("\(name).pem"),
            "-days", "365", "-config", config, "-extensions", "v3",
        ]).expect(0)
        try smimegate(["cert", "import", name, path("\(name).pem"), "--key", path("\(name).key")]).expect(0)
    }

    /// `message` with an RFC 3161 token (made at `at`, UTC) on its first signer; `rogue`: by a TSA
    /// no CA vouches for; `imprintOf`: a token over other bytes than this signature.
    func timestamped(
        _ message: String, pki: String, at: String, rogue: Bool = false, imprintOf: String? = nil, as name: String
    ) throws -> String {
        let out = path(name)
        var arguments = [
            Paths.packageRoot.appendingPathComponent("Tests/peers/timestamp.py").path, message, out, "--tsa-dir", pki,
            "--at", at,
        ]
        if rogue { arguments.append("--rogue") }
        if let imprintOf { arguments += ["--imprint-of", imprintOf] }
        let made = try runProcess(Paths.python, arguments)
        guard made.status == 0 else { throw TestFailure("timestamp.py: \(made.stderr)") }
        return out
    }

    /// The Unix time of an ISO 8601 instant, for `openssl cms -verify -attime`.
    func epoch(_ iso: String) -> String {
        String(Int(ISO8601DateFormatter().date(from: iso)!.timeIntervalSince1970))
    }

    /// The archive PKI's CA revokes the partner at `at` with `reason` and issues a CRL at `issued` (both
    /// "YYYY-MM-DD HH:MM:SS" UTC, made with faketime around `openssl ca`): DIR/name.
    func revokePartner(pki: String, reason: String, at: String, issued: String, as name: String) throws -> String {
        let config = pki + "/ca/ca.cnf"
        try runProcess(
            "env",
            [
                "TZ=UTC", "faketime", "-f", at, "openssl", "ca", "-config", config, "-revoke", pki + "/partner.pem",
                "-crl_reason", reason, "-batch",
            ]
        ).expect(0)
        let crl = path(name)
        try runProcess(
            "env",
            [
                "TZ=UTC", "faketime", "-f", issued, "openssl", "ca", "-config", config, "-gencrl", "-crldays", "4000",
                "-out",
                crl, "-batch",
            ]
        ).expect(0)
        return crl
    }
}
