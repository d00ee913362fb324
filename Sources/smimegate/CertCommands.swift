import ArgumentParser
import CMS
import Foundation
import Keystore
import MIME
import PKI

struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the home directory (0700) and its keystore (0600).",
        discussion: """
            With a home passphrase (--home-passphrase-file FILE or $SMIMEGATE_PASSPHRASE_FILE), a new home (or one \
            without private keys yet) is set up to encrypt private keys with it; every command that stores or uses \
            a private key then needs that passphrase. A home that already holds unencrypted private keys is left \
            as it is (exit 2): encrypt it with 'smimegate home encrypt'. Running init again is harmless.
            """)
    @OptionGroup var home: HomeOptions

    func run() throws {
        let store = try home.open(create: true)
        let protection = try configuring { () throws -> Keystore.KeyProtection in
            switch (try store.keyProtection, store.hasPassphrase) {
            case (.homePassphrase, true):
                try store.checkPrivateKeyAccess(storing: true)
            case (.filePermissions, true):
                let keys = try store.privateKeyCount()
                if keys > 0 {
                    throw Failure.usage(
                        "\(store.home.path) already holds \(keys) private key(s) not protected by a home passphrase: "
                            + "the passphrase was not applied; run 'smimegate home encrypt' to encrypt them with it")
                }
                _ = try store.encryptPrivateKeys()
            case (_, false):
                break
            }
            return try store.keyProtection
        }
        print(
            "keystore ready: \(store.home.path)"
                + (store.location.hasPrefix("sqlite:") ? "" : ", keystore \(store.location)")
                + " (schema version \(store.version))")
        switch protection {
        case .homePassphrase:
            print("private keys are encrypted at rest with the home passphrase (PKCS #8, AES-256)")
        case .filePermissions:
            print("no home passphrase: private keys are protected by file permissions only (home 0700, files 0600)")
        }
    }
}

struct Cert: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The organisation's certificates with private keys (sign, decrypt).",
        subcommands: [
            CertCreate.self, CertCSR.self, CertImport.self, CertList.self, CertShow.self, CertExport.self,
            CertDelete.self, CertRetire.self, CertUnretire.self,
        ])
}

struct CertCreate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create", abstract: "Create a self-signed S/MIME certificate and its key (SPEC F15, RFC 8550).")
    @OptionGroup var home: HomeOptions
    @Argument(help: "The name to store it under.") var name: String
    @Option(help: "Common Name.") var cn: String
    @Option(help: "Organization.") var org: String?
    @Option(help: "Organizational Unit.") var unit: String?
    @Option(help: "Locality.") var locality: String?
    @Option(help: "State or province.") var state: String?
    @Option(help: "Two-letter ISO 3166 country code.") var country: String?
    @Option(help: "Validity in days.") var days: Int = 365
    @Option(help: ArgumentHelp("SAN domains, comma-separated (e.g. example.com,*.example.net).", valueName: "LIST"))
    var sanDomain: String?
    @Option(help: ArgumentHelp("SAN e-mail addresses, comma-separated.", valueName: "LIST")) var sanEmail: String?
    @Option(help: "rsa or ec.") var keyType: String = "rsa"
    @Option(help: "RSA: 2048 (default), 3072, 4096. EC: 256 (P-256, default) or 384 (P-384).") var keySize: Int?

    func validate() throws {
        switch keyType {
        case "rsa":
            if ![2048, 3072, 4096].contains(keySize ?? 2048) {
                throw ValidationError("RSA key size must be 2048, 3072 or 4096")
            }
        case "ec": if ![256, 384].contains(keySize ?? 256) { throw ValidationError("EC key size must be 256 or 384") }
        default: throw ValidationError("--key-type must be rsa or ec")
        }
        if days < 1 || days > 36500 { throw ValidationError("--days must be between 1 and 36500") }
        if let country, country.count != 2 || !country.allSatisfy({ $0.isASCII && $0.isLetter }) {
            throw ValidationError("--country must be a two-letter ISO 3166 code, not \"\(country)\"")
        }
        for domain in list(sanDomain) where !CertCreate.isDomain(domain) {
            throw ValidationError("\"\(domain)\" is not a domain name (a leading *. wildcard is allowed)")
        }
        for email in list(sanEmail) where Address.domain(email) == nil || email.contains(" ") {
            throw ValidationError("\"\(email)\" is not an e-mail address")
        }
    }

    static func isDomain(_ s: String) -> Bool {
        let labels = (s.hasPrefix("*.") ? String(s.dropFirst(2)) : s).split(
            separator: ".", omittingEmptySubsequences: false)
        return labels.count >= 1
            && labels.allSatisfy { label in
                !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                    && label.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
            }
    }

    func run() throws {
        let store = try home.open()
        if try store.hasIdentity(named: name) { throw Failure.usage("a certificate named \"\(name)\" already exists") }
        try configuring { try store.checkPrivateKeyAccess(storing: true) }
        let key = try configuring {
            keyType == "ec"
                ? try PrivateKey.generateEC(curve: (keySize ?? 256) == 256 ? "P-256" : "P-384")
                : try PrivateKey.generateRSA(bits: keySize ?? 2048)
        }
        let fields = CertificateRequestFields(
            commonName: cn, organization: org, organizationalUnit: unit, locality: locality, state: state,
            country: country,
            sanDomains: list(sanDomain), sanEmails: list(sanEmail))
        try configuring {
            let certificate = try CertificateBuilder.selfSigned(fields, key: key, days: days)
            try store.addIdentity(name: name, certificate: certificate, key: key, chain: [])
            print("created \(name): \(certificate.subject), \(key.algorithm) \(key.bits) bits, valid \(days) days")
            print("SHA-256 \(certificate.sha256Fingerprint)")
        }
    }
}

