import Foundation
import Policy
import TestSupport
import XCTest

/// `PolicyBook` in-process: a policy is checked against the stored profiles, loaded
/// all or nothing, and read back; refusals are `PolicyStoreError` values.
final class PolicyBookTests: XCTestCase {
    var repositories: InMemoryRepositories!
    var book: PolicyBook { repositories.policyBook }
    let example = string(bytes(of: Paths.fixture("example.policy")))

    override func setUp() {
        repositories = InMemoryRepositories()
        repositories.definitions = ["enc": "{}", "sgn": "{}"]
    }

    func testTheIssueExampleChecksAgainstItsProfiles() throws {
        let document = try book.check(example)
        XCTAssertEqual(document.profileNames, ["enc", "sgn"])
        XCTAssertEqual(repositories.policySaves, 0, "check stores nothing")
    }

    func testAProfileTheStoreLacksIsAProblemWhereItIsNamed() {
        repositories.definitions["sgn"] = nil
        XCTAssertThrowsError(try book.load(example)) {
            XCTAssertEqual(
                $0 as? PolicyStoreError,
                .invalid(problems: [PolicyProblem(line: 12, column: 48, "no sending profile named \"sgn\"")]))
        }
        XCTAssertNil(try book.current())
    }

    func testAProfileThePolicyInForceNamesCannotBeDeleted() throws {
        try book.load(example)
        XCTAssertThrowsError(try book.deleteProfile("enc", from: repositories.profileBook)) {
            XCTAssertEqual($0 as? ProfileError, .inUse("enc"))
        }
        XCTAssertNotNil(repositories.definitions["enc"])
        try book.load("[outgoing policy default]\n")
        try book.deleteProfile("enc", from: repositories.profileBook)
        XCTAssertNil(repositories.definitions["enc"])
    }

    func testABrokenLoadLeavesThePolicyInForce() throws {
        let (_, first) = try book.load(example)
        XCTAssertThrowsError(try book.load("[message filters]\nx: if (true) { drop(; }\n")) {
            XCTAssertEqual(($0 as? PolicyStoreError)?.problems.map(\.line), [2])
        }
        XCTAssertEqual(repositories.policySaves, 1)
        let current = try XCTUnwrap(try book.current())
        XCTAssertEqual(current.stored, first)
        XCTAssertEqual(current.document.outgoing.map(\.name), ["partners", "default"])
    }

    func testAStoredPolicyThatNoLongerParsesIsUnreadable() {
        repositories.policy = StoredPolicy(text: "[teleport]\n", sha256: "", loadedAt: Date())
        XCTAssertThrowsError(try book.current()) {
            guard case .unreadable(let problems)? = $0 as? PolicyStoreError else { return XCTFail("\($0)") }
            XCTAssertEqual(problems.map(\.line), [1])
        }
    }
}
