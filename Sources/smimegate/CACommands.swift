import ArgumentParser
import CMS
import Foundation
import Keystore

struct CA: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ca", abstract: "Trusted certificate authorities for verification (SPEC F10).",
        subcommands: [CAAdd.self, CAList.self, CARemove.self, CACRL.self])
}

struct CAAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add", abstract: "Trust the CA certificates in a PEM file, or the system's trust store.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "A PEM file with one or more CA certificates.") var file: String?
    @Flag(help: "Trust the system's CA list (/etc/ssl/certs/ca-certificates.crt).") var system = false
    @Flag(
        help: ArgumentHelp(
            "Store the certificates as known intermediates: issuers to build paths and check CRLs with, "
                + "trusted only through an anchor."))
    var intermediate = false

    static let systemBundle = "/etc/ssl/certs/ca-certificates.crt"

    func validate() throws {
        if (file == nil) == !system { throw ValidationError("give a FILE or --system") }
    }

    func run() throws {
        let store = try home.open()
        let path = file ?? CAAdd.systemBundle
        let certificates: [Certificate]
        do {
            certificates = try Certificate.parseAll(try readFile(path))
        } catch let error as OpenSSLError {
            throw Failure.usage("\(path): not a certificate file (\(error.reasons.joined(separator: "; ")))")
        }
        // A known intermediate is an issuer: an end-entity certificate in the file is left out.
        let stored = intermediate ? certificates.filter(\.claimsCA) : certificates
        let added = try configuring { try store.addCertificateAuthorities(stored, anchors: !intermediate) }
        let kind = intermediate ? "intermediate CA certificate(s)" : "CA certificate(s)"
        print("added \(added) \(kind) (\(stored.count - added) already stored)")
        for certificate in certificates where !certificate.isCA && !(intermediate && certificate.claimsCA) {
            let left = intermediate ? ": left out" : ""
            printErr("smimegate: warning: \(certificate.subject) is not a CA certificate (basicConstraints)\(left)")
        }
        if intermediate && stored.isEmpty { throw Failure.problem("\(path): no CA certificate to store") }
    }
}

struct CAList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List trusted CA certificates.")
    @OptionGroup var home: HomeOptions

    func run() throws {
        let authorities = try configuring { try home.open().certificateAuthorityList() }
        for (c, anchor) in authorities {
            print("\(c.sha256Fingerprint)\t\(c.subject)" + (anchor ? "" : "\t(intermediate)"))
        }
    }
}

struct CARemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Stop trusting a CA, by SHA-256 fingerprint (8+ hex digits) or exact subject.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "A fingerprint prefix as 'ca list' shows it, or the subject.") var selector: String

    func run() throws {
        let removed = try configuring { try home.open().removeCertificateAuthorities(matching: selector) }
        if removed == 0 { throw Failure.usage("no trusted CA matches \"\(selector)\"") }
        print("removed \(removed) CA certificate(s)")
    }
}
