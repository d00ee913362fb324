import Foundation
import TestSupport
import XCTest

/// `policy check|load|show|export` (issue 10): problems at FILE:LINE:COLUMN, all or
/// nothing loads, byte-identical exports, and a SHA-256 that openssl agrees with.
final class PolicyCommandTests: CLITestCase {
    /// The issue's example, as written (shared with the parser's tests).
    static let example = string(bytes(of: Paths.fixture("example.policy")))

    func createProfiles(sign: Bool = true) throws {
        try smimegate(["profile", "create", "enc", "--mode", "encrypt"]).expect(0)
        if sign { try smimegate(["profile", "create", "sgn", "--mode", "sign", "--cert", "alice"]).expect(0) }
    }

    /// The value of the `sha256:` line.
    func sha256Line(_ output: String) throws -> String {
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("sha256:") }, output)
        return line.dropFirst("sha256:".count).trimmingCharacters(in: .whitespaces)
    }

    /// The stderr lines that are problems (not the closing `smimegate: ...` summary).
    func problemLines(_ result: ProcessResult) -> [String] {
        result.stderr.split(separator: "\n").map(String.init).filter { !$0.hasPrefix("smimegate:") }
    }

    func testCheckAcceptsTheIssueExampleAndStoresNothing() throws {
        try createProfiles()
        let file = fixture("example.policy")
        let result = try smimegate(["policy", "check", file]).expect(0)
        XCTAssertEqual(
            result.out, "\(file): ok (2 message filters, 3 content filters, 2 outgoing policies, 2 incoming policies)\n"
        )
        XCTAssertEqual(result.stderr, "")
        XCTAssertTrue(try smimegate(["policy", "show"]).expect(1).stderr.contains("no policy is loaded"))
    }

    func testCheckNamesAProfileTheKeystoreLacksWhereItIsNamed() throws {
        try createProfiles(sign: false)
        let file = fixture("example.policy")
        let result = try smimegate(["policy", "check", file]).expect(2)
        XCTAssertEqual(problemLines(result), ["\(file):12:48: no sending profile named \"sgn\""], result.stderr)
        try smimegate(["policy", "load", file]).expect(2)
        try smimegate(["policy", "show"]).expect(1)
    }

    /// Each broken file: the problem's `LINE:COLUMN` and the start of its reason.
    static let broken: [(name: String, text: String, problem: String)] = [
        ("single-equals", "[message filters]\nx: if (subject = \"a\") { drop(); }\n", "2:16: expected == or !="),
        (
            "unknown-condition", "[message filters]\nx: if (colour == \"red\") { drop(); }\n",
            "2:8: unknown condition \"colour\""
        ),
        ("unknown-action", "[message filters]\nx: if (true) { explode(); }\n", "2:16: unknown action \"explode\""),
        (
            "open-string", "[message filters]\nx: if (subject == \"abc) { drop(); }\n",
            "2:19: expected a string after \"==\", found a string without its closing \""
        ),
        (
            "bad-regex", "[message filters]\nx: if (subject == \"a(b\") { drop(); }\n",
            "2:23: bad regular expression \"a(b\""
        ),
        (
            "missing-brace", "[message filters]\nx: if (true) { drop();\ny: if (true) { drop(); }\n",
            "3:1: expected \"}\" to close the actions"
        ),
        (
            "transform-in-message-filter", "[message filters]\nx: if (true) { smime-gateway(\"enc\"); }\n",
            "2:16: smime-gateway actions belong in content filters"
        ),
        (
            "arguments-to-drop", "[message filters]\nx: if (true) { drop(\"now\"); }\n",
            "2:21: drop() takes no arguments"
        ),
        (
            "quarantine-path", "[message filters]\n\n# escape?\nx: if (true) { quarantine(\"../etc\"); }\n",
            "4:27: \"../etc\" is not a quarantine name"
        ),
        (
            "bad-size", "[content filters]\nbig: if (body-size > 12X) { drop(); }\n",
            "2:22: expected a size such as 512, 100K, 1M or 2G"
        ),
        (
            "notify-not-an-address", "[content filters]\nx: if (true) { notify(\"nobody\"); }\n",
            "2:23: \"nobody\" is not a plain address"
        ),
        (
            "header-name-with-space", "[content filters]\nx: if (header(\"X Bad\")) { drop(); }\n",
            "2:15: \"X Bad\" is not a header field name"
        ),
        ("missing-condition", "[content filters]\nx: if () { drop(); }\n", "2:8: expected a condition"),
        ("text-before-any-section", "x: if (true) { drop(); }\n", "1:1: text outside any section"),
        ("unknown-section", "# rules\n[outgoing rules]\n", "2:1: unknown section \"[outgoing rules]\""),
        (
            "bad-address-pattern", "[outgoing policy p]\nsenders = @example.test, bad pattern\n",
            "2:26: \"bad pattern\" is not an address pattern"
        ),
        (
            "undefined-content-filter", "[outgoing policy p]\ncontent-filters = nowhere\n",
            "2:19: no content filter named \"nowhere\""
        ),
        ("unknown-key", "[incoming policy p]\ncolour = blue\n", "2:1: unknown key \"colour\""),
        ("decrypt-maybe", "[incoming policy p]\ndecrypt = maybe\n", "2:11: decrypt must be yes or no"),
    ]

    func testCheckReportsEachBrokenFileAtItsLineAndColumn() throws {
        try createProfiles()
        XCTAssertGreaterThanOrEqual(Self.broken.count, 10)
        for (name, text, problem) in Self.broken {
            let file = try save(text, "\(name).policy")
            let result = try smimegate(["policy", "check", file]).expect(2)
            let lines = problemLines(result)
            XCTAssertTrue(lines.contains { $0.hasPrefix("\(file):\(problem)") }, "\(name): \(result.stderr)")
            XCTAssertTrue(lines.allSatisfy { $0.hasPrefix("\(file):") }, "\(name): every problem names the file")
            XCTAssertTrue(result.stderr.contains("smimegate: \(file): the policy has"), result.stderr)
            XCTAssertEqual(result.out, "", name)
        }
    }

    func testLoadShowExportRoundTripsByteForByte() throws {
        try createProfiles()
        // Not ASCII and a CRLF line too: the stored copy is the file's bytes, not a re-rendering.
        let text = Self.example + "# fin \u{2014} Gr\u{fc}\u{df}e\r\n"
        let file = try save(text, "example.policy")
        let loaded = try smimegate(["policy", "load", file]).expect(0).out
        XCTAssertTrue(loaded.hasPrefix("loaded \(file) (2 message filters, 3 content filters"), loaded)
        let sha256 = try sha256Line(loaded)

        let shown = try smimegate(["policy", "show"]).expect(0).out
        XCTAssertEqual(try sha256Line(shown), sha256)
        for expected in [
            "loaded at:", "message filters: drop_marked, quarantine_smime_messages",
            "content filters: confidential, sign-later, footer", "outgoing policy partners\n",
            "  senders:         @example.test, @.example.net\n",
            "  recipients:      r1@example.test, @partner.example\n",
            "  content-filters: confidential, sign-later, footer\n", "outgoing policy default\n",
            "  senders:         anyone\n", "incoming policy nocheck\n", "  decrypt: no\n",
            "incoming policy default\n", "  signature: remove\n",
        ] {
            XCTAssertTrue(shown.contains(expected), "\(expected) in\n\(shown)")
        }

        try smimegate(["policy", "export", path("exported.policy")]).expect(0)
        XCTAssertEqual(read("exported.policy"), Array(text.utf8))
        XCTAssertEqual(try smimegate(["policy", "export", "-"]).expect(0).stdout, Array(text.utf8))
        let again = try smimegate(["policy", "load", path("exported.policy")]).expect(0).out
        XCTAssertEqual(try sha256Line(again), sha256)
    }

    func testABrokenLoadLeavesThePolicyInForce() throws {
        try createProfiles()
        let good = try save(Self.example, "good.policy")
        let sha256 = try sha256Line(try smimegate(["policy", "load", good]).expect(0).out)
        let bad = try save(Self.example.replacingOccurrences(of: "drop();", with: "drop(;"), "bad.policy")
        let refused = try smimegate(["policy", "load", bad]).expect(2)
        XCTAssertTrue(refused.stderr.contains("\(bad):3:"), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("nothing was stored"), refused.stderr)
        XCTAssertEqual(try sha256Line(try smimegate(["policy", "show"]).expect(0).out), sha256)
        XCTAssertEqual(try smimegate(["policy", "export", "-"]).expect(0).stdout, Array(Self.example.utf8))
    }

    func testTheSHA256PrintedIsOpenSSLs() throws {
        try createProfiles()
        let file = fixture("example.policy")
        let sha256 = try sha256Line(try smimegate(["policy", "load", file]).expect(0).out)
        // `-r`: "HEX *FILE", the coreutils form.
        let digest = try openssl(["dgst", "-sha256", "-r", file]).expect(0).out
        XCTAssertEqual(sha256, String(digest.prefix { $0 != " " }))
    }

    func testShowAndExportWithoutAPolicySayWhatToDo() throws {
        XCTAssertTrue(try smimegate(["policy", "show"]).expect(1).stderr.contains("policy load FILE"))
        try smimegate(["policy", "export", path("none.policy")]).expect(1)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("none.policy")))
        let unreadable = try smimegate(["policy", "check", path("missing.policy")]).expect(2)
        XCTAssertTrue(unreadable.stderr.contains("cannot read the file"), unreadable.stderr)
        let binary = try save([0x5b, 0xff, 0xfe, 0x5d, 0x0a], "binary.policy")
        XCTAssertTrue(try smimegate(["policy", "load", binary]).expect(2).stderr.contains("not UTF-8 text"))
    }

    func testHelpPointsAtTheREADME() throws {
        let help = try smimegate(["policy", "--help"]).expect(0).out
        XCTAssertTrue(help.contains("Policies and filters"), help)
        for command in ["check", "load", "show", "export"] { XCTAssertTrue(help.contains(command), help) }
    }
}