func list(_ value: String?) -> [String] {
    (value ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
}

struct CertCSR: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "csr",
        abstract: "Write a PEM certificate signing request for a certificate's key and subject (SPEC F16).",
        discussion:
            "Send it to a CA; import the certificate it returns with 'cert import NAME FILE' under the same NAME.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Where to write the CSR (default: standard output; a file is replaced atomically, 0644).",
            valueName: "FILE"))
    var output: String?

    func run() throws {
        let identity = try configuring { try home.open().identity(named: name) }
        let request = try configuring { try CertificateRequest.pem(for: identity.certificate, key: identity.key) }
        try emit(request, to: output, content: .publicData)
    }
}

struct CertImport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Import a certificate with its private key: PKCS #12, or PEM (SPEC F17).",
        discussion: """
            FILE is a PKCS #12 file (passphrase from --passphrase-file or --passphrase-env, never the command line),
            or a PEM file holding the certificate (and any chain) with the key in it or in --key.
            When NAME exists and FILE is a PEM certificate without a key (the CA's answer to 'cert csr'),
            the certificate is replaced and the stored key kept.
            """)
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Argument(help: "A PKCS #12 file, or a PEM certificate (with chain).") var file: String
    @Option(help: ArgumentHelp("The PEM private key for a PEM certificate.", valueName: "FILE")) var key: String?
    @OptionGroup var passphrase: PassphraseOptions

    func run() throws {
        let store = try home.open()
        let bytes = try readFile(file)
        let pass = try passphrase.passphrase()
        let isPEM = bytes.firstRange(of: Array("-----BEGIN".utf8)) != nil
        let embeddedKey = bytes.firstRange(of: Array("PRIVATE KEY-----".utf8)) != nil
        // A PEM certificate without a key only replaces a stored certificate: it reads the key, stores none.
        try configuring { try store.checkPrivateKeyAccess(storing: !isPEM || key != nil || embeddedKey) }
        try configuring(file) {
            if isPEM {
                let certificates = try Certificate.parseAll(bytes)
                let certificate = certificates[0]
                let chain = Array(certificates.dropFirst())
                if key == nil && !embeddedKey {
                    guard try store.hasIdentity(named: name) else {
                        throw KeystoreError(
                            "no private key: give --key FILE, a PEM file with the key in it, or a PKCS #12 file")
                    }
                    try store.replaceCertificate(name: name, certificate: certificate, chain: chain)
                    print(
                        "replaced the certificate of \(name) (key kept): \(certificate.subject), "
                            + "issuer \(certificate.issuer)")
                    return
                }
                let privateKey = try PrivateKey(bytes: key.map(readFile) ?? bytes, passphrase: pass)
                try store.addIdentity(name: name, certificate: certificate, key: privateKey, chain: chain)
                let chained = chain.isEmpty ? "" : " with \(chain.count) chain certificate(s)"
                print("imported \(name): \(certificate.subject)\(chained)")
            } else {
                guard key == nil else { throw KeystoreError("--key goes with a PEM certificate, not a PKCS #12 file") }
                let p12: PKCS12Contents
                do {
                    p12 = try PKCS12Contents(bytes: bytes, passphrase: pass ?? [])
                } catch let error as OpenSSLError where error.reasons == ["not a PKCS #12 file"] {
                    throw KeystoreError("neither a PKCS #12 file nor a PEM certificate")
                }
                try store.addIdentity(name: name, certificate: p12.certificate, key: p12.key, chain: p12.chain)
                let chain = p12.chain.isEmpty ? "" : " with \(p12.chain.count) chain certificate(s)"
                print("imported \(name): \(p12.certificate.subject)\(chain)")
            }
        }
    }
}

