import ArgumentParser
import CMS
import Foundation
import Keystore
import Submission

/// One line, control characters (a hostile server's escape sequences) made visible.
func printable(_ error: Error) -> String {
    String(String(describing: error).unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) })
}

/// Where trust meets the network: OCSP requests and CRL downloads over HTTP (Submission/HTTPClient.swift).
enum TrustNetwork {
    static let ocspTimeout = 10.0
    static let ocspMaximum = 1 << 20

    /// An OCSP checker for a run: POSTs each request to the certificate's responder.
    static func ocspChecker() -> OCSPChecker {
        OCSPChecker { url, request in
            let response: HTTPClient.Response
            do {
                response = try HTTPClient.request(
                    "POST", url: url,
                    headers: [("Content-Type", "application/ocsp-request"), ("Accept", "application/ocsp-response")],
                    body: request, timeout: ocspTimeout, maximumBody: ocspMaximum)
            } catch {
                throw HTTPClient.Failure("\(url): \(printable(error))")
            }
            guard response.status == 200 else { throw HTTPClient.Failure("\(url): HTTP \(response.status)") }
            return response.body
        }
    }
}

// MARK: ca crl (SPEC F25)

struct CACRL: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crl", abstract: "Certificate revocation lists checked when verifying (SPEC F25).",
        subcommands: [CACRLAdd.self, CACRLList.self, CACRLRemove.self, CACRLUpdate.self])
}

struct CACRLAdd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add",
        abstract: "Store the CRLs of a PEM or DER file, each once its signature verifies with a trusted CA or a "
            + "known intermediate.")
    @OptionGroup var home: HomeOptions
    @Argument(help: "A PEM file with one or more CRLs, or one DER CRL.") var file: String

    func run() throws {
        let store = try home.open()
        let lists: [RevocationList]
        do {
            lists = try RevocationList.parseAll(try readFile(file))
        } catch let error as OpenSSLError {
            throw Failure.usage("\(file): not a CRL file (\(error))")
        }
        var refused = 0
        for list in lists {
            do {
                let change = try store.addRevocationList(list, source: file)
                print(
                    "\(change): CRL of \(list.issuer) (\(list.entries) entries, next update \(date(list.nextUpdate)))")
                if change == .older {
                    printErr("smimegate: \(file): CRL of \(list.issuer) not stored: the stored one is newer")
                    refused += 1
                }
            } catch let error as KeystoreError {
                printErr("smimegate: \(file): CRL of \(list.issuer) refused: \(error)")
                refused += 1
            }
        }
        if refused > 0 { throw Failure.problem("\(refused) of \(lists.count) CRL(s) not stored") }
    }
}

func date(_ value: Date?) -> String { value.map { ISO8601DateFormatter().string(from: $0) } ?? "none" }

struct CRLReport: Encodable {
    let issuer: String
    let sha256: String
    let thisUpdate: String
    let nextUpdate: String?
    let entries: Int
    let source: String
    let current: Bool
}

struct CACRLList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored CRLs.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let now = Date()
        // From the columns stored beside each CRL: a CRL of a million entries is not parsed to be listed.
        let reports = try configuring { try home.open().revocationListSummaries() }.map {
            CRLReport(
                issuer: $0.issuer, sha256: $0.sha256, thisUpdate: date($0.thisUpdate),
                nextUpdate: $0.nextUpdate.map { date($0) }, entries: $0.entries, source: $0.source,
                current: $0.thisUpdate <= now && ($0.nextUpdate.map { now <= $0 } ?? true))
        }
        if format.json { return try printJSON(reports, keys: .convertToSnakeCase) }
        for r in reports {
            let state = r.current ? "" : "\t(expired)"
            let next = r.nextUpdate ?? "none"
            print(
                visible(
                    "\(r.sha256.prefix(16))\t\(r.issuer)\t\(r.thisUpdate)\t\(next)\t\(r.entries)\t\(r.source)\(state)"))
        }
    }
}

