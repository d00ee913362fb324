import Foundation
import TestSupport
import XCTest

/// DESIGN.md: a run killed at any point and rerun with --resume ends with the
/// same outputs and manifest as an uninterrupted run — no loss, no duplicates.
final class ResumeTests: CLITestCase {
    func entries(_ out: String) throws -> [ManifestEntry] { try manifestEntries(out) }

    func corpus() throws -> [String] {
        let inbox = path("in")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: inbox + "/" + sub, withIntermediateDirectories: true)
        }
        var mbox = ""
        for i in 0..<150 {
            let to = i % 3 == 0 ? "bob@partner.example, dave@example2.com" : "bob@partner.example"
            let text =
                "From: alice@example.com\nTo: \(to)\nSubject: \(i)\nMessage-ID: <\(i)@example.com>\n\n"
                + String(repeating: "line \(i)\n", count: 40)
            try write(text, to: URL(fileURLWithPath: inbox + "/new/\(i)"))
            mbox +=
                "From alice@example.com Sun Nov 29 10:00:00 2026\n"
                + text.replacingOccurrences(of: "<\(i)@", with: "<m\(i)@") + "\n"
        }
        mbox += "From junk Sun Nov 29 10:00:00 2026\nnot a header line\n\n"  // one failure in the middle of nowhere
        return [inbox, try save(mbox, "box.mbox")]
    }

    func start(_ inputs: [String], out: String, resume: Bool) throws -> Process {
        let process = Process()
        process.executableURL = Paths.binary
        process.arguments =
            ["--home", home, "process", "outgoing"] + inputs + ["--out", out, "--workers", "2", "--no-progress"]
            + (resume ? ["--resume"] : [])
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    func testKilledRunsResumeToTheSameResult() throws {
        try smimegate([
            "profile", "create", "default", "--mode", "sign-encrypt", "--cert", "alice", "--missing-key", "split",
        ]).expect(0)
        let inputs = try corpus()
        let reference = path("reference")
        try smimegate(["process", "outgoing"] + inputs + ["--out", reference, "--workers", "2"]).expect(1)  // one junk message fails
        let expected = try entries(reference)
        XCTAssertEqual(expected.count, 301)

        let out = path("killed")
        var interrupted = 0
        var first = true
        for delay in [0.15, 0.5, 1.0, 2.0] {
            let process = try start(inputs, out: out, resume: !first)
            first = false
            usleep(useconds_t(delay * 1_000_000))
            if process.isRunning {
                kill(process.processIdentifier, SIGKILL)
                interrupted += 1
            }
            process.waitUntilExit()
            let done = try entries(out)
            XCTAssertEqual(
                Set(done.map { "\($0.input)@\($0.offset ?? -1)" }).count, done.count,
                "no input recorded twice after a kill at \(delay) s")
        }
        XCTAssertGreaterThan(interrupted, 0, "at least one run was killed mid-way")
        // The last run exits 1 only if the junk message was left for it; either way it is not a usage error.
        let last = try smimegate(["process", "outgoing"] + inputs + ["--out", out, "--workers", "2", "--resume"])
        XCTAssertTrue(last.status == 0 || last.status == 1, last.stderr)

        let got = try entries(out)
        XCTAssertEqual(got.count, expected.count, "exactly one record per input")
        XCTAssertEqual(Set(got), Set(expected), "the same outcomes, outputs and recipients")
        XCTAssertEqual(try delivered(out), try delivered(reference), "the same files, none left in tmp/")
        XCTAssertTrue(try delivered(out).allSatisfy { !$0.contains("/tmp/") })
    }
}
