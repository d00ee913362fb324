import Foundation
import TestSupport
import XCTest

/// Peers for the trust tests: the revocation PKI of Tests/peers/revocation_pki.sh (openssl ca),
/// an HTTP server for its CRLs (Tests/peers/http_server.py), `openssl ocsp` as its responder, and
/// partners' certificates and signed messages made with the openssl command line.
final class BackgroundPeer {
    private let process: Process
    /// What the peer printed up to and including `ready`, when one was awaited.
    private(set) var readyLine = ""

    /// With `ready`, waits until the peer prints it on standard output (such as `openssl ocsp`'s "ACCEPT").
    init(_ executable: String, _ arguments: [String], ready: String? = nil) throws {
        process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [executable] + arguments
        let out = Pipe()
        process.standardOutput = ready == nil ? FileHandle(forWritingAtPath: "/dev/null") : out
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        guard let ready else { return }
        var seen = Data()
        let deadline = Date().addingTimeInterval(20)
        /// The ready line, once it is whole (a pipe may hand it over in pieces).
        func complete() -> Bool {
            String(decoding: seen, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
                .contains { $0.contains(ready) }
        }
        while !complete() && Date() < deadline {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            seen += chunk
        }
        let text = String(decoding: seen, as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.contains(ready) }) else {
            stop()
            throw TestFailure("\(executable) did not start: \(text)")
        }
        readyLine = String(line).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    deinit { stop() }

    func stop() {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
    }
}

/// A TCP port nobody listens on now (bound and released by the kernel's choice).
func freePort() throws -> Int {
    let result = try runProcess(
        Paths.python,
        ["-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])
    guard let port = Int(result.out.trimmingCharacters(in: .whitespacesAndNewlines)) else {
        throw TestFailure("no free port: \(result.stderr)")
    }
    return port
}

extension CLITestCase {
    var peers: URL { Paths.packageRoot.appendingPathComponent("Tests/peers") }

    /// Tests/peers/http_server.py serving `root`; its port and request log.
    func httpServer(root: String, delay: Double = 30) throws -> (peer: BackgroundPeer, port: Int, log: String) {
        let portFile = path("http-\(UUID().uuidString).port")
        let log = path("http-\(UUID().uuidString).log")
        let peer = try BackgroundPeer(
            Paths.python,
            [
                peers.appendingPathComponent("http_server.py").path, "--root", root, "--port-file", portFile, "--log",
                log,
                "--delay", "\(delay)",
            ])
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let port = Int(
                string(bytes(of: URL(fileURLWithPath: portFile))).trimmingCharacters(in: .whitespacesAndNewlines))
            {
                return (peer, port, log)
            }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw TestFailure("the HTTP peer did not start")
    }

    /// The revocation PKI (Tests/peers/revocation_pki.sh) in DIR/name, its URLs on these ports.
    func revocationPKI(_ name: String = "pki", httpPort: Int, ocspPort: Int) throws -> String {
        let root = path(name)
        let made = try runProcess(
            "bash", [peers.appendingPathComponent("revocation_pki.sh").path, root, "\(httpPort)", "\(ocspPort)"])
        guard made.status == 0 else { throw TestFailure("revocation_pki.sh: \(made.stderr)") }
        return root
    }

    /// A message signed by `cert`/`key` with `openssl smime -sign` (detached), the issuing CA
    /// certificates of `certfile` carried in it.
    func opensslSigned(
        from: String, to: String = "alice@example.com", cert: String, key: String, certfile: String? = nil,
        subject: String = "signed by a partner", body: String = "Hello from a partner.\n", capabilities: Bool = true
    ) throws -> String {
        let input = try save(body, "body-\(UUID().uuidString).txt")
        var arguments = [
            "smime", "-sign", "-in", input, "-signer", cert, "-inkey", key, "-from", from, "-to", to, "-subject",
            subject,
        ]
        if let certfile { arguments += ["-certfile", certfile] }
        if !capabilities { arguments.append("-nosmimecap") }
        let signed = try openssl(arguments)
        XCTAssertEqual(signed.status, 0, signed.stderr)
        return signed.out
    }

    /// An end-entity certificate for `email` issued by the revocation PKI's sub CA (or self-signed),
    /// made with openssl: DIR/NAME.pem and DIR/NAME.key.
    func partnerCertificate(
        _ name: String, email: String, pki: String, days: Int = 365, selfSigned: Bool = false
    ) throws -> (cert: String, key: String) {
        let key = path("\(name).key")
        let cert = path("\(name).pem")
        let ext = try save(
            """
            basicConstraints = critical, CA:FALSE
            keyUsage = critical, digitalSignature, nonRepudiation, keyEncipherment
            extendedKeyUsage = emailProtection
            subjectAltName = email:\(email)

            """, "\(name).ext")
        try openssl(["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key]).expect(0)
        if selfSigned {
            try openssl([
                "req", "-x509", "-new", "-key", key, "-subj", "/CN=\(name)", "-days", "\(days)", "-extensions", "v3",
                "-config",
                try save(
                    "[req]\ndistinguished_name=dn\n[dn]\n[v3]\n" + string(read("\(name).ext")),
                    "\(name).cnf"), "-out", cert,
            ]).expect(0)
        } else {
            let csr = path("\(name).csr")
            try openssl(["req", "-new", "-key", key, "-subj", "/CN=\(name)", "-out", csr]).expect(0)
            try openssl([
                "x509", "-req", "-in", csr, "-CA", pki + "/sub.pem", "-CAkey", pki + "/sub.key", "-set_serial",
                "0x\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16))", "-days", "\(days)",
                "-extfile", ext, "-out", cert,
            ]).expect(0)
        }
        return (cert, key)
    }
}
