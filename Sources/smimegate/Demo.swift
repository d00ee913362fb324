import ArgumentParser
import CMS
import Foundation
import Keystore
import MIME
import Mailstore
import PKI
import Pipeline
import Policy
import SMIME

/// The main job on built-in defaults (README Quick start): our organisation and
/// two partners, a maildir of a few hundred realistic messages, `process
/// outgoing` deciding by a policy (partners' copies signed and encrypted with a
/// split profile, everyone else's signed, audit findings quarantined), then
/// `process incoming` on a partner's side.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway end to end on built-in defaults in a throwaway directory.",
        discussion: """
            Creates an organisation certificate (example.com), two partner organisations with their own
            certificates, and a maildir of realistic messages (to partners with keys, to customers without,
            and from a sender the certificate does not cover); loads a policy (DIR/policy.txt) whose partners'
            policy signs and encrypts with a profile that splits and whose default policy signs, with a message
            filter that quarantines audit findings and notifies compliance; runs 'process outgoing', then
            'process incoming' at a partner over what was encrypted to it.
            """)
    @Argument(help: ArgumentHelp("Where to put the homes, the maildirs and the outputs.", valueName: "DIR"))
    var directory: String?
    @Option(help: "How many messages to generate.") var messages: Int = 300
    @Option(help: "Worker threads.") var workers: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        if messages < 1 || messages > 100_000 { throw ValidationError("--messages must be between 1 and 100000") }
    }

    func run() throws {
        let base = directory ?? NSTemporaryDirectory() + "smimegate-demo-\(ProcessInfo.processInfo.processIdentifier)"
        let dir = URL(fileURLWithPath: base)
        let fm = FileManager.default
        if fm.fileExists(atPath: dir.appendingPathComponent("outgoing/manifest.jsonl").path) {
            throw Failure.usage("\(base) already holds a demo: choose another DIR")
        }
        try fm.createDirectory(at: dir, withIntermediateDirectories: true)
        print("smimegate demo in \(dir.path)\n")

        // Our organisation: a domain certificate for example.com, trusted by the partners.
        let org = try Keystore.open(home: dir.appendingPathComponent("example.com-home"), create: true)
        let (gateway, gatewayKey) = try makeIdentity(
            org, "gateway",
            CertificateRequestFields(
                commonName: "Example Corp S/MIME gateway", organization: "Example Corp", country: "JP",
                sanDomains: ["example.com"]))
        // Two partners: a gateway certificate for a whole domain, and a personal certificate.
        var partners: [(name: String, home: Keystore, certificate: Certificate)] = []
        for (name, fields) in [
            (
                "partner.example",
                CertificateRequestFields(
                    commonName: "Partner Ltd gateway", organization: "Partner Ltd", sanDomains: ["partner.example"])
            ),
            (
                "supplier.example",
                CertificateRequestFields(
                    commonName: "Sales, Supplier Inc", organization: "Supplier Inc",
                    sanEmails: ["sales@supplier.example"])
            ),
        ] {
            let home = try Keystore.open(home: dir.appendingPathComponent("\(name)-home"), create: true)
            let (certificate, _) = try makeIdentity(home, "gateway", fields)
            try home.addCertificateAuthorities([gateway])
            try org.addPublicKey(name: name, certificate: certificate)
            partners.append((name, home, certificate))
        }
        print("• example.com: domain certificate (RSA-2048); partners: partner.example (domain certificate) and")
        print("  sales@supplier.example (personal certificate); customers at example.org have no certificate")

        let profile = SendingProfile(name: "demo", mode: .signEncrypt, certificate: "gateway", missingKey: .split)
        let signing = SendingProfile(name: "sign", mode: .sign, certificate: "gateway")
        for p in [profile, signing] {
            try ProfileStore(store: org).save(p, replace: false)
            print("• profile \(p.name): \(p.summary)")
        }
        let policyFile = dir.appendingPathComponent("policy.txt")
        try Data(DemoCorpus.policy.utf8).write(to: policyFile)
        let document = try withPolicy(policyFile.path) {
            try KeystoreRepositories(org).policyBook.load(DemoCorpus.policy).document
        }
        print("$ smimegate --home \(org.home.path) policy load \(policyFile.path)")

        let spool = dir.appendingPathComponent("spool").path
        try DemoCorpus.write(count: messages, to: spool)
        print("• spool: \(messages) messages in the maildir \(spool)\n")

        let out = dir.appendingPathComponent("outgoing").path
        let signer = Signer(certificate: gateway, key: gatewayKey)
        let job = try OutgoingJob(
            policy: document, profiles: [(profile, signer), (signing, signer)],
            recipients: try org.recipientDirectory(), reportingHost: "gateway.example.com")
        print("$ smimegate --home \(org.home.path) process outgoing \(spool) --out \(out)")
        let sent = try Engine.run(
            inputs: [spool], job: job,
            options: RunOptions(outDirectory: out, workers: workers, resume: false, progress: false))
        printSummary(sent, outcomes: job.outcomes, out: out)

        let partner = partners[0]
        let identity = try partner.home.identity(named: "gateway")
        let received = dir.appendingPathComponent("partner.example-incoming").path
        let incoming = IncomingJob(
            identities: [IncomingJob.Identity(certificate: identity.certificate, key: identity.key)],
            validation: SignerValidation(trust: try partner.home.trustStore()), keepSignature: false,
            authservID: "mx.partner.example")
        print("\n$ smimegate --home \(partner.home.home.path) process incoming \(out)/encrypted --out \(received)")
        let got = try Engine.run(
            inputs: [out + "/encrypted"], job: incoming,
            options: RunOptions(outDirectory: received, workers: workers, resume: false, progress: false))
        printSummary(got, outcomes: incoming.outcomes, out: received)
        print(
            "\n(messages encrypted for supplier.example stay 'unverified' at partner.example: not encrypted to its key)"
        )
        print(
            "demo finished. Look at \(policyFile.path), \(out)/manifest.jsonl (each copy names its policy and "
                + "filters), \(out)/quarantined/Audit/new/, \(out)/bounced/new/ (RFC 3464 bounces) and "
                + "\(received)/verified/new/"
        )
        if sent.failed > 0 || got.failed > 0 { throw Failure.problem("demo: some messages failed") }
    }

    private func makeIdentity(_ store: Keystore, _ name: String, _ fields: CertificateRequestFields) throws -> (
        Certificate, PrivateKey
    ) {
        let key = try PrivateKey.generateRSA(bits: 2048)
        let certificate = try CertificateBuilder.selfSigned(fields, key: key, days: 365)
        try store.addIdentity(name: name, certificate: certificate, key: key, chain: [])
        return (certificate, key)
    }
}

