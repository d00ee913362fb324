import Foundation
import TestSupport
import XCTest

/// SPEC F32 and issue 8: what a cron deployment relies on. Each test stages the
/// situation for real — a full file system (tmpfs), two overlapping processes,
/// FIFOs and symbolic links in the spool, signals — and checks that no message is
/// lost, duplicated, or leaked, and that the exit code says what happened.
final class CronTests: CLITestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        try smimegate(["profile", "create", "default", "--mode", "sign", "--cert", "alice"]).expect(0)
    }

    override func tearDownWithError() throws {
        for mount in mounts.reversed() { _ = try? runProcess("umount", ["-l", mount]) }
        mounts = []
        try super.tearDownWithError()
    }

    var mounts: [String] = []

    // MARK: Helpers

    func records(_ out: String) throws -> [ManifestEntry] { try manifestEntries(out) }

    /// A maildir spool of `count` messages from alice, each about 4 KB.
    @discardableResult
    func spool(_ name: String, count: Int, first: Int = 0) throws -> String {
        let root = path(name)
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        for i in first..<(first + count) {
            let text =
                "From: alice@example.com\nTo: bob@partner.example\nSubject: \(i)\n"
                + "Message-ID: <cron-\(i)@example.com>\n\n"
                + String(repeating: "line \(i) of a message in a cron spool\n", count: 100)
            try write(text, to: URL(fileURLWithPath: root + "/new/\(1_700_000_000 + i).M\(i)P1.host"))
        }
        return root
    }

    func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = Paths.binary
        process.arguments = ["--home", home] + arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Waits until `condition` holds (or fails the test after `seconds`).
    func wait(_ seconds: Double, _ what: String, until condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(seconds)
        while !condition() {
            if Date() > deadline {
                XCTFail("timed out waiting for \(what)")
                return
            }
            usleep(10_000)
        }
    }

    func lineCount(_ out: String) -> Int {
        string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n").count
    }

    func mountTmpfs(_ directory: String, size: String) throws {
        XCTAssertEqual(getuid(), 0, "the disk-full test mounts a tmpfs: run the suite as root (CI does)")
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try runProcess("mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", directory]).expect(0)
        mounts.append(directory)
    }

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? -1
    }

    // MARK: 1. Failures stop the run, never lose a message

    func testAFullDiskStopsTheRunWithExit75AndResumeLosesNothing() throws {
        let inbox = try spool("in", count: 300)
        let reference = path("reference")
        try smimegate(["process", "outgoing", inbox, "--out", reference, "--workers", "2"]).expect(0)

        let out = path("small")
        try mountTmpfs(out, size: "600k")
        let full = try smimegate(["process", "outgoing", inbox, "--out", out, "--workers", "2"]).expect(75)
        XCTAssertTrue(full.stderr.contains("No space left on device"), full.stderr)
        XCTAssertTrue(full.stderr.contains("--resume"), full.stderr)
        XCTAssertLessThanOrEqual(
            full.stderr.split(separator: "\n").count, 2, "one line, not one per message: \(full.stderr)")
        let partial = try records(out)
        XCTAssertGreaterThan(partial.count, 0)
        XCTAssertLessThan(partial.count, 300, "the disk filled before the end")
        XCTAssertFalse(partial.contains { $0.outcome == "failed" }, "a write error is never a message's failure")
        for record in partial {
            for output in record.outputs {
                XCTAssertTrue(
                    FileManager.default.fileExists(atPath: out + "/" + output.file),
                    "recorded but missing: \(output.file)")
            }
        }

        try runProcess("mount", ["-o", "remount,size=64m", out]).expect(0)
        try smimegate(["process", "outgoing", inbox, "--out", out, "--workers", "2", "--resume"]).expect(0)
        let got = try records(out)
        XCTAssertEqual(got.count, 300, "exactly one record per input")
        XCTAssertEqual(Set(got), Set(try records(reference)), "the records of an uninterrupted run")
        XCTAssertEqual(
            try delivered(out), try delivered(reference), "the outputs of an uninterrupted run, none in tmp/")
    }

    // MARK: 2. One run per output directory

    /// A client moving mail from new/ to cur/ by link and unlink leaves a message in both for a
    /// moment: the two copies (one key) were delivered at once under one temporary name, and the
    /// second rename failed the run (exit 75). Each delivery's temporary file is now its own.
    func testAMessageInBothNewAndCurDoesNotFailTheRun() throws {
        // One message and its copy: handed to the two workers together (the race is a matter of
        // timing, so it is run many times; the old code failed about one run in three).
        let inbox = try spool("in", count: 1)
        for name in try FileManager.default.contentsOfDirectory(atPath: inbox + "/new") {
            try FileManager.default.copyItem(atPath: inbox + "/new/" + name, toPath: inbox + "/cur/" + name + ":2,S")
        }
        for round in 0..<40 {
            let out = path("out-\(round)")
            try smimegate(["process", "outgoing", inbox, "--out", out, "--workers", "2", "--no-progress"]).expect(0)
            XCTAssertEqual(try delivered(out).filter { $0.contains("/new/") }.count, 1, "one output file")
            XCTAssertTrue(try delivered(out).allSatisfy { !$0.contains("/tmp/") })
        }
    }

    func testASecondRunIntoTheSameDirectoryExits75NamingTheHolder() throws {
        let inbox = try spool("in", count: 1500)
        let out = path("out")
        let first = try start(["process", "outgoing", inbox, "--out", out, "--workers", "1", "--no-progress"])
        wait(60, "the first run's first records") { lineCount(out) > 0 }
        let second = try smimegate(["process", "outgoing", inbox, "--out", out, "--resume"])
        XCTAssertTrue(first.isRunning, "the second run was tried while the first still ran")
        second.expect(75)
        XCTAssertTrue(second.stderr.contains("PID \(first.processIdentifier)"), second.stderr)

        // --wait-lock waits for the first run to end, then finds everything done.
        let waiting = try smimegate([
            "process", "outgoing", inbox, "--out", out, "--resume", "--wait-lock", "120", "--json",
        ])
        waiting.expect(0)
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertTrue(waiting.out.contains("\"skipped\" : 1500"), waiting.out)
        let got = try records(out)
        XCTAssertEqual(got.count, 1500)
        XCTAssertEqual(Set(got.map(\.input)).count, 1500, "no input recorded twice")
        XCTAssertFalse(got.contains { $0.outcome != "signed" }, "no spurious failures")
        XCTAssertTrue(try delivered(out).allSatisfy { !$0.contains("/tmp/") })
    }

    // MARK: 4. Only regular files are read

    func testFifosSymlinksDirectoriesAndOddNamesAreReportedNeverReadNeverHang() throws {
        let inbox = try spool("in", count: 3)
        XCTAssertEqual(mkfifo(inbox + "/new/a-fifo", 0o644), 0)
        XCTAssertEqual(symlink("/etc/passwd", inbox + "/new/a-link"), 0)
        try FileManager.default.createDirectory(atPath: inbox + "/cur/a-directory", withIntermediateDirectories: true)
        let odd = inbox + "/new/caf\u{FFFD}"  // replaced below by a name with a raw 0xE9 byte
        try write(
            "From: alice@example.com\nTo: bob@partner.example\nSubject: odd\n\nodd name\n",
            to: URL(fileURLWithPath: odd))
        let rawName = Array((inbox + "/new/caf").utf8) + [0xE9, 0]
        XCTAssertEqual(rename(odd, rawName.map { CChar(bitPattern: $0) }), 0)

        // `timeout` ends a run that hangs on the FIFO (exit 124) instead of hanging the suite.
        let run = try runProcess(
            "timeout",
            ["60", Paths.binary.path, "--home", home, "process", "outgoing", inbox, "--out", path("out2"), "--json"])
        run.expect(1)
        XCTAssertTrue(run.stderr.contains("a-fifo: a FIFO"), run.stderr)
        XCTAssertTrue(run.stderr.contains("a-link: a symbolic link, not followed"), run.stderr)
        XCTAssertTrue(run.stderr.contains("a-directory: a directory"), run.stderr)
        XCTAssertTrue(run.stderr.contains("caf\\xE9: the file name is not plain UTF-8 text"), run.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(run.stdout)) as? [String: Any]
        XCTAssertEqual((summary?["input_errors"] as? [String])?.count, 4)
        let got = try records(path("out2"))
        XCTAssertEqual(got.count, 4, "the three messages and the oddly named one")
        XCTAssertTrue(got.contains { $0.input.hasSuffix("caf\\xE9") && $0.outcome == "signed" })
        for file in try delivered(path("out2")) {
            XCTAssertFalse(string(read("out2/" + file)).contains("root:x:0:0"), "/etc/passwd leaked into \(file)")
        }
    }

    func testAnUnreadableFileIsReported() throws {
        let inbox = try spool("in", count: 2)
        let locked = inbox + "/new/locked"
        try write("From: alice@example.com\nTo: bob@partner.example\n\nsecret\n", to: URL(fileURLWithPath: locked))
        XCTAssertEqual(chmod(locked, 0), 0)
        // Root reads any file; without CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH it obeys the mode like anyone.
        let run = try runProcess(
            "setpriv",
            ["--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", Paths.binary.path, "--home", home]
                + ["process", "outgoing", inbox, "--out", path("out")])
        run.expect(1)
        XCTAssertTrue(run.stderr.contains("locked: cannot read (Permission denied)"), run.stderr)
        XCTAssertEqual(try records(path("out")).count, 2)
    }

    // MARK: 3. Consume the spool

    func testConsumeRemovesEachInputOnceRecordedAndRunsForeverFromCron() throws {
        let inbox = try spool("spool", count: 20)
        try write(
            "From: alice@example.com\nTo: bob@partner.example\nSubject: seen\n\nread already\n",
            to: URL(fileURLWithPath: inbox + "/cur/1700000999.M1P1.host:2,S"))
        let out = path("out")
        var total = 21
        for round in 0..<3 {
            try smimegate(["process", "outgoing", inbox, "--out", out, "--resume", "--consume"]).expect(0)
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"), [], "round \(round)")
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox + "/cur"), [], "round \(round)")
            XCTAssertEqual(try records(out).count, total)
            try spool("spool", count: 5, first: 100 + round * 5)  // new mail arrives between cron runs
            total += 5
        }
        try smimegate(["process", "outgoing", inbox, "--out", out, "--resume", "--consume"]).expect(0)
        let got = try records(out)
        XCTAssertEqual(got.count, total)
        XCTAssertEqual(Set(got.map(\.input)).count, total, "no input recorded twice")
    }

    func testConsumedIntoKeepsMaildirFlagsAndMboxIsRefused() throws {
        let inbox = try spool("spool", count: 2)
        let seen = "1700000999.M1P1.host:2,RS"
        try write(
            "From: alice@example.com\nTo: bob@partner.example\n\nflagged\n",
            to: URL(fileURLWithPath: inbox + "/cur/" + seen))
        let archive = path("archive")
        try smimegate(["process", "outgoing", inbox, "--out", path("out"), "--consume", "--consumed-into", archive])
            .expect(0)
        XCTAssertTrue(FileManager.default.fileExists(atPath: archive + "/cur/" + seen), "moved with its flags")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: archive + "/new").count, 2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"), [])

        let text = "From a Sun Nov 29 10:00:00 2026\nFrom: alice@example.com\nTo: b@c.example\n\nx\n"
        let mbox = try save(text, "box.mbox")
        let refused = try smimegate(["process", "outgoing", mbox, "--out", path("out3"), "--consume"]).expect(2)
        XCTAssertTrue(refused.stderr.contains("an mbox file is never modified"), refused.stderr)
        XCTAssertEqual(string(read("box.mbox")), text, "the mbox is untouched")
    }

    func testAKilledConsumingRunLosesAndDuplicatesNothing() throws {
        let inbox = try spool("spool", count: 400)
        let inputs = Set(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"))
        let out = path("out")
        for delay in [0.3, 0.8] {
            let process = try start([
                "process", "outgoing", inbox, "--out", out, "--resume", "--consume", "--workers", "2",
            ])
            usleep(useconds_t(delay * 1_000_000))
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            // Every input is either still in the spool or recorded (or both, if killed between the two).
            let left = Set(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"))
            let recorded = Set(try records(out).map { ($0.input as NSString).lastPathComponent })
            XCTAssertEqual(left.union(recorded), inputs, "no message lost after a kill at \(delay) s")
        }
        try smimegate(["process", "outgoing", inbox, "--out", out, "--resume", "--consume"]).expect(0)
        let got = try records(out)
        XCTAssertEqual(got.count, 400)
        XCTAssertEqual(Set(got.map(\.input)).count, 400)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"), [])
    }

    // MARK: 5. Signals

    func testSigtermLetsInFlightMessagesFinishThenResumeCompletes() throws {
        let inbox = try spool("in", count: 1500)
        let reference = path("reference")
        try smimegate(["process", "outgoing", inbox, "--out", reference]).expect(0)
        let out = path("out")
        for (signal, code) in [(SIGTERM, Int32(143)), (SIGINT, Int32(130))] {
            let process = try start(["process", "outgoing", inbox, "--out", out, "--workers", "1", "--resume"])
            let before = lineCount(out)
            wait(60, "records to appear") { lineCount(out) > before + 10 }
            kill(process.processIdentifier, signal)
            let sent = Date()
            process.waitUntilExit()
            XCTAssertLessThan(Date().timeIntervalSince(sent), 5, "stopped within a few seconds")
            XCTAssertEqual(process.terminationStatus, code)
            let text = string(read("out/manifest.jsonl"))
            XCTAssertTrue(text.hasSuffix("\n"), "the manifest ends with a whole record")
            XCTAssertLessThan(lineCount(out), 1500, "stopped before the end")
        }
        try smimegate(["process", "outgoing", inbox, "--out", out, "--resume"]).expect(0)
        XCTAssertEqual(Set(try records(out)), Set(try records(reference)))
        XCTAssertEqual(try delivered(out), try delivered(reference))
    }

    // MARK: 6. Security

    func testEveryAuthorAddressMustBeCoveredBySigningCertificate() throws {
        let inbox = try spool("in", count: 0)
        let messages = [
            "two-in-one": "From: alice@example.com, ceo@other.test\nTo: bob@partner.example\n\nhello\n",
            "two-fields": "From: alice@example.com\nFrom: ceo@other.test\nTo: bob@partner.example\n\nhello\n",
            "sender": "From: alice@example.com\nSender: ceo@other.test\nTo: bob@partner.example\n\nhello\n",
            "trailing-dot": "From: Alice <alice@example.com.>\nTo: bob@partner.example\n\nhello\n",
        ]
        for (name, text) in messages { try write(text, to: URL(fileURLWithPath: inbox + "/new/" + name)) }
        try smimegate(["process", "outgoing", inbox, "--out", path("out")]).expect(0)
        let got = Dictionary(
            uniqueKeysWithValues: try records(path("out")).map { (($0.input as NSString).lastPathComponent, $0) })
        for name in ["two-in-one", "two-fields", "sender"] {
            XCTAssertEqual(got[name]?.outcome, "bounced", name)
            XCTAssertTrue(
                got[name]?.reason?.contains("ceo@other.test is not covered") ?? false, got[name]?.reason ?? "")
        }
        XCTAssertEqual(got["trailing-dot"]?.outcome, "signed", "example.com. is example.com")
    }

    func testOutputDirectoriesAre0700AndTheManifest0600WhateverTheUmask() throws {
        let inbox = try spool("in", count: 2)
        let out = path("deep/out")
        try runProcess(
            "/bin/sh",
            [
                "-c", "umask 000; exec \"$0\" \"$@\"", Paths.binary.path, "--home", home, "process", "outgoing", inbox,
                "--out", out,
            ]
        ).expect(0)
        XCTAssertEqual(try mode(path("deep")), 0o700)
        XCTAssertEqual(try mode(out), 0o700)
        XCTAssertEqual(try mode(out + "/signed"), 0o700)
        XCTAssertEqual(try mode(out + "/signed/new"), 0o700)
        XCTAssertEqual(try mode(out + "/manifest.jsonl"), 0o600)
        let file = try FileManager.default.contentsOfDirectory(atPath: out + "/signed/new")[0]
        XCTAssertEqual(try mode(out + "/signed/new/" + file), 0o600)
    }

    // MARK: Found by attacking the above

    /// A literal backslash name and a non-UTF-8 name must not share a spelling (nor a resume
    /// key): each is processed and recorded once, and --consume deletes neither unprocessed.
    func testOddFileNamesNeverCollideAndNeverBreakAnErrorLine() throws {
        let inbox = try spool("in", count: 0)
        let text = "From: alice@example.com\nTo: bob@partner.example\n\nodd\n"
        try write(text, to: URL(fileURLWithPath: inbox + "/new/x\\xFFy"))
        let raw = Array((inbox + "/new/x").utf8) + [0xFF] + Array("y".utf8)
        XCTAssertTrue(FileManager.default.createFile(atPath: String(decoding: raw, as: UTF8.self), contents: nil))
        let fd = open(raw.map { CChar(bitPattern: $0) } + [0], O_WRONLY | O_CREAT, 0o600)
        XCTAssertGreaterThanOrEqual(fd, 0)
        _ = Array(text.utf8).withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        try FileManager.default.removeItem(atPath: String(decoding: raw, as: UTF8.self))  // the U+FFFD twin
        XCTAssertEqual(mkfifo(inbox + "/new/fi\nfo\u{1B}[2J", 0o600), 0)
        let out = path("out")
        let run = try smimegate(["process", "outgoing", inbox, "--out", out, "--consume"]).expect(1)
        let lines = run.stderr.split(separator: "\n")
        XCTAssertTrue(
            lines.contains { $0.hasSuffix("new/fi\\x0Afo\\x1B[2J: a FIFO, not a message file; not read") }, run.stderr)
        XCTAssertFalse(run.stderr.contains("\u{1B}"), "no raw escape sequence reaches the terminal")
        let inputs = try records(out).map { ($0.input as NSString).lastPathComponent }
        XCTAssertEqual(Set(inputs), ["x\\x5CxFFy", "x\\xFFy"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"), ["fi\nfo\u{1B}[2J"])
    }

    func testConsumedIntoNeverReplacesAFileAlreadyThere() throws {
        let inbox = try spool("spool", count: 2)
        let archive = path("archive")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: archive + "/" + sub, withIntermediateDirectories: true)
        }
        let name = try FileManager.default.contentsOfDirectory(atPath: inbox + "/new").sorted()[0]
        try write("archived earlier\n", to: URL(fileURLWithPath: archive + "/new/" + name))
        let run = try smimegate([
            "process", "outgoing", inbox, "--out", path("out"), "--consume", "--consumed-into", archive,
        ])
        run.expect(1)
        XCTAssertTrue(run.stderr.contains("a different file of that name is there; left in the spool"), run.stderr)
        XCTAssertEqual(string(read("archive/new/" + name)), "archived earlier\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: inbox + "/new"), [name], "left, not lost")
    }

    func testLinksPlantedInTheOutputDirectoryAreNotFollowed() throws {
        let inbox = try spool("in", count: 1)
        let victim = try save("precious\n", "victim")
        let out = path("out")
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        XCTAssertEqual(symlink(victim, out + "/.lock"), 0)
        let run = try smimegate(["process", "outgoing", inbox, "--out", out]).expect(2)
        XCTAssertTrue(run.stderr.contains(".lock: cannot be used as a lock file"), run.stderr)
        XCTAssertEqual(string(read("victim")), "precious\n")

        let out2 = path("out2")
        try FileManager.default.createDirectory(atPath: path("elsewhere"), withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: out2, withIntermediateDirectories: true)
        XCTAssertEqual(symlink(path("elsewhere"), out2 + "/signed"), 0)
        try smimegate(["process", "outgoing", inbox, "--out", out2]).expect(2)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: path("elsewhere")), [])

        let open = path("open")
        try FileManager.default.createDirectory(atPath: open, withIntermediateDirectories: true)
        XCTAssertEqual(chmod(open, 0o777), 0)
        let refused = try smimegate(["process", "outgoing", inbox, "--out", open]).expect(2)
        XCTAssertTrue(refused.stderr.contains("is writable by every user"), refused.stderr)
    }

    /// The same spool named three ways, and a message a mail client moved to cur/ with flags:
    /// one input each, whatever the spelling or the folder.
    func testAnInputIsTheSameWhateverThePathSpellingOrItsMaildirFlags() throws {
        let inbox = try spool("in", count: 5)
        let out = path("out")
        try smimegate(["process", "outgoing", inbox, "--out", out]).expect(0)
        let moved = try FileManager.default.contentsOfDirectory(atPath: inbox + "/new").sorted()[0]
        XCTAssertEqual(rename(inbox + "/new/" + moved, inbox + "/cur/" + moved + ":2,S"), 0)
        try runProcess(
            Paths.binary.path, ["--home", home, "process", "outgoing", "./in/", "--out", out, "--resume"],
            directory: dir
        ).expect(0)
        try smimegate(["process", "outgoing", inbox + "//.", "--out", out, "--resume"]).expect(0)
        XCTAssertEqual(try records(out).count, 5)
    }

    func testTwoRunsNeverConsumeOneSpool() throws {
        let inbox = try spool("spool", count: 1500)
        let first = try start(["process", "outgoing", inbox, "--out", path("a"), "--consume", "--workers", "1"])
        wait(60, "the first run's first records") { lineCount(path("a")) > 0 }
        let second = try smimegate(["process", "outgoing", inbox, "--out", path("b"), "--consume"])
        XCTAssertTrue(first.isRunning)
        second.expect(75)
        XCTAssertTrue(second.stderr.contains("is being consumed by another run (PID \(first.processIdentifier))"))
        first.waitUntilExit()
        XCTAssertEqual(first.terminationStatus, 0)
        XCTAssertEqual(try records(path("a")).count, 1500)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("b") + "/manifest.jsonl"))
    }
}
