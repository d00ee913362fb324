import MIME
import Policy
import XCTest

/// What runs when (SPEC F8, F14): filters in file order, header actions seen by later
/// conditions, final actions against deferred marks, skip-filters and else branches.
final class FilterEvaluatorTests: XCTestCase {
    private let message = PolicyFixtures.message([
        "From: alice@example.test",
        "Subject: Quarterly figures",
        "X-Internal: one",
        "X-Other: keep",
        "x-internal: two",
        "",
        "body",
        "",
    ])

    /// Runs the content filters written in `text` over a copy of the message.
    private func run(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> (FilterDecision, Entity) {
        var copy = message
        do {
            let decision = try FilterEvaluator.run(
                PolicyFixtures.contentFilters(text, file: file, line: line), on: &copy, context: PolicyFixtures.context)
            return (decision, copy)
        } catch {
            XCTFail("\(error)", file: file, line: line)
            return (FilterDecision(), copy)
        }
    }

    func testFiltersRunInFileOrderAndEveryStepIsRecorded() {
        let (decision, result) = run(
            """
            first: if (true) { insert-header("X-Order", "1"); }
            second: if (subject == "nothing") { drop(); }
            third: if (header("X-Order") == "^1$") { insert-header("X-Order", "2"); }
            """)
        XCTAssertEqual(decision.steps.map(\.filter), ["first", "second", "third"])
        XCTAssertEqual(decision.steps.map(\.matched), [true, false, true])
        XCTAssertEqual(decision.acted, ["first", "third"])
        XCTAssertEqual(
            result.fields(named: "X-Order").map(\.value), ["1", "2"], "insert-header appends, in order")
        XCTAssertEqual(result.fields.last?.name, "X-Order", "after the existing fields: trace fields stay on top")
        XCTAssertEqual(decision.disposition, .deliver)
        XCTAssertNil(decision.profile)
    }

    func testAHeaderInsertedAfterADeferredMarkIsPresent() {
        let (decision, result) = run(
            """
            sign-later: if (true) { smime-gateway-deferred("sgn"); }
            footer: if (true) { insert-header("X-Footer", "added"); }
            """)
        XCTAssertEqual(decision.profile, "sgn")
        XCTAssertFalse(decision.finalTransform)
        XCTAssertEqual(result.field("X-Footer"), "added")
        XCTAssertEqual(decision.acted, ["sign-later", "footer"])
    }

    func testAHeaderInsertedAfterAFinalActionIsNot() {
        let (decision, result) = run(
            """
            encrypt: if (subject == "(?i)quarterly") { smime-gateway("enc"); insert-header("X-Same", "1"); }
            footer: if (true) { insert-header("X-Footer", "added"); }
            """)
        XCTAssertEqual(decision.profile, "enc")
        XCTAssertTrue(decision.finalTransform)
        XCTAssertNil(result.field("X-Same"), "a final action ends its own filter too")
        XCTAssertNil(result.field("X-Footer"))
        XCTAssertEqual(decision.steps.map(\.filter), ["encrypt"])
        XCTAssertEqual(decision.steps.first?.actions, [.smimeGateway(profile: "enc")])
    }

    func testTheLastMarkWinsAndAFinalActionWinsOverAMark() {
        let (marks, _) = run(
            """
            a: if (true) { smime-gateway-deferred("first"); }
            b: if (true) { smime-gateway-deferred("second"); }
            c: if (false) { smime-gateway-deferred("never"); }
            """)
        XCTAssertEqual(marks.profile, "second")
        XCTAssertFalse(marks.finalTransform)
        let (final, _) = run(
            """
            a: if (true) { smime-gateway-deferred("sgn"); }
            b: if (true) { smime-gateway("enc"); }
            c: if (true) { smime-gateway-deferred("late"); }
            """)
        XCTAssertEqual(final.profile, "enc")
        XCTAssertTrue(final.finalTransform)
        XCTAssertEqual(final.steps.map(\.filter), ["a", "b"])
    }

    func testSkipFiltersEndsTheLaterFiltersButNotItsOwnActions() {
        let (decision, result) = run(
            """
            stop: if (true) { skip-filters(); insert-header("X-Same", "1"); }
            later: if (true) { insert-header("X-Later", "1"); }
            """)
        XCTAssertEqual(result.field("X-Same"), "1")
        XCTAssertNil(result.field("X-Later"))
        XCTAssertEqual(decision.steps.map(\.filter), ["stop"])
        XCTAssertEqual(decision.disposition, .deliver)
    }

    func testElseBranchesRunWhenTheConditionFails() {
        let (decision, result) = run(
            """
            branch: if (subject == "^Invoice") { insert-header("X-Branch", "then"); } else {
                insert-header("X-Branch", "else"); notify("ops@example.test");
            }
            plain: if (false) { insert-header("X-Plain", "1"); }
            """)
        XCTAssertEqual(result.fields(named: "X-Branch").map(\.value), ["else"])
        XCTAssertNil(result.field("X-Plain"))
        XCTAssertEqual(decision.steps.first?.matched, false)
        XCTAssertEqual(
            decision.steps.first?.actions,
            [.insertHeader(name: "X-Branch", value: "else"), .notify("ops@example.test")])
        XCTAssertEqual(decision.acted, ["branch"])
    }

    func testStripHeaderRemovesEveryInstanceAndLaterConditionsSeeIt() {
        let (decision, result) = run(
            """
            strip: if (true) { strip-header("X-INTERNAL"); }
            check: if (header("X-Internal")) { insert-header("X-Still", "there"); }
                   else { insert-header("X-Gone", "1"); }
            """)
        XCTAssertEqual(result.fields(named: "X-Internal").count, 0)
        XCTAssertEqual(result.field("X-Other"), "keep")
        XCTAssertEqual(result.field("X-Gone"), "1")
        XCTAssertNil(result.field("X-Still"))
        XCTAssertEqual(decision.steps.map(\.matched), [true, false])
    }

    func testNotificationsAreCollectedInOrder() {
        let (decision, _) = run(
            """
            a: if (true) { notify("ops@example.test"); }
            b: if (false) { notify("never@example.test"); }
            c: if (true) { notify("audit@example.test"); deliver(); notify("after@example.test"); }
            """)
        XCTAssertEqual(decision.notifications, ["ops@example.test", "audit@example.test"])
        XCTAssertEqual(decision.disposition, .deliver)
    }

    func testDispositionsAreFinal() {
        let cases: [(String, FilterDecision.Disposition)] = [
            ("quarantine(\"Policy\")", .quarantine("Policy")), ("drop()", .drop), ("bounce()", .bounce),
            ("deliver()", .deliver),
        ]
        for (action, disposition) in cases {
            let (decision, result) = run(
                """
                act: if (true) { \(action); }
                later: if (true) { insert-header("X-Later", "1"); drop(); }
                """)
            XCTAssertEqual(decision.disposition, disposition, action)
            XCTAssertEqual(decision.steps.map(\.filter), ["act"], action)
            XCTAssertNil(result.field("X-Later"), action)
        }
    }

    func testTheIssueExampleDecidesPerCopy() throws {
        let document = try XCTUnwrap(PolicyParser.parse(PolicyParserTests.example).document)
        let confidential = PolicyFixtures.message(["Subject: CONFIDENTIAL plans", "X-Internal: secret", "", "text", ""])
        let partners = document.outgoingPolicy(sender: "a@example.test", recipient: "r1@example.test")
        var copy = confidential
        let encrypted = try FilterEvaluator.run(
            document.contentFilters(of: partners), on: &copy, context: PolicyFixtures.context)
        XCTAssertEqual(encrypted.profile, "enc")
        XCTAssertTrue(encrypted.finalTransform)
        XCTAssertEqual(copy.field("X-Internal"), "secret", "the footer filter never ran")

        let fallback = document.outgoingPolicy(sender: "a@example.test", recipient: "someone@customer.example")
        XCTAssertEqual(fallback.name, "default")
        copy = confidential
        let signed = try FilterEvaluator.run(
            document.contentFilters(of: fallback), on: &copy, context: PolicyFixtures.context)
        XCTAssertEqual(signed.profile, "sgn")
        XCTAssertFalse(signed.finalTransform)
        XCTAssertEqual(copy.field("X-Footer"), "added")
        XCTAssertNil(copy.field("X-Internal"))

        copy = PolicyFixtures.message(["Subject: DROPME now", "", "x", ""])
        let dropped = try FilterEvaluator.run(document.messageFilters, on: &copy, context: PolicyFixtures.context)
        XCTAssertEqual(dropped.disposition, .drop)
        copy = PolicyFixtures.message(["Subject: hello", "", "x", ""])
        let unverified = FilterContext(mailFrom: nil, recipients: [], encrypted: false, size: 1, smimeMessage: true)
        let quarantined = try FilterEvaluator.run(document.messageFilters, on: &copy, context: unverified)
        XCTAssertEqual(quarantined.disposition, .quarantine("Policy"))
        XCTAssertEqual(quarantined.acted, ["quarantine_smime_messages"])
    }
}
