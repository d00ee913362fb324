import ArgumentParser
import CMS
import Foundation
import Keystore
import MIME
import PKI
import SMIME

/// A short tour on built-in defaults: a throwaway home, two organisations'
/// keys, one message signed, encrypted, verified and decrypted back.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a short demo on built-in defaults in a throwaway directory.",
        discussion: "Writes the home and the sample messages into DIR (default: a new temporary directory).")
    @Argument(help: ArgumentHelp("Where to put the demo's home and messages.", valueName: "DIR")) var directory: String?

    func run() throws {
        let fm = FileManager.default
        let dir = URL(fileURLWithPath: directory ?? NSTemporaryDirectory() + "smimegate-demo-\(ProcessInfo.processInfo.processIdentifier)")
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        let clock = ContinuousClock()
        func step(_ text: String) { print("• \(text)") }
        func save(_ name: String, _ bytes: [UInt8]) throws -> String {
            let url = dir.appendingPathComponent(name)
            try Data(bytes).write(to: url)
            return url.path
        }

        print("smimegate demo in \(dir.path)")
        let store = try Keystore.open(home: dir.appendingPathComponent("home"), create: true)
        step("keystore created: \(store.home.path) (home 0700, keystore 0600)")

        // Our gateway: a domain certificate for example.com; a partner: a personal certificate.
        let gatewayKey = try PrivateKey.generateRSA(bits: 2048)
        let gateway = try CertificateBuilder.selfSigned(
            CertificateRequestFields(
                commonName: "Example Corp S/MIME gateway", organization: "Example Corp", country: "JP", sanDomains: ["example.com"]),
            key: gatewayKey, days: 30)
        try store.addIdentity(name: "gateway", certificate: gateway, key: gatewayKey, chain: [], replace: true)
        let partnerKey = try PrivateKey.generateRSA(bits: 2048)
        let partner = try CertificateBuilder.selfSigned(
            CertificateRequestFields(commonName: "Bob Partner", organization: "Partner Ltd", sanEmails: ["bob@partner.example"]),
            key: partnerKey, days: 30)
        try store.addIdentity(name: "partner", certificate: partner, key: partnerKey, chain: [], replace: true)
        try? store.addPublicKey(name: "bob", certificate: partner)
        try store.addCertificateAuthorities([gateway, partner])
        step("certificates: gateway (SAN example.com, RSA-2048) and partner (bob@partner.example); both trusted as CAs")

        let sample = """
            From: Alice <alice@example.com>
            To: Bob <bob@partner.example>
            Subject: Quarterly figures (confidential)
            Date: Sun, 29 Nov 2026 10:00:00 +0000
            Message-ID: <demo-1@example.com>
            Content-Type: text/plain; charset=utf-8

            Hello Bob,
            the figures are attached in spirit. Grüße from Tokyo.
            From here on, this line starts with "From " and survives.

            """
        let message = try Entity.parse(Array(sample.utf8))
        step("sample message: \(try save("original.eml", message.serialized()))")

        let signer = Signer(certificate: gateway, key: gatewayKey)
        let validation = SignerValidation(anchors: try store.certificateAuthorities())
        for mode in SignMode.allCases {
            let start = clock.now
            let signed = try SMIME.sign(message, signer: signer, mode: mode)
            let path = try save("signed-\(mode.rawValue).eml", signed.serialized())
            let result = try SMIME.verify(try Entity.parse(signed.serialized()), validation: validation)
            let elapsed = clock.now - start
            step(
                "signed \(mode.rawValue) (\(signed.contentType.mediaType)) → \(path); verified: \(result.passed ? "pass" : "FAIL \(result.verdict)") [\(elapsed)]"
            )
            guard result.passed else { throw Failure.problem("demo: verification failed") }
        }

        for cipher in [ContentCipher.aes256cbc, .aes256gcm] {
            let recipient = try store.recipientCertificate(for: "bob@partner.example")!
            let encrypted = try SMIME.encrypt(message, recipients: [recipient], cipher: cipher)
            let path = try save("encrypted-\(cipher.rawValue).eml", encrypted.serialized())
            let decrypted = try SMIME.decrypt(try Entity.parse(encrypted.serialized()), certificate: partner, key: partnerKey)
            let same =
                try Canonical.prepare(MessageParts(splitting: decrypted).content, options: .init(sevenBitSafe: false)).body
                == Canonical.prepare(MessageParts(splitting: message).content, options: .init(sevenBitSafe: false)).body
            step(
                "encrypted to bob@partner.example with \(cipher.rawValue) (\(encrypted.field("Content-Type") ?? "")) → \(path); decrypted with Bob's key: \(same ? "content identical" : "MISMATCH")"
            )
            guard same else { throw Failure.problem("demo: decrypted content differs") }
        }

        let signedThenEncrypted = try SMIME.encrypt(
            try SMIME.sign(message, signer: signer, mode: .detached), recipients: [partner], cipher: .aes256cbc)
        let path = try save("signed-encrypted.eml", signedThenEncrypted.serialized())
        let opened = try SMIME.decrypt(signedThenEncrypted, certificate: partner, key: partnerKey)
        let inner = try SMIME.verify(opened, validation: validation)
        step("sign, then encrypt → \(path); decrypt then verify: \(inner.passed ? "pass" : "FAIL")")
        guard inner.passed else { throw Failure.problem("demo: sign/encrypt round trip failed") }
        print(
            "demo finished: every message round-tripped. Try: \(CommandLine.arguments[0]) --home \(store.home.path) verify \(dir.path)/signed-detached.eml"
        )
    }
}

/// "1.6 ms" for the demo's timings.
func milliseconds(_ duration: Duration) -> String {
    let ms = Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
    return "\((ms * 10).rounded() / 10) ms"
}
