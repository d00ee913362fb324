import Policy
import TestSupport
import XCTest

/// The policy file format and the filter language's syntax (SPEC F8, F9, F12, F14).
final class PolicyParserTests: XCTestCase {
    /// The example of issue 10, which must be accepted as written.
    static let example = string(bytes(of: Paths.fixture("example.policy")))

    func testTheIssueExampleParsesWithTheExpectedShape() throws {
        let (document, problems) = PolicyParser.parse(Self.example, knownProfiles: ["enc", "sgn"])
        XCTAssertEqual(problems, [])
        let policy = try XCTUnwrap(document)
        XCTAssertEqual(policy.messageFilters.map(\.name), ["drop_marked", "quarantine_smime_messages"])
        XCTAssertEqual(policy.messageFilters.map(\.line), [3, 4])
        XCTAssertEqual(policy.messageFilters[1].actions, [.quarantine("Policy")])
        XCTAssertEqual(policy.contentFilters.map(\.name), ["confidential", "sign-later", "footer"])
        XCTAssertEqual(
            policy.contentFilters[2].actions,
            [.insertHeader(name: "X-Footer", value: "added"), .stripHeader("X-Internal")])
        XCTAssertEqual(policy.outgoing.map(\.name), ["partners", "default"])
        XCTAssertEqual(policy.outgoing[0].senders.map(\.description), ["@example.test", "@.example.net"])
        XCTAssertEqual(policy.outgoing[0].recipients.map(\.description), ["r1@example.test", "@partner.example"])
        XCTAssertEqual(policy.outgoing[0].contentFilters, ["confidential", "sign-later", "footer"])
        XCTAssertEqual(policy.outgoing[1].contentFilters, ["sign-later", "footer"])
        XCTAssertEqual(policy.outgoing[1].line, 20)
        XCTAssertEqual(policy.incoming.map(\.name), ["nocheck", "default"])
        XCTAssertEqual(policy.incoming[0].senders.map(\.description), ["@nocheck.test"])
        XCTAssertEqual([policy.incoming[0].decrypt, policy.incoming[0].verify], [false, false])
        XCTAssertEqual([policy.incoming[1].decrypt, policy.incoming[1].verify], [true, true])
        XCTAssertEqual(policy.incoming[1].signature, .remove)
        XCTAssertNil(policy.incoming[0].signature)
        XCTAssertEqual(policy.profileNames, ["enc", "sgn"])
        XCTAssertEqual(policy.quarantineNames, ["Policy"])
        XCTAssertFalse(policy.notifies)
        XCTAssertEqual(policy.outgoingPolicy(sender: "a@x.example.net", recipient: "r1@example.test").name, "partners")
        XCTAssertEqual(policy.outgoingPolicy(sender: "a@x.example.net", recipient: "r2@example.test").name, "default")
        XCTAssertEqual(policy.incomingPolicy(sender: "Someone@NOCHECK.test").name, "nocheck")
    }

    func testAnUnknownProfileIsAProblemAtItsArgument() {
        let problems = PolicyParser.parse(Self.example, knownProfiles: ["enc"]).problems
        XCTAssertEqual(problems.map(\.description), ["12:48: no sending profile named \"sgn\""])
    }

    func testDefaultPoliciesGoLastWhereverTheyAreWritten() throws {
        let text = """
            [incoming policy default]
            verify = no
            [incoming policy strict]
            senders = @bank.example
            allow-sha1 = no
            allow-weak = no
            accept-sender-match = yes
            unauthenticated-html = keep
            signature = keep
            [outgoing policy default]
            [outgoing policy first]
            recipients = *
            """
        let document = try XCTUnwrap(PolicyParser.parse(text).document)
        XCTAssertEqual(document.incoming.map(\.name), ["strict", "default"])
        XCTAssertEqual(document.outgoing.map(\.name), ["first", "default"])
        let strict = document.incoming[0]
        XCTAssertEqual(strict.allowSHA1, false)
        XCTAssertEqual(strict.allowWeak, false)
        XCTAssertEqual(strict.acceptSenderMatch, true)
        XCTAssertEqual(strict.unauthenticatedHTML, .keep)
        XCTAssertEqual(strict.signature, .keep)
        XCTAssertNil(document.incoming[1].allowSHA1)
        XCTAssertFalse(document.incoming[1].verify)
    }

