import MIME
import Policy
import XCTest

/// Regular expressions never fail open: PCRE2 giving up is an error, not "no match".
final class PatternTests: XCTestCase {
    /// `(.|\n)*` backtracks once per character; on 3 KB the JIT's 32 KiB stack runs out
    /// (PCRE2_ERROR_JIT_STACKLIMIT) and the interpreter, which uses the heap, finishes the match.
    func testAMatchNeedingMoreThanTheJITStackIsFinishedByTheInterpreter() throws {
        let pattern = try Pattern(#"(?i)begin(.|\n)*confidential"#)
        let notes = "begin of the notes\n" + String(repeating: "lorem ipsum dolor sit amet\n", count: 100)
        XCTAssertTrue(try pattern.matches(notes + "this is CONFIDENTIAL\n"))
        XCTAssertFalse(try pattern.matches(notes + "this is public\n"))
    }

    /// ASCII text is searched by the pattern's byte-mode twin (fast for `(?i)`), other text in UTF
    /// mode: the answers are those of UTF mode either way.
    func testAnswersAreUTFModesOnASCIIAndOnOtherText() throws {
        let caseless = try Pattern("(?i)strictly private")
        XCTAssertTrue(try caseless.matches("This is STRICTLY PRIVATE."))
        XCTAssertTrue(try caseless.matches("ſtrictly private, déjà vu"), "ſ is an s to a caseless UTF match")
        XCTAssertFalse(try caseless.matches("strictly public, déjà vu"))
        let three = try Pattern("^.{3}$")
        XCTAssertTrue(try three.matches("abc"))
        XCTAssertTrue(try three.matches("äbc"), "a character, not a byte")
        XCTAssertFalse(try three.matches("äbcd"))
        let wide = try Pattern(#"\x{17F}"#)
        XCTAssertTrue(try wide.matches("ſ"))
        XCTAssertFalse(try wide.matches("s"))
        let long = String(repeating: "plain ascii text ", count: 300) + "end"
        XCTAssertTrue(try Pattern("(?i)END$").matches(long))
        XCTAssertTrue(try Pattern("(?i)END é$").matches(long + " é"), "a non-ASCII byte past the last word")
    }

    /// The text was not searched to its end: the failure says why, in PCRE2's words.
    func testHittingTheMatchLimitIsAFailureNotNoMatch() throws {
        let pattern = try Pattern("(a+)+$")
        XCTAssertTrue(try pattern.matches("b aaaaa"))
        XCTAssertThrowsError(try pattern.matches(String(repeating: "a", count: 36) + "b aaaaa")) { error in
            let failure = error as? Pattern.MatchFailure
            XCTAssertEqual(failure?.code, -47, "PCRE2_ERROR_MATCHLIMIT")
            XCTAssertEqual(failure?.pattern, "(a+)+$")
            XCTAssertEqual(failure?.description, #"regular expression "(a+)+$" failed: match limit exceeded"#)
        }
    }

    /// Through the evaluator, the failure ends the run as a `FilterError` naming the filter,
    /// after the filters before it ran.
    func testAFilterThatCannotDecideEndsTheRunWithItsName() throws {
        let filters = PolicyFixtures.contentFilters(
            """
            first: if (true) { insert-header("X-First", "1"); }
            hostile: if (body-contains("(a+)+$")) { quarantine("Q"); }
            later: if (true) { drop(); }
            """)
        var message = PolicyFixtures.message(["Subject: s", "", String(repeating: "a", count: 36) + "b aaaaa", ""])
        XCTAssertThrowsError(try FilterEvaluator.run(filters, on: &message, context: PolicyFixtures.context)) {
            XCTAssertEqual(
                $0 as? FilterError,
                FilterError(filter: "hostile", reason: #"regular expression "(a+)+$" failed: match limit exceeded"#))
            XCTAssertEqual(
                ($0 as? FilterError)?.description,
                #"filter hostile: regular expression "(a+)+$" failed: match limit exceeded"#)
        }
    }

    /// A thousand parts just under the match limit each would stall a worker for seconds:
    /// one evaluation's matches share one budget, and past it the condition cannot be decided.
    /// (A budget of a nanosecond is spent by the first match, whose answer still counts.)
    func testTheMatchesOfOneEvaluationShareOneBudget() throws {
        let filters = PolicyFixtures.contentFilters(
            """
            first: if (subject == "^s$") { insert-header("X-First", "1"); }
            second: if (body-contains("nothing")) { drop(); }
            """)
        var message = PolicyFixtures.message(["Subject: s", "", "text", ""])
        XCTAssertThrowsError(
            try FilterEvaluator.run(
                filters, on: &message, context: PolicyFixtures.context, matchingBudget: .nanoseconds(1))
        ) {
            XCTAssertEqual(
                $0 as? FilterError,
                FilterError(filter: "second", reason: "regular expressions took more than 1 ns on this message"))
        }
        XCTAssertEqual(message.field("X-First"), "1", "the first match overdrew the budget and still decided")
        XCTAssertEqual(FilterEvaluator.matchingBudget, .seconds(2))
        XCTAssertEqual(
            ConditionFailure.matchingBudgetSpent(FilterEvaluator.matchingBudget).description,
            "regular expressions took more than 2 s on this message")
    }

    /// The budget is per evaluation: a new run starts with all of it.
    func testEveryRunHasItsOwnBudget() throws {
        let filters = PolicyFixtures.contentFilters(#"f: if (body-contains("(?i)text")) { drop(); }"#)
        for _ in 0..<3 {
            var message = PolicyFixtures.message(["Subject: s", "", "text", ""])
            let decision = try FilterEvaluator.run(
                filters, on: &message, context: PolicyFixtures.context, matchingBudget: .milliseconds(500))
            XCTAssertEqual(decision.disposition, .drop)
        }
    }
}
