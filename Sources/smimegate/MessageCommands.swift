import ArgumentParser
import CMS
import Foundation
import Keystore
import MIME
import PKI
import Pipeline
import SMIME

extension SignMode: ExpressibleByArgument {}
extension DigestAlgorithm: ExpressibleByArgument {}
extension ContentCipher: ExpressibleByArgument {}
extension ValidationTime: ExpressibleByArgument {}

/// `--header-protection` of `sign` and `encrypt` (RFC 9788, SPEC F36).
func headerProtectionHelp(_ command: String) -> ArgumentHelp {
    ArgumentHelp(
        "none (default), sign or encrypt: From, Sender, To, Cc, Reply-To, Subject, Date, Message-ID, In-Reply-To, "
            + "References (and Followup-To, Comments, Keywords) inside the " + command + ", marked hp="
            + (command == "signature"
                ? "\"clear\"; encrypt marks hp=\"cipher\" and obscures the outer Subject as [...] for a message you "
                    + "encrypt next (smimegate sign ... | smimegate encrypt ...)."
                : "\"cipher\" with HP-Outer; encrypt also obscures the outer Subject as [...]."))
}

/// `--validation-time`, shared by `verify`, `process incoming` and `process resign`.
let validationTimeHelp = ArgumentHelp(
    "When to judge signatures at: now, signing-time (an RFC 3161 time-stamp token when valid, else the signed "
        + "signingTime, which must lie inside the signer certificate's validity), or a date YYYY-MM-DD or time "
        + "YYYY-MM-DDTHH:MM:SSZ.",
    valueName: "now|signing-time|DATE")

/// Runs a message transform, turning parse and S/MIME errors into one line
/// that names the input, its Message-ID and the reason (exit 1).
func transform(_ io: MessageIO, _ operation: String, _ body: (Entity) throws -> Void) throws {
    let message = try io.readMessage()
    do {
        try body(message)
    } catch let error as SMIMEError {
        throw Failure.problem("\(operation): \(io.label(message)): \(error.reason)")
    } catch let error as MIMEError {
        throw Failure.problem("\(operation): \(io.label(message)): \(error.reason)")
    } catch let error as Irregularity {
        throw Failure.problem("\(operation): \(io.label(message)): \(error)")
    } catch let error as OpenSSLError {
        throw Failure.problem("\(operation): \(io.label(message)): \(error)")
    }
}

struct Sign: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign one message with an organisation certificate (SPEC F1, F2).",
        discussion: "detached: multipart/signed, readable without S/MIME; opaque: application/pkcs7-mime signed-data.")
    @OptionGroup var home: HomeOptions
    @Option(help: "The certificate (with private key) to sign with.") var cert: String
    @Option(help: "opaque or detached.") var signMode: SignMode = .detached
    @Option(help: "sha256, sha384 or sha512.") var digest: DigestAlgorithm = .sha256
    @Flag(help: "Sign with RSA-PSS instead of PKCS #1 v1.5 (RSA keys).") var pss = false
    @Option(help: headerProtectionHelp("signature")) var headerProtection: HeaderProtection = .none
    @OptionGroup var io: MessageIO

    func run() throws {
        let identity = try loadIdentity(home, cert)
        let problems =
            (identity.retired == nil ? [] : ["it is retired (it only decrypts)"])
            + Requirements.signingProblems(identity.certificate)
        if !problems.isEmpty {
            throw Failure.problem("sign: cannot sign with \(cert): \(problems.joined(separator: "; "))")
        }
        try transform(io, "sign") { message in
            let sender = Address.first(message.field("From"))
            guard let sender else { throw SMIMEError("the message has no From address") }
            guard AddressMatch.covers(identity.certificate, sender) else {
                throw SMIMEError("From address \(sender) is not covered by certificate \(cert)")
            }
            let signer = Signer(
                certificate: identity.certificate, key: identity.key, chain: identity.chain, digest: digest,
                padding: pss ? .pss : .pkcs1v15)
            let prepared = headerProtection.prepare(message, encrypted: headerProtection == .encrypt)
            let signed = try SMIME.sign(
                prepared?.message ?? message, signer: signer, mode: signMode, innerFields: prepared?.inner ?? [])
            try io.write(signed.serialized())
        }
    }
}