    func testFiltersSpanLinesShareLinesTakeElseAndAFinalDot() throws {
        let text = """
            [message filters]
            a: if (true) { deliver() } b: if (false) { drop(); } else { bounce(); notify('ops@example.test') }.
            c:
              if
              (TRUE)
              {
              }
            [message filters]
            d: IF (Subject != "x") { Skip-Filters(); } ELSE { }
            """
        let (document, problems) = PolicyParser.parse(text)
        XCTAssertEqual(problems, [])
        let filters = try XCTUnwrap(document).messageFilters
        XCTAssertEqual(filters.map(\.name), ["a", "b", "c", "d"])
        XCTAssertEqual(filters.map(\.line), [2, 2, 3, 9])
        XCTAssertEqual(filters[0].actions, [.deliver])
        XCTAssertEqual(filters[1].actions, [.drop])
        XCTAssertEqual(filters[1].otherwise, [.bounce, .notify("ops@example.test")])
        XCTAssertEqual(filters[2].actions, [])
        XCTAssertEqual(filters[3].actions, [.skipFilters])
        XCTAssertTrue(document?.notifies == true)
    }

    func testStringEscapesKeepRegexBackslashes() throws {
        let text = #"""
            [message filters]
            a: if (subject == "\d+ \"quoted\" \\ 'x'" or subject == 'it\'s \w') { drop(); }
            """#
        let filter = try XCTUnwrap(PolicyParser.parse(text).document?.messageFilters.first)
        guard case .or(let terms) = filter.condition, terms.count == 2, case .subject(let left) = terms[0],
            case .subject(let right) = terms[1]
        else { return XCTFail("unexpected condition \(filter.condition)") }
        XCTAssertEqual(left.pattern.source, #"\d+ "quoted" \ 'x'"#)
        XCTAssertEqual(right.pattern.source, #"it's \w"#)
        // PCRE2 reads "\ " as a space.
        XCTAssertTrue(try left.pattern.matches(#"42 "quoted"  'x'"#))
    }

    func testSizesArePowersOf1024InEitherCase() throws {
        let text = """
            [message filters]
            a: if (body-size > 512 or body-size >= 10k or body-size < 1M or body-size <= 2g or body-size == 3K
                   or body-size != 7) { drop(); }
            """
        let filter = try XCTUnwrap(PolicyParser.parse(text).document?.messageFilters.first)
        XCTAssertEqual(
            Self.shape(filter.condition),
            "or(size > 512, size >= 10240, size < 1048576, size <= 2147483648, size == 3072, size != 7)")
    }

    func testNotBindsTighterThanAndWhichBindsTighterThanOr() throws {
        let text = """
            [message filters]
            a: if (not encrypted and smime-gateway-message or smime-gateway-verified) { drop(); }
            b: if (not (encrypted or true) and (false or smime-gateway-authenticated)) { drop(); }
            """
        let filters = try XCTUnwrap(PolicyParser.parse(text).document?.messageFilters)
        XCTAssertEqual(Self.shape(filters[0].condition), "or(and(not(encrypted), message), verified)")
        XCTAssertEqual(Self.shape(filters[1].condition), "and(not(or(encrypted, true)), or(false, authenticated))")
    }

    /// A chain of one operator is one node holding every term, however long; parentheses
    /// keep their own node, and a chain of the other operator is a term of its own.
    func testChainsOfAndAndOrAreOneNodeEach() throws {
        let text = """
            [message filters]
            a: if (true and false and encrypted or true or not false and (true and false)) { drop(); }
            """
        let filter = try XCTUnwrap(PolicyParser.parse(text).document?.messageFilters.first)
        XCTAssertEqual(
            Self.shape(filter.condition), "or(and(true, false, encrypted), true, and(not(false), and(true, false)))")
    }

    /// 150,000 terms (1.35 MB) parse into one node of 150,000 terms, and both evaluating the
    /// condition and freeing it are loops, not a recursion as deep as the chain.
    func testAChainOfAHundredAndFiftyThousandTermsIsOneShallowNode() throws {
        let chain = Array(repeating: "true", count: 150_000).joined(separator: " and ")
        let document = PolicyParser.parse("[message filters]\nf: if (\(chain)) { drop(); }\n").document
        let filter = try XCTUnwrap(document?.messageFilters.first)
        guard case .and(let terms) = filter.condition else { return XCTFail("not one and") }
        XCTAssertEqual(terms.count, 150_000)
        XCTAssertTrue(terms.allSatisfy { if case .constant(true) = $0 { true } else { false } })
        let facts = MessageFacts(message: PolicyFixtures.rich, context: PolicyFixtures.context)
        XCTAssertTrue(try facts.holds(filter.condition))
        var message = PolicyFixtures.rich
        XCTAssertEqual(
            try FilterEvaluator.run([filter], on: &message, context: PolicyFixtures.context).disposition, .drop)
    }

    /// The condition as a compact term, for asserting the tree the parser built.
    static func shape(_ condition: Condition) -> String {
        switch condition {
        case .constant(let value): return "\(value)"
        case .encrypted: return "encrypted"
        case .smimeGatewayMessage: return "message"
        case .smimeGatewayVerified: return "verified"
        case .smimeGatewayAuthenticated: return "authenticated"
        case .bodySize(let comparison, let limit): return "size \(comparison.rawValue) \(limit)"
        case .not(let inner): return "not(\(shape(inner)))"
        case .and(let terms): return "and(\(terms.map(shape).joined(separator: ", ")))"
        case .or(let terms): return "or(\(terms.map(shape).joined(separator: ", ")))"
        default: return "\(condition)"
        }
    }

    func testContentFiltersMayBeNamedBeforeTheyAreDefined() throws {
        let text = """
            [outgoing policy default]
            content-filters = later
            [content filters]
            later: if (true) { smime-gateway("sgn"); }
            """
        XCTAssertEqual(try XCTUnwrap(PolicyParser.parse(text).document).outgoing[0].contentFilters, ["later"])
    }

    /// Windows editors start a UTF-8 file with a byte order mark: it is no text outside a
    /// section, and the first line's columns count from after it.
    func testAByteOrderMarkAtTheStartIsNoText() throws {
        let document = try XCTUnwrap(PolicyParser.parse("\u{FEFF}" + Self.example).document)
        XCTAssertEqual(document.messageFilters.map(\.name), ["drop_marked", "quarantine_smime_messages"])
        let problems = PolicyParser.parse("\u{FEFF}[message filter]\n").problems
        XCTAssertEqual(
            problems.map(\.description),
            [
                "1:1: unknown section \"[message filter]\": expected [message filters], "
                    + "[content filters], [outgoing policy NAME] or [incoming policy NAME]"
            ])
        let inside = PolicyParser.parse("[message filters]\n\u{FEFF}f: if (true) { drop(); }").problems
        XCTAssertEqual(
            inside.map(\.description),
            [
                #"2:1: expected a filter name ("name: if (...) { ... }"), "#
                    + #"found the character "\u{FEFF}""#
            ], "only at the start")
    }

    /// `else` after a filter is its else branch only when a block follows; `else:` is a filter.
    func testAFilterNamedElseAfterAnotherFilterIsAFilter() throws {
        let text = """
            [message filters]
            first: if (true) { drop(); }
            else: if (false) { bounce(); } else { deliver(); }
            ELSE: if (true) { drop(); }
            """
        let (document, problems) = PolicyParser.parse(text)
        XCTAssertEqual(problems, [])
        let filters = try XCTUnwrap(document).messageFilters
        XCTAssertEqual(filters.map(\.name), ["first", "else", "ELSE"])
        XCTAssertEqual(filters[0].otherwise, [])
        XCTAssertEqual(filters[1].otherwise, [.deliver])
        assertFilterProblem("f: if (true) { drop(); } else bounce();", 31, "expected \"{\" after \"else\"")
    }

    /// `default` is a keyword in all but name: `[outgoing policy Default]` is the default
    /// policy (last, covering everyone), and a second one in other case is defined twice.
    func testTheDefaultPolicyIsNamedInAnyCase() throws {
        let text = """
            [outgoing policy Default]
            content-filters = a
            [outgoing policy first]
            recipients = @partner.example
            [incoming policy DEFAULT]
            verify = no
            [content filters]
            a: if (true) { deliver(); }
            """
        let document = try XCTUnwrap(PolicyParser.parse(text).document)
        XCTAssertEqual(document.outgoing.map(\.name), ["first", "default"])
        XCTAssertEqual(document.outgoingPolicy(sender: nil, recipient: "c@customer.test").contentFilters, ["a"])
        XCTAssertEqual(document.incoming.map(\.name), ["default"])
        XCTAssertFalse(document.incomingPolicy(sender: "x@example.test").verify)
        assertProblem(
            "[outgoing policy default]\n[outgoing policy DeFault]\n", 2, 18, "policy \"default\" is defined twice")
        assertProblem("[incoming policy Default]\nsenders = *\n", 2, 1, "the default policy covers everyone")
    }

    /// A problem quotes the file, and the file may hold an escape sequence, a CR or a NUL:
    /// they are written as `\u{...}`, so the terminal shows them and the line stays one line.
    func testProblemsShowControlCharactersAsEscapes() {
        let text =
            "[message filters]\nf: if (true) { drop(); } \u{1B}]0;owned\u{07}\n[outgoing policy p]\nsen\rders = *\n"
        let problems = PolicyParser.parse(text).problems.map(\.description)
        XCTAssertEqual(
            problems.first,
            #"2:26: expected a filter name ("name: if (...) { ... }"), "#
                + #"found the character "\u{1B}""#)
        XCTAssertTrue(problems.contains { $0.hasPrefix(#"4:1: unknown key "sen\u{D}ders""#) }, "\(problems)")
        for problem in problems {
            XCTAssertFalse(problem.unicodeScalars.contains { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        }
        XCTAssertEqual(
            PolicyProblem(line: 1, column: 1, "a\u{0}b\u{7F}c\u{85}d\u{202E}e\u{2028}f\tg").reason,
            #"a\u{0}b\u{7F}c\u{85}d\u{202E}e\u{2028}f\u{9}g"#)
        XCTAssertEqual(PolicyProblem(line: 1, column: 1, "Grüße, 日本").reason, "Grüße, 日本", "text is text")
    }

    func testCRLFFilesReadLikeLFFiles() throws {
        let crlf = Self.example.replacingOccurrences(of: "\n", with: "\r\n")
        let document = try XCTUnwrap(PolicyParser.parse(crlf).document)
        XCTAssertEqual(document.contentFilters.map(\.line), [9, 12, 13])
        XCTAssertEqual(document.incoming[1].signature, .remove)
    }

    // MARK: Broken files: every problem where it is

    /// The file has exactly one problem, at `line`:`column`, whose reason contains `fragment`.
    private func assertProblem(
        _ text: String, _ line: Int, _ column: Int, _ fragment: String, knownProfiles: Set<String>? = nil,
        file: StaticString = #filePath, line testLine: UInt = #line
    ) {
        let (document, problems) = PolicyParser.parse(text, knownProfiles: knownProfiles)
        XCTAssertNil(document, file: file, line: testLine)
        XCTAssertEqual(problems.count, 1, "\(problems)", file: file, line: testLine)
        guard let problem = problems.first else { return }
        XCTAssertEqual(
            "\(problem.line):\(problem.column)", "\(line):\(column)", problem.reason, file: file, line: testLine)
        XCTAssertTrue(
            problem.reason.contains(fragment), "\"\(problem.reason)\" lacks \"\(fragment)\"", file: file, line: testLine
        )
    }

    /// A `[message filters]` section of one filter on line 2 has one problem, on that line.
    private func assertFilterProblem(
        _ filter: String, _ column: Int, _ fragment: String, file: StaticString = #filePath, line: UInt = #line
    ) {
        assertProblem("[message filters]\n" + filter, 2, column, fragment, file: file, line: line)
    }

    func testAMissingParenthesisIsReportedAtTheTokenFound() {
        assertFilterProblem("f: if (true { drop(); }", 13, "expected \")\" after the condition, found \"{\"")
    }

    func testAnUnknownConditionIsReportedAtItsName() {
        assertProblem("[message filters]\n\nf: if (subjct == \"x\") { drop(); }", 3, 8, "unknown condition \"subjct\"")
    }

    func testAFilterDefinedTwiceIsReportedAtTheSecond() {
        let text = """
            [content filters]
            footer: if (true) { deliver(); }
            [message filters]
            footer: if (true) { deliver(); }
            [content filters]
              footer: if (false) { deliver(); }
            """
        assertProblem(text, 6, 3, "content filter \"footer\" is defined twice")
    }

    func testTransformsInMessageFiltersAreProblems() {
        assertFilterProblem(
            "f: if (true) { smime-gateway-deferred(\"sgn\"); }", 16, "smime-gateway actions belong in content filters")
    }

    func testABadRegularExpressionIsReportedInsideItsString() {
        // PCRE2 reports the missing ")" at the end of the pattern: the closing quote.
        assertFilterProblem("f: if (subject == \"a(b\") { drop(); }", 23, "missing closing parenthesis")
        assertFilterProblem("f: if (body-contains('x[')) { drop(); }", 25, "bad regular expression \"x[\"")
    }

    func testAnUnterminatedStringIsReportedAtItsQuote() {
        assertFilterProblem("f: if (subject == \"abc) { drop(); }", 19, "without its closing \"")
    }

    func testActionArgumentsAreChecked() {
        assertFilterProblem("f: if (true) { drop(\"now\"); }", 21, "drop() takes no arguments")
        assertFilterProblem("f: if (true) { quarantine(); }", 27, "quarantine() takes one string")
        assertFilterProblem("f: if (true) { insert-header(\"X-A\"); }", 35, "insert-header() takes 2 strings")
        assertFilterProblem("f: if (true) { notify(ops); }", 23, "expected a string as an argument")
        assertFilterProblem("f: if (true) { dorp(); }", 16, "unknown action \"dorp\"")
    }

    func testActionValuesAreChecked() {
        assertFilterProblem("f: if (true) { quarantine(\"../etc\"); }", 27, "not a quarantine name")
        assertFilterProblem("f: if (true) { quarantine(\".hidden\"); }", 27, "not a quarantine name")
        let long = String(repeating: "q", count: 65)
        assertFilterProblem("f: if (true) { quarantine(\"\(long)\"); }", 27, "up to 64")
        assertFilterProblem("f: if (true) { insert-header(\"X Bad\", \"v\"); }", 30, "not a header field name")
        assertFilterProblem("f: if (true) { insert-header(\"X-Ok\", \"a\rb\"); }", 38, "cannot hold CR, LF or NUL")
        assertFilterProblem("f: if (true) { insert-header(\"X-Ok\", \"a\u{0}b\"); }", 38, "CR, LF or NUL")
        let huge = String(repeating: "v", count: 999)
        assertFilterProblem("f: if (true) { insert-header(\"X-Ok\", \"\(huge)\"); }", 38, "998 bytes")
        assertFilterProblem("f: if (true) { strip-header(\"\"); }", 29, "not a header field name")
        assertFilterProblem("f: if (true) { notify(\"Ops <ops@x.test>\"); }", 23, "not a plain address")
        assertFilterProblem("f: if (header(\"A:B\")) { drop(); }", 15, "not a header field name")
        assertProblem(
            "[content filters]\nf: if (true) { smime-gateway(\"enc\"); }", 2, 30, "no sending profile named \"enc\"",
            knownProfiles: ["sgn"])
    }

    func testConditionSyntaxIsChecked() {
        assertFilterProblem("f: if (subject = \"x\") { drop(); }", 16, "compare with == or !=")
        assertFilterProblem("f: if (subject < \"x\") { drop(); }", 16, "expected == or != after")
        assertFilterProblem("f: if (body-size > 1.5M) { drop(); }", 20, "expected a size")
        assertFilterProblem("f: if (body-size ~ 1M) { drop(); }", 18, "the character \"~\"")
        assertFilterProblem("f: if (header(X-A)) { drop(); }", 15, "expected a string in \"header(...)\"")
        assertFilterProblem("f: if (true and) { drop(); }", 16, "expected a condition, found \")\"")
        assertFilterProblem("f: (true) { drop(); }", 4, "expected \"if\" after \"f:\"")
        assertFilterProblem("f: if (true) drop();", 14, "expected \"{\" after the condition's \")\"")
        assertFilterProblem("f: if (true) { drop() deliver(); }", 23, "expected \";\" or \"}\"")
    }

    func testDeeplyNestedConditionsAreAProblemNotACrash() {
        let deep = String(repeating: "not (", count: 60) + "true" + String(repeating: ")", count: 60)
        assertFilterProblem("f: if (\(deep)) { drop(); }", 7 + 5 * 50 + 1, "nested deeper than 100")
        let fine = String(repeating: "(", count: 99) + "true" + String(repeating: ")", count: 99)
        XCTAssertEqual(PolicyParser.parse("[message filters]\nf: if \(fine) { drop(); }").problems, [])
    }

    func testSectionsAreChecked() {
        assertProblem("# a policy\n  drop: if (true) { drop(); }\n[message filters]", 2, 3, "text outside any section")
        assertProblem("[message filter]\nf: if (true) { drop(); }", 1, 1, "unknown section \"[message filter]\"")
        assertProblem("[outgoing policy]\n", 1, 1, "a policy needs a name")
        assertProblem("[outgoing policy a/b]\n", 1, 18, "not a policy name")
        assertProblem("[incoming policy a] x\n", 1, 21, "unexpected text after the section header")
        assertProblem("[incoming policy a\n", 1, 19, "expected \"]\"")
        assertProblem("[incoming policy a]\n[outgoing policy a]\n[incoming policy a]\n", 3, 18, "defined twice")
    }

    func testPolicySettingsAreChecked() {
        assertProblem(
            "[outgoing policy p]\nsenders = @example.test, bad@@x, *\n", 2, 26, "\"bad@@x\" is not an address pattern")
        assertProblem("[outgoing policy p]\nrecipients = a@b,, *\n", 2, 18, "expected an entry")
        assertProblem(
            "[outgoing policy p]\ncontent-filters = a,  missing\n[content filters]\na: if (true) {}", 2, 23,
            "no content filter named \"missing\"")
        assertProblem("[outgoing policy p]\n  decrypt = no\n", 2, 3, "unknown key \"decrypt\" in an outgoing policy")
        assertProblem("[incoming policy p]\nverify = no\nVERIFY = yes\n", 3, 1, "\"VERIFY\" is given twice")
        assertProblem("[incoming policy p]\nverify =   maybe\n", 2, 12, "verify must be yes or no, found \"maybe\"")
        assertProblem("[incoming policy p]\nsignature = strip\n", 2, 13, "signature must be keep or remove")
        assertProblem("[incoming policy p]\nunauthenticated-html = on\n", 2, 24, "neutralise or keep")
        assertProblem("[incoming policy p]\nsenders\n", 2, 1, "expected \"key = value\", found \"senders\"")
        assertProblem("[incoming policy default]\nsenders = *\n", 2, 1, "the default policy covers everyone")
        assertProblem("[outgoing policy default]\n\nrecipients = @x.test\n", 3, 1, "the default policy covers everyone")
        assertProblem(
            "[outgoing policy p]\ncontent-filters = a, a\n[content filters]\na: if (true) {}", 2, 22, "listed twice")
    }

    func testEveryBrokenFilterIsReportedAndTheRestStillRead() {
        let text = """
            [message filters]
            a: if (true) { drop();
            b: if (subjct == "x") { drop(); }
            c: if (true) { bounce(); }
            d: if (subject == "(") { quarantine("a b"); }
            [content filters]
            e: if (true { smime-gateway("enc"); }
            [outgoing policy p]
            content-filters = e, c
            """
        let problems = PolicyParser.parse(text).problems.map(\.description)
        XCTAssertEqual(
            problems,
            [
                "3:1: expected \"}\" to close the actions, found \"b\"",
                "3:8: unknown condition \"subjct\"",
                "5:21: bad regular expression \"(\": missing closing parenthesis",
                "5:37: \"a b\" is not a quarantine name: up to 64 letters, digits, _ - . (no . first)",
                "7:13: expected \")\" after the condition, found \"{\"",
                "9:22: no content filter named \"c\"",
            ])
    }
}
