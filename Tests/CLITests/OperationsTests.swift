import Foundation
import TestSupport
import XCTest

/// Issue 15, operations: `--metrics-file` read back by Prometheus' own parser (prometheus_client),
/// `doctor` against homes broken on purpose, `report` over real runs' manifests (its HTML rendered by
/// headless Chromium), and the contrib units checked by `systemd-analyze verify`.
final class OperationsTests: CLITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
    }

    /// A maildir of `count` plain messages from alice, plus `junk` files that are no messages.
    func spool(_ name: String, count: Int, junk: Int = 0) throws -> String {
        var messages: [String: String] = [:]
        for i in 0..<count {
            messages["\(1_700_000_000 + i).M\(i)P1.ops"] =
                "From: alice@example.com\nTo: bob@partner.example\nSubject: ops \(i)\n"
                + "Message-ID: <ops-\(i)@example.com>\n\nline \(i)\n"
        }
        for i in 0..<junk { messages["\(1_700_100_000 + i).J\(i)P1.ops"] = "\u{1}\u{2} not a message at all" }
        return try maildir(name, messages)
    }

    struct Exposition: Decodable {
        let families: [String: String]
        let samples: [Sample]

        struct Sample: Decodable {
            let name: String
            let labels: [String: String]
            let value: Double
            init(from decoder: Decoder) throws {
                var list = try decoder.unkeyedContainer()
                name = try list.decode(String.self)
                labels = try list.decode([String: String].self)
                value = try list.decode(Double.self)
            }
        }

        func value(_ name: String, _ labels: [String: String]) -> Double? {
            samples.first { $0.name == name && $0.labels == labels }?.value
        }
    }

    /// The file as the reference parser reads it (it fails the test if the parser refuses it).
    func parsed(_ file: String, line: UInt = #line) throws -> Exposition {
        let result = try runProcess(
            Paths.python, [Paths.packageRoot.appendingPathComponent("Tests/peers/prometheus_parse.py").path, file])
        XCTAssertEqual(result.status, 0, result.stderr, line: line)
        return try JSONDecoder().decode(Exposition.self, from: Data(result.stdout))
    }

    // MARK: --metrics-file

    func testMetricsFileIsPrometheusTextWithCountersSummedOverRuns() throws {
        try FileManager.default.createDirectory(atPath: path("textfile"), withIntermediateDirectories: true)
        let metrics = path("textfile/smimegate.prom")
        let before = Date().timeIntervalSince1970.rounded(.down)
        try smimegate([
            "process", "outgoing", try spool("one", count: 3), "--out", path("out1"), "--metrics-file", metrics,
        ])
        .expect(0)
        var exposition = try parsed(metrics)
        let outgoing = ["direction": "outgoing"]
        XCTAssertEqual(exposition.families["smimegate_messages"], "counter")
        XCTAssertEqual(exposition.families["smimegate_last_run_timestamp_seconds"], "gauge")
        XCTAssertEqual(exposition.value("smimegate_messages_total", ["direction": "outgoing", "outcome": "signed"]), 3)
        XCTAssertEqual(exposition.value("smimegate_messages_total", ["direction": "outgoing", "outcome": "failed"]), 0)
        XCTAssertEqual(exposition.value("smimegate_input_errors_total", outgoing), 0)
        XCTAssertEqual(exposition.value("smimegate_last_run_exit_code", outgoing), 0)
        let bytes = try XCTUnwrap(exposition.value("smimegate_bytes_total", outgoing))
        let recorded = try manifestEntries(path("out1")).count
        XCTAssertEqual(recorded, 3)
        XCTAssertGreaterThan(bytes, 3 * 60)
        let firstSuccess = try XCTUnwrap(exposition.value("smimegate_last_success_timestamp_seconds", outgoing))
        XCTAssertGreaterThanOrEqual(firstSuccess, before)
        XCTAssertLessThanOrEqual(firstSuccess, Date().timeIntervalSince1970 + 1)
        XCTAssertNotNil(exposition.value("smimegate_run_duration_seconds", outgoing))
        // Every organisation certificate's notAfter, as openssl reads it.
        for (name, file) in [("alice", "alice.pem"), ("gateway", "gateway.pem"), ("carol", "carol-ec.pem")] {
            let end = try openssl(["x509", "-in", fixture(file), "-noout", "-enddate", "-dateopt", "iso_8601"])
                .expect(0).out.trimmingCharacters(in: .whitespacesAndNewlines)
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = TimeZone(identifier: "UTC")
            formatter.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
            let notAfter = try XCTUnwrap(formatter.date(from: String(end.dropFirst("notAfter=".count))), end)
            XCTAssertEqual(
                exposition.value("smimegate_certificate_expiry_timestamp_seconds", ["name": name]),
                notAfter.timeIntervalSince1970, name)
        }
        var info = stat()
        XCTAssertEqual(stat(metrics, &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o644)

        // A second run with a message that fails: counters add up, the last success stays the first run's.
        Thread.sleep(forTimeInterval: 1.1)
        try smimegate([
            "process", "outgoing", try spool("two", count: 2, junk: 1), "--out", path("out2"), "--metrics-file",
            metrics,
        ]).expect(1)
        exposition = try parsed(metrics)
        XCTAssertEqual(exposition.value("smimegate_messages_total", ["direction": "outgoing", "outcome": "signed"]), 5)
        XCTAssertEqual(exposition.value("smimegate_messages_total", ["direction": "outgoing", "outcome": "failed"]), 1)
        XCTAssertGreaterThan(try XCTUnwrap(exposition.value("smimegate_bytes_total", outgoing)), bytes)
        XCTAssertEqual(exposition.value("smimegate_last_run_exit_code", outgoing), 1)
        XCTAssertEqual(exposition.value("smimegate_last_success_timestamp_seconds", outgoing), firstSuccess)
        XCTAssertGreaterThan(
            try XCTUnwrap(exposition.value("smimegate_last_run_timestamp_seconds", outgoing)), firstSuccess)

        // An incoming job sharing the file keeps the outgoing samples and adds its own.
        try smimegate([
            "process", "incoming", path("out1/signed"), "--out", path("in"), "--metrics-file", metrics,
            "--local-domains", "partner.example",
        ]).expect(0)
        exposition = try parsed(metrics)
        XCTAssertEqual(
            exposition.value("smimegate_messages_total", ["direction": "incoming", "outcome": "verified"]), 3)
        XCTAssertEqual(exposition.value("smimegate_messages_total", ["direction": "outgoing", "outcome": "signed"]), 5)
        XCTAssertEqual(exposition.value("smimegate_last_run_exit_code", outgoing), 1)
        XCTAssertEqual(exposition.value("smimegate_last_run_exit_code", ["direction": "incoming"]), 0)
        // Replaced atomically: nothing else is left in the collector's folder.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("textfile")), ["smimegate.prom"])
    }

    func testMetricsFileThatCannotBeWrittenWarnsAndKeepsTheRunsExitStatus() throws {
        let result = try smimegate([
            "process", "outgoing", try spool("one", count: 1), "--out", path("out"),
            "--metrics-file", path("missing-folder/smimegate.prom"),
        ]).expect(0)
        XCTAssertTrue(result.stderr.contains("warning: metrics not written"), result.stderr)
        XCTAssertEqual(try manifestEntries(path("out")).count, 1)
    }

    func testManifestRecordsSayWhenTheyWereWritten() throws {
        let before = Date().addingTimeInterval(-1)
        try smimegate(["process", "outgoing", try spool("one", count: 2), "--out", path("out")]).expect(0)
        let lines = string(bytes(of: URL(fileURLWithPath: path("out/manifest.jsonl")))).split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for line in lines {
            let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let time = try XCTUnwrap(object["time"] as? String)
            XCTAssertEqual(time.count, "2026-11-30T18:05:01.123Z".count, time)
            let date = try XCTUnwrap(formatter.date(from: time), time)
            XCTAssertGreaterThanOrEqual(date, before)
            XCTAssertLessThanOrEqual(date, Date().addingTimeInterval(1))
        }
    }

    // MARK: doctor

    struct DoctorReport: Decodable {
        struct Problem: Decodable {
            let area: String
            let subject: String
            let problem: String
        }
        let problems: [Problem]
        let checked: [String: Int]
    }

    func testDoctorFindsNothingWrongWithAHealthyHome() throws {
        let out = try smimegate(["doctor"]).expect(0).out
        XCTAssertTrue(out.hasPrefix("ok: "), out)
        XCTAssertTrue(out.contains("5 certificates") && out.contains("1 profiles") && out.contains("1 CRLs"), out)
        let report = try JSONDecoder().decode(
            DoctorReport.self, from: Data(try smimegate(["doctor", "--json"]).expect(0).stdout))
        XCTAssertTrue(report.problems.isEmpty)
        XCTAssertEqual(report.checked["private keys"], 5)
    }

    func testDoctorNamesEveryProblemOnItsOwnLine() throws {
        try smimegate(["cert", "create", "soon", "--cn", "Soon", "--san-email", "soon@example.com", "--days", "5"])
            .expect(0)
        try smimegate(["profile", "create", "pp", "--mode", "sign", "--cert", "soon"]).expect(0)
        let policy = try save(
            "[content filters]\nsign: if (true) { smime-gateway(\"pp\"); }\n\n[outgoing policy default]\ncontent-filters = sign\n",
            "policy.txt")
        try smimegate(["policy", "load", policy]).expect(0)
        // A profile gone behind the policy's back (an older smimegate, a hand-edited keystore), a stray key file.
        XCTAssertEqual(
            try CLIHome(URL(fileURLWithPath: home)).sql("DELETE FROM profiles WHERE name = 'pp'"), "")
        try write("-----BEGIN PRIVATE KEY-----\n", to: URL(fileURLWithPath: home + "/stray.key"))
        chmod(home + "/stray.key", 0o644)

        let result = try smimegate(["doctor"]).expect(1)
        let lines = result.out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains { $0.hasPrefix("certificate: soon: expires in 4 day(s), on ") }, result.out)
        XCTAssertTrue(lines.contains("home: \(home)/stray.key: mode 644: readable by others (want 600)"), result.out)
        XCTAssertTrue(lines.contains { $0.hasPrefix("policy: the loaded policy: ") && $0.contains("pp") }, result.out)
        XCTAssertEqual(lines.count, 3, result.out)
        XCTAssertTrue(result.stderr.contains("3 problem(s) found"), result.stderr)
        let report = try JSONDecoder().decode(
            DoctorReport.self, from: Data(try smimegate(["doctor", "--json"]).expect(1).stdout))
        XCTAssertEqual(Set(report.problems.map(\.area)), ["certificate", "home", "policy"])

        // A longer window finds what a shorter one does not, and 0 days only what has expired.
        XCTAssertFalse(try smimegate(["doctor", "--expiry-days", "0"]).out.contains("soon"))
    }

    /// An expired organisation certificate (the fixture pyca made), a CRL past its nextUpdate and an expired
    /// root, both made by pyca for this test (the CRL signed by the test CA, so the keystore takes it).
    func testDoctorFindsExpiredCertificatesCAsAndStaleCRLs() throws {
        let script = """
            import datetime, sys
            from cryptography import x509
            from cryptography.hazmat.primitives import hashes, serialization
            from cryptography.hazmat.primitives.asymmetric import ec
            from cryptography.x509.oid import NameOID
            fixtures, out = sys.argv[1], sys.argv[2]
            ca_key = serialization.load_pem_private_key(open(fixtures + "/ca.key", "rb").read(), None)
            ca = x509.load_pem_x509_certificate(open(fixtures + "/ca.pem", "rb").read())
            now = datetime.datetime.now(datetime.timezone.utc)
            crl = (x509.CertificateRevocationListBuilder().issuer_name(ca.subject)
                   .last_update(now - datetime.timedelta(days=10)).next_update(now - datetime.timedelta(days=3))
                   .sign(ca_key, hashes.SHA256()))
            open(out + "/stale.crl", "wb").write(crl.public_bytes(serialization.Encoding.PEM))
            key = ec.generate_private_key(ec.SECP256R1())
            name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Old Root")])
            root = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                    .serial_number(7).not_valid_before(datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc))
                    .not_valid_after(datetime.datetime(2025, 1, 31, tzinfo=datetime.timezone.utc))
                    .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                    .sign(key, hashes.SHA256()))
            open(out + "/old-root.pem", "wb").write(root.public_bytes(serialization.Encoding.PEM))
            """
        let made = try runProcess(Paths.python, ["-c", script, Paths.fixtures.path, dir.path])
        XCTAssertEqual(made.status, 0, made.stderr)
        try smimegate(["cert", "import", "old", fixture("expired.pem"), "--key", fixture("expired.key")]).expect(0)
        // The fixture CRL is newer: a CRL is only ever replaced by a newer one.
        try smimegate(["ca", "crl", "remove", "CN=smimegate Test Root CA,O=smimegate tests"]).expect(0)
        try smimegate(["ca", "crl", "add", path("stale.crl")]).expect(0)
        try smimegate(["ca", "add", path("old-root.pem")]).expect(0)
        let out = try smimegate(["doctor"]).expect(1).out
        let lines = out.split(separator: "\n").map(String.init)
        XCTAssertTrue(lines.contains("certificate: old: expired on 2021-01-01 00:00:00 UTC"), out)
        XCTAssertTrue(lines.contains("ca: CN=Old Root: expired on 2025-01-31 00:00:00 UTC"), out)
        XCTAssertTrue(
            lines.contains { $0.hasPrefix("crl: CN=smimegate Test Root CA,O=smimegate tests: past its nextUpdate (") },
            out)
        XCTAssertEqual(lines.count, 3, out)
    }

    func testDoctorChecksTheHomePassphrase() throws {
        let pass = ["SMIMEGATE_PASSPHRASE_FILE": try save("home secret\n", "home.pass")]
        let encrypted = CLIHome(URL(fileURLWithPath: home))
        try encrypted.run(["home", "encrypt"], environment: pass).expect(0)
        XCTAssertTrue(try encrypted.run(["doctor"], environment: pass).expect(0).out.hasPrefix("ok: "))
        let missing = try smimegate(["doctor"]).expect(1).out
        XCTAssertTrue(missing.contains("encrypts private keys but no home passphrase was given"), missing)
        let wrong = try encrypted.run(
            ["doctor"], environment: ["SMIMEGATE_PASSPHRASE_FILE": try save("nope\n", "wrong.pass")]
        )
        .expect(1).out
        XCTAssertTrue(wrong.contains("home: \(home): wrong home passphrase"), wrong)
    }

    /// A damaged keystore: SQLite's integrity check says what, and the checks it breaks say they could not run.
    /// In the PostgreSQL pass: a table dropped behind smimegate's back.
    func testDoctorReportsADamagedKeystore() throws {
        if let url = ProcessInfo.processInfo.environment["SMIMEGATE_KEYSTORE"] {
            _ = try CLIHome(URL(fileURLWithPath: home)).sql("DROP TABLE profiles")
            let result = try smimegate(["doctor"]).expect(1)
            let location = url.replacingOccurrences(of: "?sslmode=disable", with: "")
            XCTAssertTrue(result.out.contains("keystore: \(location): table profiles is missing"), result.out)
            XCTAssertTrue(result.out.contains("profile: "), "the profile check could not run: \(result.out)")
            return
        }
        let database = home + "/keystore.sqlite"
        let root = try runProcess(
            "sqlite3", [database, "SELECT rootpage FROM sqlite_master WHERE name = 'sqlite_autoindex_certificates_1'"])
        let page = try XCTUnwrap(Int(root.out.trimmingCharacters(in: .whitespacesAndNewlines)), root.out)
        var bytes = bytes(of: URL(fileURLWithPath: database))
        // The index entry of "gateway" gets one letter changed: the table is intact, its index no longer matches it.
        let start = (page - 1) * 4096
        let name = Array("gateway".utf8)
        let at = try XCTUnwrap(
            (start..<(start + 4096 - name.count)).first { Array(bytes[$0..<($0 + name.count)]) == name })
        bytes[at] = UInt8(ascii: "G")
        try Data(bytes).write(to: URL(fileURLWithPath: database))
        let result = try smimegate(["doctor"]).expect(1)
        XCTAssertTrue(result.out.contains("keystore: keystore.sqlite: "), result.out)
        XCTAssertTrue(result.out.contains("missing from index sqlite_autoindex_certificates_1"), result.out)
    }

    // MARK: report

    struct ReportJSON: Decodable {
        struct Run: Decodable {
            let directory: String
            let records: Int
            let first: String?
        }
        struct Reason: Decodable {
            let outcome: String
            let code: String
            let count: Int
            let example: String
        }
        struct Pace: Decodable {
            let intervalSeconds: Double
            let messages: [Int]
        }
        let runs: [Run]
        let outcomes: [String: [String: Int]]
        let reasons: [Reason]
        let messages: Int
        let pace: Pace?
        let medianMs: Double?
    }

    /// Two real runs (outgoing, then incoming over what it signed) and a manifest whose reason carries markup.
    func reportRuns() throws -> [String] {
        try smimegate([
            "process", "outgoing", try spool("spool", count: 30, junk: 2), "--out", path("out"), "--no-progress",
        ])
        .expect(1)
        try smimegate([
            "process", "incoming", path("out/signed"), "--out", path("in"), "--local-domains", "partner.example",
        ]).expect(0)
        try FileManager.default.createDirectory(atPath: path("hostile"), withIntermediateDirectories: true)
        try write(
            "{\"bytes\":10,\"direction\":\"incoming\",\"elapsed_ms\":1,\"input\":\"/x\",\"outcome\":\"unverified\","
                + "\"outputs\":[],\"reason\":\"From <script>alert('x')</script> & <img src=http://evil.example/>\","
                + "\"reason_code\":\"signature-failed\",\"time\":\"2026-11-30T10:00:00.000Z\"}\nnot a record\n{\"cut short",
            to: URL(fileURLWithPath: path("hostile/manifest.jsonl")))
        return [path("out"), path("in"), path("hostile")]
    }

    func testReportMergesTheManifestsOfSeveralRuns() throws {
        let directories = try reportRuns()
        let text = try smimegate(["report"] + directories).expect(0).out
        let lines = text.split(separator: "\n").map { $0.split(separator: " ").joined(separator: " ") }
        XCTAssertTrue(
            lines.first?.hasPrefix("63 message(s), ") == true && lines.first?.hasSuffix(" MB in 3 run(s)") == true, text
        )
        XCTAssertTrue(lines.contains("outgoing/signed 30"), text)
        XCTAssertTrue(lines.contains("outgoing/failed 2"), text)
        XCTAssertTrue(lines.contains("incoming/verified 30"), text)
        XCTAssertTrue(lines.contains("incoming/unverified 1"), text)
        XCTAssertTrue(lines.contains { $0.hasPrefix("\(path("hostile")): 1 record(s), 1 unreadable line(s), ") }, text)
        // Failed first, then by count.
        let reasons = lines.drop { $0 != "reasons (failed first):" }.dropFirst()
        XCTAssertTrue(reasons.first?.hasPrefix("2 failed unreadable: not an RFC 5322 message") == true, text)
        XCTAssertTrue(text.contains("time per message: median "), text)

        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let report = try decoder.decode(
            ReportJSON.self, from: Data(try smimegate(["report", "--json"] + directories).expect(0).stdout))
        XCTAssertEqual(report.messages, 63)
        XCTAssertEqual(report.runs.map(\.records), [32, 30, 1])
        XCTAssertEqual(report.outcomes["outgoing"], ["signed": 30, "failed": 2])
        XCTAssertEqual(report.outcomes["incoming"], ["verified": 30, "unverified": 1])
        XCTAssertEqual(report.reasons.first?.count, 2)
        // The pace covers every timed record, hostile one included.
        let pace = try XCTUnwrap(report.pace)
        XCTAssertEqual(pace.messages.reduce(0, +), 63)
        XCTAssertLessThanOrEqual(pace.messages.count, 120)

        XCTAssertTrue(try smimegate(["report", path("nowhere")]).expect(2).stderr.contains("nowhere/manifest.jsonl"))
    }

    /// The page is one self-contained file that loads nothing, shows markup from manifests as text, and
    /// draws: headless Chromium renders it, and the screenshot has the charts' colours in it.
    func testReportHTMLIsSelfContainedEscapedAndRendersInChromium() throws {
        let directories = try reportRuns()
        let page = path("report.html")
        try smimegate(["report", "--html", page] + directories).expect(0)
        let html = string(bytes(of: URL(fileURLWithPath: page)))
        XCTAssertTrue(
            html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &lt;img src=http://evil.example/&gt;"))
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("<img"))
        for external in ["href=", "src=\"", "@import", "url(", "https://"] {
            XCTAssertFalse(html.contains(external), external)
        }
        XCTAssertTrue(html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'\""))

        let screenshot = path("report.png")
        let chromium = try runProcess(
            "chromium",
            [
                "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--window-size=1000,1400",
                "--screenshot=\(screenshot)", URL(fileURLWithPath: page).absoluteString,
            ])
        XCTAssertEqual(chromium.status, 0, chromium.stderr)
        let measured = try runProcess(
            Paths.python,
            [
                Paths.packageRoot.appendingPathComponent("Tests/peers/png_ink.py").path, screenshot, "#27ae60",
                "#c0392b", "#2c7fb8",
            ])
        XCTAssertEqual(measured.status, 0, measured.stderr)
        struct Ink: Decodable {
            let width: Int
            let ink: Double
            let colours: Int
            let counts: [String: Int]
        }
        let ink = try JSONDecoder().decode(Ink.self, from: Data(measured.stdout))
        XCTAssertEqual(ink.width, 1000)
        XCTAssertGreaterThan(ink.ink, 0.03, "the page is blank")
        XCTAssertGreaterThan(ink.colours, 20)
        XCTAssertGreaterThan(ink.counts["#27ae60", default: 0], 2000, "the signed/verified bars")
        XCTAssertGreaterThan(ink.counts["#c0392b", default: 0], 50, "the failed bar")
        XCTAssertGreaterThan(ink.counts["#2c7fb8", default: 0], 50, "the pace columns")
    }

    // MARK: contrib/

    var contrib: URL { Paths.packageRoot.appendingPathComponent("contrib") }

    /// A contrib command line with the example paths replaced by this test's (and the relay by `relay`).
    func localised(_ command: String, relay: String) -> String {
        command.replacingOccurrences(of: "/usr/local/bin/smimegate", with: Paths.binary.path)
            .replacingOccurrences(of: "/var/spool/smimegate", with: path("spool"))
            .replacingOccurrences(of: "/var/lib/smimegate/out", with: path("out"))
            .replacingOccurrences(of: "/var/lib/prometheus/node-exporter", with: path("textfile"))
            .replacingOccurrences(of: "smtp://127.0.0.1:10026", with: relay)
    }

    /// systemd's own checker accepts the units (the manual they name is the one scripts/install.sh installs).
    func testSystemdUnitsVerify() throws {
        let units = path("units")
        try FileManager.default.createDirectory(atPath: units, withIntermediateDirectories: true)
        for name in ["smimegate-outgoing.service", "smimegate-outgoing.timer"] {
            let text = string(bytes(of: contrib.appendingPathComponent("systemd/" + name)))
            try write(localised(text, relay: "smtp://127.0.0.1:10026"), to: URL(fileURLWithPath: units + "/" + name))
        }
        let manuals = Paths.packageRoot.appendingPathComponent(".build/install-test/share/man").path
        let verify = try runProcess(
            "systemd-analyze", ["verify", units + "/smimegate-outgoing.service", units + "/smimegate-outgoing.timer"],
            environment: ["MANPATH": manuals])
        XCTAssertEqual(verify.status, 0, verify.stderr)
        XCTAssertEqual(verify.stderr, "", "systemd-analyze warnings")
        let service = string(bytes(of: contrib.appendingPathComponent("systemd/smimegate-outgoing.service")))
        for hardening in ["ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes", "ReadWritePaths="] {
            XCTAssertTrue(service.contains("\n" + hardening), hardening)
        }
    }

    /// The service's command line, run as it stands (paths and relay made local): it empties the spool,
    /// hands every signed copy to the relay and writes the metrics.
    func testTheServiceCommandLineDoesItsJob() throws {
        let service = string(bytes(of: contrib.appendingPathComponent("systemd/smimegate-outgoing.service")))
        let start = try XCTUnwrap(service.range(of: "\nExecStart="))
        var line = ""
        for part in service[start.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            line += part.hasSuffix("\\") ? String(part.dropLast()) + " " : String(part)
            if !part.hasSuffix("\\") { break }
        }
        let server = try SMTPPeer(dir)
        defer { server.stop() }
        _ = try spool("spool", count: 4)
        try FileManager.default.createDirectory(atPath: path("textfile"), withIntermediateDirectories: true)
        let words = localised(line, relay: server.url).split(separator: " ").map(String.init)
        XCTAssertEqual(words.first, Paths.binary.path)
        let result = try runProcess(words[0], Array(words.dropFirst()), environment: ["SMIMEGATE_HOME": home])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("spool/new")), [], "consumed")
        XCTAssertEqual(server.received.count, 4)
        XCTAssertTrue(
            string(bytes(of: URL(fileURLWithPath: path("textfile/smimegate.prom")))).contains(
                "smimegate_messages_total{direction=\"outgoing\",outcome=\"signed\"} 4"))
    }

    /// Every cron line has five time fields, the user and a command; the commands run as written.
    func testCronLinesRun() throws {
        let server = try SMTPPeer(dir)
        defer { server.stop() }
        _ = try spool("spool", count: 2)
        try FileManager.default.createDirectory(atPath: path("textfile"), withIntermediateDirectories: true)
        let lines = string(bytes(of: contrib.appendingPathComponent("cron/smimegate"))).split(separator: "\n")
            .filter { $0.first.map { $0.isNumber || $0 == "*" || $0 == "@" } == true }
        XCTAssertEqual(lines.count, 2)
        for (index, line) in lines.enumerated() {
            let fields = line.split(separator: " ", maxSplits: 6, omittingEmptySubsequences: true)
            XCTAssertEqual(fields.count, 7, String(line))
            XCTAssertEqual(fields[5], "smimegate", "the user field")
            let shell = try runProcess(
                "sh", ["-c", localised(String(fields[6]), relay: server.url)], environment: ["SMIMEGATE_HOME": home])
            // Cron ignores the exit status (the daily line ends in grep, which finds nothing to show) but mails output.
            if index == 0 { XCTAssertEqual(shell.status, 0, "\(fields[6]): \(shell.stderr)") }
            XCTAssertEqual(shell.out, "", "cron mails any output: a healthy run prints nothing")
            XCTAssertEqual(shell.stderr, "", "cron mails any output: a healthy run prints nothing")
        }
        XCTAssertEqual(server.received.count, 2)
    }
}