struct CertList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the organisation's certificates.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let certificates = try configuring { try home.open().certificates() }
        if format.json {
            try printJSON(
                certificates.map {
                    NamedReport(
                        name: $0.name, report: CertificateReport($0.certificate),
                        extra: [
                            "chainLength": String($0.chain.count), "keyEncrypted": String($0.keyEncrypted),
                            "retired": $0.retired.map { ISO8601DateFormatter().string(from: $0) } ?? "no",
                        ])
                })
        } else {
            for entry in certificates {
                print(listLine(entry.name, entry.certificate) + (entry.retired == nil ? "" : "\tretired"))
            }
        }
    }
}

struct CertShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Show a certificate, and whether it can sign and decrypt (SPEC F18).")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        let entry = try configuring {
            guard let entry = try home.open().certificates().first(where: { $0.name == name }) else {
                throw KeystoreError("no certificate named \"\(name)\" (see 'smimegate cert list')")
            }
            return entry
        }
        // A retired certificate is never used to sign or encrypt to, whatever its extensions allow.
        let report: [(String, String)] = CertificateReport(entry.certificate).lines.map { line in
            entry.retired != nil && line.0.hasPrefix("usable for") ? (line.0, "no: retired") : line
        }
        let key =
            entry.keyEncrypted ? "stored, encrypted with the home passphrase" : "stored, protected by file permissions"
        var retired = "no"
        if let since = entry.retired {
            retired =
                "since \(ISO8601DateFormatter().string(from: since)): decrypts only, never signs or is encrypted to"
        }
        let chain = entry.chain.isEmpty ? "none" : entry.chain.map(\.subject).joined(separator: " | ")
        printReport([("name", name)] + report + [("chain", chain), ("private key", key), ("retired", retired)])
    }
}

struct CertExport: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a certificate (public part only, PEM, with its chain).")
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Option(
        name: .shortAndLong,
        help: ArgumentHelp(
            "Where to write it (default: standard output; a file is replaced atomically, 0644).", valueName: "FILE"))
    var output: String?

    func run() throws {
        let entry = try configuring {
            guard let entry = try home.open().certificates().first(where: { $0.name == name }) else {
                throw KeystoreError("no certificate named \"\(name)\" (see 'smimegate cert list')")
            }
            return entry
        }
        try emit(([entry.certificate] + entry.chain).map(\.pem).joined(), to: output, content: .publicData)
    }
}

struct CertDelete: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a certificate and its private key.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        try configuring { try home.open().deleteIdentity(named: name) }
        print("deleted \(name)")
    }
}

struct CertRetire: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "retire",
        abstract: "Retire a certificate: it still decrypts (archives encrypted to it), but never signs again.",
        discussion: "Profiles that sign with it stop working; 'process rekey' moves its archives to a new key.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        let changed = try configuring { try home.open().setRetired(name, true) }
        print(changed ? "retired \(name): it decrypts only" : "\(name) was already retired")
    }
}

struct CertUnretire: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "unretire", abstract: "Bring a retired certificate back into use.")
    @OptionGroup var home: HomeOptions
    @Argument var name: String

    func run() throws {
        let changed = try configuring { try home.open().setRetired(name, false) }
        print(changed ? "\(name) is in use again" : "\(name) was not retired")
    }
}