struct Encrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encrypt one message to recipients' public keys (SPEC F3).",
        discussion: "GCM ciphers produce AuthEnvelopedData (smime-type=authEnveloped-data); CBC ciphers EnvelopedData.")
    @OptionGroup var home: HomeOptions
    @Option(
        name: .customLong("to"),
        help: ArgumentHelp(
            "A recipient address; its key is found by SAN e-mail, then SAN domain.", valueName: "ADDRESS"))
    var to: [String] = []
    @Option(name: .customLong("key"), help: ArgumentHelp("A public key by name.", valueName: "NAME"))
    var keys: [String] = []
    @Option(
        help: ArgumentHelp(
            "aes-256-cbc, aes-128-cbc, aes-128-gcm or aes-256-gcm (default: AES-GCM when every recipient is a "
                + "harvested certificate whose owner announced it, else aes-256-cbc)."))
    var cipher: ContentCipher?
    @Flag(help: "RSA-OAEP (SHA-256) key transport instead of PKCS #1 v1.5.") var oaep = false
    @Option(help: headerProtectionHelp("envelope")) var headerProtection: HeaderProtection = .none
    @OptionGroup var io: MessageIO

    func validate() throws {
        if to.isEmpty && keys.isEmpty { throw ValidationError("name at least one recipient with --to or --key") }
    }

    func run() throws {
        let store = try home.open()
        var recipients: [Certificate] = []
        for name in keys {
            let certificate: Certificate
            do { certificate = try store.publicKey(named: name) } catch let error as KeystoreError {
                throw Failure.usage(error.reason)
            }
            let problems = Requirements.encryptionProblems(certificate)
            if !problems.isEmpty {
                throw Failure.problem("encrypt: cannot encrypt to \(name): \(problems.joined(separator: "; "))")
            }
            recipients.append(certificate)
        }
        let directory = try store.recipientDirectory()
        for address in to {
            guard let certificate = directory.certificate(for: address) else {
                throw Failure.problem("encrypt: no usable certificate for \(address)")
            }
            recipients.append(certificate)
        }
        let chosen = cipher ?? directory.announcedGCM(for: recipients) ?? .aes256cbc
        try transform(io, "encrypt") { message in
            if headerProtection != .none, (try? SMIMEForm.classify(message))?.isSigned == true {
                throw SMIMEError(
                    "the message is signed: its header is protected when it is signed "
                        + "(sign --header-protection encrypt, then encrypt without it)")
            }
            let prepared = headerProtection.prepare(message, encrypted: true)
            let encrypted = try SMIME.encrypt(
                prepared?.message ?? message, recipients: recipients, cipher: chosen,
                keyTransport: oaep ? .oaep : .pkcs1v15, innerFields: prepared?.inner ?? [])
            try io.write(encrypted.serialized())
        }
        try store.markHarvestedUsed(directory.usedHarvested)
    }
}

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify one signed message against the trusted CAs (SPEC F10).",
        discussion: """
            Checks the signature, the signer's chain to a CA added with 'ca add', its validity, its key usage,
            its algorithms (RSA keys of 2048 bits or more, EC of 256, no MD5 or SHA-1 certificates), and that
            the one mailbox of the one From field is covered by the certificate (Sender only with
            --accept-sender-match). Writes the message without its signature; exits 0 only when the
            signature is valid and trusted. A payload with RFC 9788 header protection (hp=) gives the header
            written its protected fields, and its protected From must be covered by the signer.
            """)
    @OptionGroup var home: HomeOptions
    @Flag(help: "Trust SHA-1 signatures (old archives); they are rejected by default.") var allowSha1 = false
    @Flag(help: "Trust RSA keys under 2048 bits and MD5/SHA-1 certificates (old archives); noted in the result.")
    var allowWeak = false
    @Flag(help: "Accept a signer who covers Sender but not From (RFC 8550 section 3).") var acceptSenderMatch = false
    @Option(help: "Authentication-Results fields with this authserv-id are removed (default: this host's name).")
    var authservId: String?
    @Option(help: validationTimeHelp) var validationTime: ValidationTime = .now
    @OptionGroup var io: MessageIO

    func run() throws {
        let store = try home.open()
        let trust = try configuring { try store.trustStore(ocsp: TrustNetwork.ocspChecker()) }
        try transform(io, "verify") { input in
            // As in 'process incoming': results claiming our authserv-id are not ours (RFC 8601 §5).
            let message = AuthenticationResults.removingOurs(
                from: input, authservID: authservId ?? ProcessInfo.processInfo.hostName
            ).message
            var validation = SignerValidation(
                trust: trust, allowSHA1: allowSha1, allowWeak: allowWeak, acceptSenderMatch: acceptSenderMatch)
            validation.validationTime = validationTime
            let result = try SMIME.verify(message, validation: validation)
            switch result.verdict {
            case .pass:
                var output = result.unwrapped
                var protected = ""
                // F36: the protected fields (RFC 9788) are the header written; the signer must speak for their From.
                if let unwrapped = output,
                    let promotion = HeaderProtection.promote(
                        into: unwrapped, payloadType: unwrapped.field("Content-Type"), inner: result.innerFields,
                        signed: true,
                        encrypted: false)
                {
                    if promotion.promoted.contains("from"),
                        case .failure(let failure) = SMIME.authorIdentity(
                            of: promotion.entity, signers: result.signer.map { [$0] } ?? [],
                            acceptSenderMatch: acceptSenderMatch)
                    {
                        throw SMIMEError("protected From not covered: \(failure.reason)")
                    }
                    output = promotion.entity
                    protected = " (\(promotion.note))"
                }
                try io.write(output?.serialized() ?? [])
                let signer = result.signer.map { ($0.emailAddresses.first ?? $0.subject) } ?? "?"
                let weak = result.acceptedWeaknesses.map(\.description).joined(separator: ", ")
                printErr(
                    "smimegate: verify: \(io.label(message)): signature valid and trusted: signer \(signer), \(result.digestAlgorithm ?? "?")"
                        + (weak.isEmpty ? "" : " (weak algorithms accepted: \(weak))")
                        + (result.moment.map { $0.source == .now ? "" : " (validated at \($0))" } ?? "")
                        + (result.revocation.map { $0 == .good ? "" : " (revocation \($0))" } ?? "") + protected)
            case .fail(let failure):
                throw SMIMEError(failure.result == .permerror ? "permerror: \(failure.reason)" : failure.reason)
            }
        }
    }
}