/// Deterministic, realistic outgoing mail for the demo.
enum DemoCorpus {
    static let senders = ["alice@example.com", "Bob Sato <bob@example.com>", "carol@example.com", "sales@example.com"]
    static let subjects = [
        "Quarterly figures", "Re: delivery schedule", "Contract draft v3", "Invoice 2026-11", "Meeting notes",
        "Price list",
        "Fwd: audit findings", "Shipping confirmation",
    ]
    static let partners = ["ken@partner.example", "yuki@partner.example", "sales@supplier.example"]
    static let customers = ["customer1@example.org", "customer2@example.org"]

    /// The demo's policy (README "Policies and filters"): recipients at the partners get copies signed and
    /// encrypted by the splitting profile; everyone else, signed copies; audit findings are held back.
    static let policy = """
        # The smimegate demo's policy
        [message filters]
        hold_audit: if (subject == "^Fwd: audit findings") {
            notify("compliance@example.com");
            quarantine("Audit");
        }

        [content filters]
        protect: if (true) { smime-gateway("demo"); }
        sign: if (true) { insert-header("X-Gateway", "signed at gateway.example.com"); smime-gateway("sign"); }

        [outgoing policy partners]
        recipients = @partner.example, @supplier.example
        content-filters = protect

        [outgoing policy default]
        content-filters = sign

        """

    static func write(count: Int, to root: String) throws {
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        var generator = SplitMix(seed: 2026)
        for i in 0..<count {
            let from = i % 25 == 24 ? "Newsletter <news@marketing.example>" : senders[i % senders.count]
            var to = [partners[Int(generator.next() % UInt64(partners.count))]]
            if i % 4 == 1 { to.append(customers[i % customers.count]) }
            if i % 9 == 2 { to = [customers[0]] }
            let subject = subjects[i % subjects.count]
            var text = "From: \(from)\r\nTo: \(to.joined(separator: ", "))\r\nSubject: \(subject) #\(i)\r\n"
            text +=
                "Date: Sun, 29 Nov 2026 10:\(String(format: "%02d", i % 60)):00 +0900\r\nMessage-ID: <demo-\(i)@example.com>\r\nMIME-Version: 1.0\r\n"
            let paragraph =
                "Please find the details below. Numbers are preliminary until the audit closes; call me if anything looks off.\r\n"
            let body =
                String(repeating: paragraph, count: 2 + Int(generator.next() % 20))
                + "From the desk of \(subject.lowercased()).\r\nRegards\r\n"
            if i % 5 == 0 {
                let attachment = (0..<(512 + Int(generator.next() % 8192))).map { _ in
                    UInt8(truncatingIfNeeded: generator.next())
                }
                text +=
                    "Content-Type: multipart/mixed; boundary=\"b\(i)\"\r\n\r\n--b\(i)\r\n"
                    + "Content-Type: text/plain; charset=utf-8\r\n"
                text +=
                    "Content-Transfer-Encoding: 8bit\r\n\r\nこんにちは,\r\n\(body)\r\n--b\(i)\r\n"
                    + "Content-Type: application/pdf; name=\"report-\(i).pdf\"\r\n"
                text +=
                    "Content-Transfer-Encoding: base64\r\n"
                    + "Content-Disposition: attachment; filename=\"report-\(i).pdf\"\r\n\r\n"
                text += String(decoding: Base64.encode(attachment), as: UTF8.self) + "\r\n--b\(i)--\r\n"
            } else {
                text += "Content-Type: text/plain; charset=utf-8\r\n\r\n\(body)"
            }
            try Data(text.utf8).write(to: URL(fileURLWithPath: root + "/new/demo-\(String(format: "%06d", i))"))
        }
    }
}

/// A small deterministic generator (SplitMix64) so the demo corpus is the same every time.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