struct CACRLRemove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "remove", abstract: "Remove CRLs by issuer (exact) or SHA-256 fingerprint (8+ hex digits).")
    @OptionGroup var home: HomeOptions
    @Argument var selector: String

    func run() throws {
        let removed = try configuring { try home.open().removeRevocationLists(matching: selector) }
        if removed == 0 { throw Failure.usage("no CRL matches \"\(selector)\"") }
        print("removed \(removed) CRL(s)")
    }
}

struct CACRLUpdate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Fetch the http:// CRL distribution points of the CAs, known intermediates and partners' keys.",
        discussion: """
            One line per URL: updated, not modified (a conditional request: ETag/Last-Modified of the last fetch), \
            or the failure. A fetched CRL is stored only once its signature verifies, as with 'ca crl add'. \
            Exit 1 if any URL failed.
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: "Seconds to wait for each server.") var timeout: Double = 15
    @Option(help: ArgumentHelp("The largest CRL accepted, in bytes.", valueName: "BYTES")) var maxSize = 20 * 1_048_576

    func run() throws {
        let store = try home.open()
        // The CAs' own distribution points, and those of partners' certificates (added and harvested),
        // which name the CRLs of the CAs that issued them.
        let known = try configuring { try store.revocationSources() }
        var seen = Set<String>()
        let urls = known.flatMap(\.crlDistributionPoints).filter { seen.insert($0).inserted }
        var failed = 0
        for url in urls {
            do {
                print("\(url): \(try fetch(url, store: store))")
            } catch {
                printErr("smimegate: \(url): \(printable(error))")
                try? store.recordCRLSource(url: url, etag: nil, lastModified: nil, status: "failed: \(error)")
                failed += 1
            }
        }
        if urls.isEmpty { print("no CA, intermediate or partner certificate names an http:// CRL distribution point") }
        if failed > 0 { throw Failure.problem("\(failed) of \(urls.count) CRL distribution point(s) failed") }
    }

    private func fetch(_ url: String, store: Keystore) throws -> String {
        let previous = try store.crlSource(url: url)
        var headers: [(String, String)] = []
        if let etag = previous?.etag { headers.append(("If-None-Match", etag)) }
        if let modified = previous?.lastModified { headers.append(("If-Modified-Since", modified)) }
        let response = try HTTPClient.request("GET", url: url, headers: headers, timeout: timeout, maximumBody: maxSize)
        if response.status == 304 {
            try store.recordCRLSource(
                url: url, etag: previous?.etag, lastModified: previous?.lastModified, status: "not modified")
            return "not modified"
        }
        guard response.status == 200 else { throw HTTPClient.Failure("HTTP \(response.status)") }
        let lists: [RevocationList]
        do { lists = try RevocationList.parseAll(response.body) } catch {
            throw HTTPClient.Failure("the answer is not a CRL")
        }
        var changes: [String] = []
        for list in lists { changes.append("\(try store.addRevocationList(list, source: url))") }
        // Sent back on the next request as they came: only short printable values.
        func validator(_ value: String?) -> String? {
            guard let value, value.count <= 256, value.unicodeScalars.allSatisfy({ (0x20...0x7e).contains($0.value) })
            else { return nil }
            return value
        }
        try store.recordCRLSource(
            url: url, etag: validator(response.headers["etag"]),
            lastModified: validator(response.headers["last-modified"]), status: "ok")
        return changes.joined(separator: ", ") + " (CRL of \(lists.first?.issuer ?? "?"))"
    }
}

// MARK: settings

struct SettingsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "settings",
        abstract: "Home-wide settings: harvest-cap, revocation, revocation-ocsp, alert-window.",
        subcommands: [SettingsShow.self, SettingsSet.self])
}

struct SettingsShow: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Print every setting.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let settings = try configuring { try home.open().globalSettings() }
        if format.json {
            return try printJSON(
                Dictionary(uniqueKeysWithValues: GlobalSettings.names.map { ($0, settings.value(of: $0)!) }))
        }
        for name in GlobalSettings.names { print("\(name) = \(settings.value(of: name)!)") }
    }
}

struct SettingsSet: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Change a setting.",
        discussion: """
            harvest-cap SIZE (512MB): the harvested repository's size before the least recently used go. \
            revocation soft|hard (soft): trust a certificate whose revocation is unknown, saying so, or not. \
            revocation-ocsp yes|no (no): ask OCSP responders for certificates no CRL covers. \
            alert-window HOURS (48h): more than one updated certificate for an address or domain within it alerts.
            """)
    @OptionGroup var home: HomeOptions
    @Argument var name: String
    @Argument var value: String

    func run() throws {
        let settings = try configuring { try home.open().setGlobalSetting(name, value) }
        print("\(name) = \(settings.value(of: name)!)")
    }
}

// MARK: alerts (SPEC F22)

struct Alerts: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Alerts about harvested certificates: several updates for one address or domain (SPEC F22).",
        subcommands: [AlertsList.self, AlertsClear.self])
}

struct AlertsList: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List the stored alerts.")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let alerts = try configuring { try home.open().alerts() }
        if format.json { return try printJSON(alerts, keys: .convertToSnakeCase) }
        for alert in alerts { print(visible("\(alert.raisedAt)\t\(alert.text)\t\(alert.message)")) }
    }
}

struct AlertsClear: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "clear", abstract: "Remove every stored alert.")
    @OptionGroup var home: HomeOptions

    func run() throws {
        let cleared = try configuring { try home.open().clearAlerts() }
        print("cleared \(cleared) alert(s)")
    }
}

// MARK: keys harvested / promote / forget (SPEC F24)

struct HarvestedReport: Encodable {
    let sha256: String
    let subject: String
    let emails: [String]
    let domains: [String]
    let ca: Bool
    let verified: Bool
    let notBefore: String
    let notAfter: String
    let capabilities: [String]
    let firstSeen: String
    let lastSeen: String
    let lastUsed: String
    let message: String
}

struct KeysHarvested: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "harvested", abstract: "List certificates harvested from incoming signed mail (SPEC F21, F24).")
    @OptionGroup var home: HomeOptions
    @OptionGroup var format: JSONFlag

    func run() throws {
        let rows = try configuring { try home.open().harvestedCertificates() }
        let reports = rows.map {
            HarvestedReport(
                sha256: $0.fingerprint, subject: $0.certificate.subject, emails: $0.certificate.emailAddresses,
                domains: $0.certificate.dnsNames, ca: $0.isCA, verified: $0.verified,
                notBefore: date($0.certificate.notBefore), notAfter: date($0.certificate.notAfter),
                capabilities: $0.capabilities, firstSeen: $0.firstSeen, lastSeen: $0.lastSeen, lastUsed: $0.lastUsed,
                message: $0.message)
        }
        if format.json { return try printJSON(reports, keys: .convertToSnakeCase) }
        for r in reports {
            let names = (r.emails + r.domains).joined(separator: ",")
            let kind = r.ca ? "intermediate" : r.verified ? "verified" : "unverified"
            let shown = names.isEmpty ? r.subject : names
            print(visible("\(r.sha256.prefix(16))\t\(kind)\t\(shown)\t\(r.notAfter)\t\(r.lastUsed)"))
        }
    }
}

struct KeysPromote: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "promote",
        abstract: "Make a harvested certificate a public key (by fingerprint, or the newest valid one for an address).")
    @OptionGroup var home: HomeOptions
    @Argument(help: "A SHA-256 fingerprint prefix (8+ hex digits) or an e-mail address.") var selector: String
    @Argument(help: "The public key's name (default: its e-mail address).") var name: String?

    func run() throws {
        let (named, certificate) = try configuring { try home.open().promoteHarvested(selector, name: name) }
        print("promoted \(certificate.subject) to public key \(named)")
    }
}

struct KeysForget: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forget", abstract: "Remove harvested certificates by SHA-256 fingerprint (8+ hex digits).")
    @OptionGroup var home: HomeOptions
    @Argument var fingerprint: String

    func run() throws {
        let removed = try configuring { try home.open().forgetHarvested(fingerprint) }
        if removed == 0 { throw Failure.usage("no harvested certificate matches \"\(fingerprint)\"") }
        print("forgot \(removed) harvested certificate(s)")
    }
}