struct Decrypt: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decrypt one message with an organisation certificate's private key (SPEC F11).",
        discussion: """
            Without --cert, every organisation certificate in the keystore is tried. As in 'process incoming':
            Authentication-Results fields with our authserv-id are removed, inner fields other than Content-*
            are dropped (but for RFC 9788's protected fields, of which only what the sender hid from outside,
            such as an obscured Subject, is restored: nothing vouches for the rest), and content decrypted from
            CBC (no integrity) is refused when it looks tampered with (exit 1) and has remote references in its
            HTML neutralised.
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: "The certificate (with private key) to decrypt with.") var cert: String?
    @Option(help: "Authentication-Results fields with this authserv-id are removed (default: this host's name).")
    var authservId: String?
    @Option(
        help: ArgumentHelp(
            "HTML decrypted from CBC (no integrity): neutralise remote references (src, href, CSS url()) or keep.",
            valueName: "neutralise|keep"))
    var unauthenticatedHtml: IncomingJob.UnauthenticatedHTML = .neutralise
    @OptionGroup var io: MessageIO

    func run() throws {
        let store = try home.open()
        let identities: [Keystore.Identity]
        if let cert {
            identities = [try loadIdentity(home, cert, store: store)]
        } else {
            identities = try configuring { try store.identities() }
        }
        if identities.isEmpty { throw Failure.usage("decrypt: the keystore has no certificate with a private key") }
        try transform(io, "decrypt") { input in
            let message = AuthenticationResults.removingOurs(
                from: input, authservID: authservId ?? ProcessInfo.processInfo.hostName
            ).message
            let candidates = identities.map { (certificate: $0.certificate, key: $0.key) }
            let decryption = try SMIME.decryption(message, candidates: candidates)
            var output = decryption.message
            // F36: unsigned here (a signature inside is verify's to promote): only what the sender hid comes back.
            if let promotion = HeaderProtection.promote(
                into: output, payloadType: output.field("Content-Type"), inner: decryption.innerFields, signed: false,
                encrypted: true)
            {
                output = promotion.entity
                printErr("smimegate: decrypt: \(io.label(message)): \(promotion.note)")
            }
            if !decryption.encryption.authenticated {
                if let malformation = decryption.malformation {
                    throw SMIMEError("\(MalformedContent.reason) (\(malformation))")
                }
                // Signed content is left to its signature (verify it next); anything else is neutralised.
                if unauthenticatedHtml == .neutralise, (try? SMIMEForm.classify(output))?.isSigned != true {
                    output = HTMLNeutraliser.neutraliseParts(of: output).entity
                }
                printErr(
                    "smimegate: decrypt: \(io.label(message)): "
                        + "\(decryption.encryption.name) has no integrity protection")
            }
            try io.write(output.serialized())
        }
    }
}

func loadIdentity(_ home: HomeOptions, _ name: String, store: Keystore? = nil) throws -> Keystore.Identity {
    do {
        return try (store ?? home.open()).identity(named: name)
    } catch let error as KeystoreError {
        throw Failure.usage(error.reason)
    }
}
