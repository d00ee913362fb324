import ArgumentParser
import CMS
import Foundation
import Keystore
import PKI
import Pipeline
import Policy

/// `smimegate doctor`: everything about a home that would make a cron run fail or a partner's mail bounce,
/// found before it does — one line per problem, exit 1 when there is any.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract:
            "Check the home: modes, the keystore's integrity, the passphrase, certificates, profiles, policy, CAs, "
            + "CRLs.",
        discussion: """
            Checks that the home is a directory of ours with mode 0700 and its files 0600; SQLite's \
            integrity_check; that an encrypted home was given its passphrase and that it opens every private key; \
            organisation certificates that have expired, expire within --expiry-days (default 30) or can neither \
            sign nor receive encrypted mail; sending profiles that name a missing, retired or unusable certificate; \
            a loaded policy that no longer checks (a profile it names is gone); trusted CAs (none, or expired); \
            CRLs past their nextUpdate; harvest alerts not yet cleared. Prints one line per problem \
            ('AREA: SUBJECT: problem') or 'ok' with what was checked; --json prints both as JSON. Exit 0 when \
            nothing is wrong, 1 when something is, 2 when the home cannot be opened at all.
            """)
    @OptionGroup var home: HomeOptions
    @Option(help: "Certificates expiring within this many days are a problem.") var expiryDays = 30
    @Flag(help: "Print JSON instead of text.") var json = false

    func validate() throws {
        if expiryDays < 0 { throw ValidationError("--expiry-days takes 0 or more days") }
    }

    struct Problem: Encodable {
        let area: String
        let subject: String
        let problem: String
        var line: String { visible("\(area): \(subject): \(problem)") }
    }

    func run() throws {
        let checkup = try Checkup(home: home, within: TimeInterval(expiryDays) * 86_400)
        if json {
            struct Report: Encodable {
                let problems: [Problem]
                let checked: [String: Int]
            }
            try printJSON(Report(problems: checkup.problems, checked: checkup.checked))
        } else if checkup.problems.isEmpty {
            print(
                "ok: "
                    + checkup.checked.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", ")
            )
        } else {
            for problem in checkup.problems { print(problem.line) }
        }
        if !checkup.problems.isEmpty {
            throw Failure.problem("\(checkup.problems.count) problem(s) found")
        }
    }

    /// The checks, in the order printed.
    struct Checkup {
        var problems: [Problem] = []
        /// How many of each thing were looked at ("certificates": 3, ...).
        var checked: [String: Int] = [:]
        let now = Date()

        init(home options: HomeOptions, within window: TimeInterval) throws {
            let home = options.url
            checkFiles(home)
            let store: Keystore
            store = try options.open()
            // The SQLite file by its name (it is in the home), a PostgreSQL keystore by its URL.
            let subject =
                store.location.hasPrefix("sqlite:")
                ? URL(fileURLWithPath: String(store.location.dropFirst("sqlite:".count))).lastPathComponent
                : store.location
            // A damaged keystore may fail any query: each check that cannot run is a problem of its own.
            attempt("keystore") {
                for problem in try store.integrityProblems() {
                    $0.problems.append(Problem(area: "keystore", subject: subject, problem: problem))
                }
                $0.checked["keystore integrity checks", default: 0] += 1
            }
            attempt("keys") { try $0.checkKeys(store, home: home) }
            attempt("certificate") { try $0.checkCertificates(store, within: window) }
            attempt("profile") { try $0.checkProfiles(store) }
            attempt("policy") { try $0.checkPolicy(store) }
            attempt("ca") { try $0.checkTrust(store) }
            attempt("alerts") {
                let alerts = try store.alerts()
                if !alerts.isEmpty {
                    $0.problems.append(
                        Problem(
                            area: "alerts", subject: "\(alerts.count) alert(s)",
                            problem: "certificates updated more than once in the alert window, not yet cleared "
                                + "(smimegate alerts list)"))
                }
            }
        }

        mutating func attempt(_ area: String, _ check: (inout Checkup) throws -> Void) {
            do { try check(&self) } catch {
                let reason = (error as? KeystoreError)?.reason ?? (error as? Failure)?.message ?? "\(error)"
                problems.append(Problem(area: area, subject: "check", problem: "could not run: \(reason)"))
            }
        }

        /// The home is ours, 0700, and no file in it is readable by others (the keystore holds private keys).
        mutating func checkFiles(_ home: URL) {
            var info = stat()
            guard lstat(home.path, &info) == 0 else { return }  // opening the keystore says what is missing
            if info.st_mode & S_IFMT != S_IFDIR {
                problems.append(Problem(area: "home", subject: home.path, problem: "is not a directory"))
                return
            }
            if info.st_uid != geteuid() {
                problems.append(
                    Problem(
                        area: "home", subject: home.path, problem: "belongs to uid \(info.st_uid), not to this user"))
            }
            if info.st_mode & 0o077 != 0 {
                problems.append(
                    Problem(
                        area: "home", subject: home.path,
                        problem:
                            "mode \(String(info.st_mode & 0o777, radix: 8)): others may read or enter it (want 700)"))
            }
            let names = (try? FileManager.default.contentsOfDirectory(atPath: home.path)) ?? []
            for name in names.sorted() {
                let path = home.appendingPathComponent(name).path
                guard lstat(path, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { continue }
                checked["home files", default: 0] += 1
                if info.st_mode & 0o077 != 0 {
                    problems.append(
                        Problem(
                            area: "home", subject: path,
                            problem: "mode \(String(info.st_mode & 0o777, radix: 8)): readable by others (want 600)"))
                }
            }
        }

        /// An encrypted home needs its passphrase, and the passphrase must open every private key.
        mutating func checkKeys(_ store: Keystore, home: URL) throws {
            guard try store.privateKeyCount() > 0 else { return }
            if try store.keyProtection == .homePassphrase && !store.hasPassphrase {
                problems.append(
                    Problem(
                        area: "home", subject: home.path,
                        problem: "encrypts private keys but no home passphrase was given (--home-passphrase-file "
                            + "or $SMIMEGATE_PASSPHRASE_FILE): process, sign and decrypt would refuse to run"))
                return
            }
            do {
                try store.checkPrivateKeyAccess(storing: false)
            } catch let error as KeystoreError where error.kind == .wrongPassphrase {
                problems.append(Problem(area: "home", subject: home.path, problem: error.reason))
                return
            }
            do {
                checked["private keys", default: 0] += try store.identities().count
            } catch {
                problems.append(
                    Problem(area: "keys", subject: home.path, problem: "cannot open the private keys: \(error)"))
            }
        }

        mutating func checkCertificates(_ store: Keystore, within window: TimeInterval) throws {
            for entry in try store.certificates() where entry.retired == nil {
                checked["certificates", default: 0] += 1
                let certificate = entry.certificate
                let until = Requirements.day(certificate.notAfter)
                if certificate.notAfter < now {
                    problems.append(Problem(area: "certificate", subject: entry.name, problem: "expired on \(until)"))
                    continue
                }
                if certificate.notAfter < now.addingTimeInterval(window) {
                    let days = Int(certificate.notAfter.timeIntervalSince(now) / 86_400)
                    problems.append(
                        Problem(
                            area: "certificate", subject: entry.name,
                            problem:
                                "expires in \(days) day(s), on \(until): renew it (smimegate cert csr \(entry.name))"
                        ))
                }
                let signing = Requirements.signingProblems(certificate, at: now)
                let encryption = Requirements.encryptionProblems(certificate, at: now)
                if !signing.isEmpty && !encryption.isEmpty {
                    problems.append(
                        Problem(
                            area: "certificate", subject: entry.name,
                            problem: "can neither sign (\(signing.joined(separator: "; "))) nor receive encrypted mail "
                                + "(\(encryption.joined(separator: "; ")))"))
                }
            }
        }

        /// Every profile as `process outgoing` would load it: a missing, retired or unusable certificate.
        mutating func checkProfiles(_ store: Keystore) throws {
            let profiles = ProfileStore(store: store)
            for profile in try profiles.all() {
                checked["profiles", default: 0] += 1
                for problem in try profiles.problems(profile, checkUsability: true) {
                    problems.append(Problem(area: "profile", subject: profile.name, problem: problem))
                }
            }
        }

        /// The loaded policy checked again against the profiles stored now.
        mutating func checkPolicy(_ store: Keystore) throws {
            let book = KeystoreRepositories(store).policyBook
            let stored: StoredPolicy?
            do {
                stored = try book.current()?.stored
            } catch {
                problems.append(Problem(area: "policy", subject: "the loaded policy", problem: "\(error)"))
                return
            }
            guard let stored else { return }
            checked["policies", default: 0] += 1
            do {
                _ = try book.check(stored.text)
            } catch let error as PolicyStoreError {
                for problem in error.problems {
                    problems.append(Problem(area: "policy", subject: "the loaded policy", problem: "\(problem)"))
                }
            }
        }

        mutating func checkTrust(_ store: Keystore) throws {
            let authorities = try store.certificateAuthorityList()
            if !authorities.contains(where: \.anchor) {
                problems.append(
                    Problem(
                        area: "ca", subject: "trusted CAs",
                        problem: "none: no incoming signature can verify (smimegate ca add FILE, or ca add --system)"))
            }
            for authority in authorities {
                checked["CA certificates", default: 0] += 1
                if authority.certificate.notAfter < now {
                    problems.append(
                        Problem(
                            area: "ca", subject: authority.certificate.subject,
                            problem: "expired on \(Requirements.day(authority.certificate.notAfter))"))
                }
            }
            for list in try store.revocationListSummaries() {
                checked["CRLs", default: 0] += 1
                if let next = list.nextUpdate, next < now {
                    problems.append(
                        Problem(
                            area: "crl", subject: list.issuer,
                            problem: "past its nextUpdate (\(Requirements.day(next))): smimegate ca crl update, or add "
                                + "a newer one"))
                }
            }
        }
    }
}
