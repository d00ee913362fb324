import ArgumentParser
import CMS
import Foundation
import Keystore
import PKI

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create the home directory (0700) and its keystore (0600).")
    @OptionGroup var home: HomeOptions

    func run() throws {
        let store = try home.open(create: true)
        print("keystore ready: \(store.home.path) (schema version \(store.version))")
        print("private keys are protected by file permissions only (home 0700, files 0600)")
    }
}

struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The organisation's certificates with private keys (sign, decrypt).",
        subcommands: [CertCreate.self, CertImport.self, CertList.self])
}

struct CertCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a self-signed S/MIME certificate and its key (RFC 8550).")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Option(help: "Common Name.") var cn: String
    @Option(help: "Organization.") var org: String?
    @Option(help: "Organizational Unit.") var unit: String?
    @Option(help: "Locality.") var locality: String?
    @Option(help: "State or province.") var state: String?
    @Option(help: "Two-letter ISO country code.") var country: String?
    @Option(help: "Validity in days.") var days: Int = 365
    @Option(help: ArgumentHelp("SAN domains, comma-separated (e.g. example.com,*.example.net).", valueName: "LIST"))
    var sanDomain: String?
    @Option(help: ArgumentHelp("SAN e-mail addresses, comma-separated.", valueName: "LIST")) var sanEmail: String?
    @Option(help: "rsa or ec.") var keyType: String = "rsa"
    @Option(help: "RSA 2048/3072/4096, EC 256/384.") var keySize: Int?

    func run() throws {
        let key: PrivateKey
        switch (keyType, keySize) {
        case ("rsa", let size):
            guard [2048, 3072, 4096].contains(size ?? 2048) else { throw Failure.usage("RSA key size must be 2048, 3072 or 4096") }
            key = try PrivateKey.generateRSA(bits: size ?? 2048)
        case ("ec", let size):
            guard [256, 384].contains(size ?? 256) else { throw Failure.usage("EC key size must be 256 or 384") }
            key = try PrivateKey.generateEC(curve: (size ?? 256) == 256 ? "P-256" : "P-384")
        default: throw Failure.usage("--key-type must be rsa or ec")
        }
        let list = { (s: String?) in (s ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
        let fields = CertificateRequestFields(
            commonName: cn, organization: org, organizationalUnit: unit, locality: locality, state: state, country: country,
            sanDomains: list(sanDomain), sanEmails: list(sanEmail))
        let store = try home.open()
        do {
            let certificate = try CertificateBuilder.selfSigned(fields, key: key, days: days)
            try store.addIdentity(name: name, certificate: certificate, key: key, chain: [])
            print("created \(name): \(certificate.subject), SHA-256 \(certificate.sha256Fingerprint)")
        } catch let error as PKIError {
            throw Failure.usage(error.reason)
        } catch let error as KeystoreError {
            throw Failure.usage(error.reason)
        }
    }
}

struct CertImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a certificate with its private key: PKCS #12, or PEM with --key.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Argument(help: "A PKCS #12 file, or a PEM certificate (with --key).") var file: String
    @Option(help: ArgumentHelp("The PEM private key for a PEM certificate.", valueName: "FILE")) var key: String?
    @OptionGroup var passphrase: PassphraseOptions

    func run() throws {
        let store = try home.open()
        let bytes = try readFile(file)
        let pass = try passphrase.passphrase()
        do {
            let certificate: Certificate
            let privateKey: PrivateKey
            var chain: [Certificate] = []
            if let key {
                let certificates = try Certificate.parseAll(bytes)
                certificate = certificates[0]
                chain = Array(certificates.dropFirst())
                privateKey = try PrivateKey(bytes: try readFile(key), passphrase: pass)
            } else {
                let p12 = try PKCS12Contents(bytes: bytes, passphrase: pass ?? [])
                (certificate, privateKey, chain) = (p12.certificate, p12.key, p12.chain)
            }
            try store.addIdentity(name: name, certificate: certificate, key: privateKey, chain: chain)
            print("imported \(name): \(certificate.subject)\(chain.isEmpty ? "" : " with \(chain.count) chain certificate(s)")")
        } catch let error as OpenSSLError {
            throw Failure.usage("\(file): \(error)")
        } catch let error as KeystoreError {
            throw Failure.usage("\(file): \(error.reason)")
        }
    }
}

struct CertList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the organisation's certificates.")
    @OptionGroup var home: HomeOptions

    func run() throws {
        for identity in try home.open().identities() {
            let c = identity.certificate
            print("\(identity.name)\t\(c.subject)\t\((c.emailAddresses + c.dnsNames).joined(separator: ","))\tuntil \(c.notAfter)")
        }
    }
}

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Partners' public keys (encrypt to them).", subcommands: [KeysAdd.self, KeysList.self])
}

struct KeysAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a recipient's PEM or DER certificate.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Argument var file: String

    func run() throws {
        let store = try home.open()
        do {
            let certificate = try Certificate(bytes: try readFile(file))
            try store.addPublicKey(name: name, certificate: certificate)
            let problems = Requirements.encryptionProblems(certificate)
            print("added \(name): \(certificate.subject)")
            if !problems.isEmpty {
                printErr("smimegate: warning: \(name) is not usable for encryption: \(problems.joined(separator: "; "))")
            }
        } catch let error as OpenSSLError {
            throw Failure.usage("\(file): not a certificate (\(error.reasons.joined(separator: "; ")))")
        } catch let error as KeystoreError {
            throw Failure.usage(error.reason)
        }
    }
}

struct KeysList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List partners' public keys.")
    @OptionGroup var home: HomeOptions

    func run() throws {
        for (name, c) in try home.open().publicKeys() {
            print("\(name)\t\(c.subject)\t\((c.emailAddresses + c.dnsNames).joined(separator: ","))\tuntil \(c.notAfter)")
        }
    }
}

struct CA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Trusted certificate authorities (verify).", subcommands: [CAAdd.self, CAList.self])
}

struct CAAdd: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Trust the CA certificates in a PEM file.")
    @OptionGroup var home: HomeOptions
    @Argument var file: String

    func run() throws {
        let store = try home.open()
        do {
            let certificates = try Certificate.parseAll(try readFile(file))
            let added = try store.addCertificateAuthorities(certificates)
            print("added \(added) CA certificate(s) (\(certificates.count - added) already trusted)")
        } catch let error as OpenSSLError {
            throw Failure.usage("\(file): not a certificate file (\(error.reasons.joined(separator: "; ")))")
        }
    }
}

struct CAList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List trusted CA certificates.")
    @OptionGroup var home: HomeOptions

    func run() throws {
        for c in try home.open().certificateAuthorities() { print("\(c.sha256Fingerprint)\t\(c.subject)") }
    }
}
