import Foundation
import TestSupport
import XCTest

/// What `scripts/install.sh PREFIX` installs, checked with the tools that will read it: groff renders the
/// manual without a warning, bash and fish complete from the completion scripts, zsh parses its own.
/// scripts/test.sh runs `scripts/install.sh --debug .build/install-test` before the tests.
final class InstallTests: XCTestCase {
    let prefix = Paths.packageRoot.appendingPathComponent(".build/install-test").path

    override func setUpWithError() throws {
        struct NotInstalled: Error, CustomStringConvertible {
            let description: String
        }
        guard FileManager.default.fileExists(atPath: prefix + "/bin/smimegate") else {
            throw NotInstalled(
                description: "\(prefix) is missing: run the tests with scripts/test.sh (it installs there)")
        }
    }

    func testTheInstalledBinaryRuns() throws {
        let result = try runProcess(prefix + "/bin/smimegate", ["--version"])
        XCTAssertEqual(result.status, 0)
        XCTAssertEqual(result.out, "0.1.0\n")
        var info = stat()
        XCTAssertEqual(stat(prefix + "/bin/smimegate", &info), 0)
        XCTAssertEqual(info.st_mode & 0o777, 0o755)
    }

    func testTheManualRendersWithoutWarningsAndDescribesEveryCommand() throws {
        let page = prefix + "/share/man/man1/smimegate.1"
        let lint = try runProcess("groff", ["-mandoc", "-Tutf8", "-ww", "-z", page])
        XCTAssertEqual(lint.status, 0)
        XCTAssertEqual(lint.stderr, "", "groff warnings")
        let rendered = try runProcess(
            "man", ["-l", page], environment: ["MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""])
        XCTAssertEqual(rendered.status, 0, rendered.stderr)
        let text = rendered.out.replacingOccurrences(of: "\u{8}.", with: "", options: .regularExpression)
        XCTAssertTrue(text.hasPrefix("SMIMEGATE(1)"), String(text.prefix(200)))
        for command in ["doctor", "report", "process", "deliver", "--metrics-file", "--expiry-days", "--html"] {
            XCTAssertTrue(text.contains(command), command)
        }
        // A help line that starts with a quote is text, not a roff request, and no line of help is lost.
        // Words joined again: the wrap (and man's hyphenation, U+2010 at a line's end) moves as the help grows.
        let words = text.split(whereSeparator: \.isWhitespace).joined(separator: " ")
            .replacingOccurrences(of: "\u{2010} ", with: "")
        XCTAssertTrue(words.contains("('init' or 'home encrypt' with"), "a line starting with a quote")
    }

    /// bash runs the completion function as `complete -F` would, with the words typed so far.
    func complete(bash line: String) throws -> [String] {
        let script = """
            source "$1"
            COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}; read -ra COMP_WORDS <<<"$2"
            [[ "$2" == *" " ]] && COMP_WORDS+=("")
            COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMPREPLY=()
            _smimegate smimegate "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
            printf '%s\\n' "${COMPREPLY[@]}"
            """
        let result = try runProcess(
            "bash", ["-c", script, "bash", prefix + "/share/bash-completion/completions/smimegate", line])
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.out.split(separator: "\n").map(String.init)
    }

    func testBashCompletesCommandsAndOptions() throws {
        XCTAssertEqual(Set(try complete(bash: "smimegate pro")), ["profile", "process"])
        XCTAssertEqual(try complete(bash: "smimegate do"), ["doctor"])
        XCTAssertEqual(try complete(bash: "smimegate process outgoing --metr"), ["--metrics-file"])
        XCTAssertTrue(try complete(bash: "smimegate report --").contains("--html"))
    }

    func testFishCompletesAndZshParses() throws {
        let fish = try runProcess(
            "fish",
            [
                "-c", "source $argv[1]; complete -C 'smimegate process outgoing --metr'; complete -C 'smimegate rep'",
                prefix + "/share/fish/vendor_completions.d/smimegate.fish",
            ])
        XCTAssertEqual(fish.status, 0, fish.stderr)
        let lines = fish.out.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
        XCTAssertEqual(lines, ["--metrics-file", "report"], fish.out)
        let zsh = try runProcess("zsh", ["-n", prefix + "/share/zsh/site-functions/_smimegate"])
        XCTAssertEqual(zsh.status, 0, zsh.stderr)
        XCTAssertTrue(
            string(bytes(of: URL(fileURLWithPath: prefix + "/share/zsh/site-functions/_smimegate")))
                .hasPrefix("#compdef smimegate"))
    }
}
