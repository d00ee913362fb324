import Policy
import XCTest

/// The appliance's five sender/recipient pattern forms (SPEC F9), case-insensitive.
final class AddressPatternTests: XCTestCase {
    private func pattern(_ text: String, file: StaticString = #filePath, line: UInt = #line) -> AddressPattern? {
        let pattern = AddressPattern(text)
        XCTAssertNotNil(pattern, text, file: file, line: line)
        return pattern
    }

    func testAnAddressMatchesOnlyItself() {
        let exact = pattern("R1@Example.Test")
        XCTAssertEqual(exact?.kind, .address("r1@example.test"))
        XCTAssertEqual(exact?.matches("r1@EXAMPLE.test"), true)
        XCTAssertEqual(exact?.matches("r2@example.test"), false)
        XCTAssertEqual(exact?.matches("r1@sub.example.test"), false)
    }

    func testADomainMatchesThatDomainOnly() {
        let domain = pattern("@example.test")
        XCTAssertEqual(domain?.kind, .domain("example.test"))
        XCTAssertEqual(domain?.matches("anyone@Example.TEST"), true)
        XCTAssertEqual(domain?.matches("anyone@sub.example.test"), false)
        XCTAssertEqual(domain?.matches("anyone@badexample.test"), false)
    }

    func testADottedDomainMatchesItsSubdomainsNotItself() {
        let subdomains = pattern("@.example.net")
        XCTAssertEqual(subdomains?.kind, .subdomains(of: "example.net"))
        XCTAssertEqual(subdomains?.matches("a@mail.example.net"), true)
        XCTAssertEqual(subdomains?.matches("a@deep.mail.EXAMPLE.net"), true)
        XCTAssertEqual(subdomains?.matches("a@example.net"), false)
        XCTAssertEqual(subdomains?.matches("a@badexample.net"), false)
    }

    func testALocalPartMatchesAtAnyDomain() {
        let local = pattern("Postmaster@")
        XCTAssertEqual(local?.kind, .localPart("postmaster"))
        XCTAssertEqual(local?.matches("postmaster@a.test"), true)
        XCTAssertEqual(local?.matches("POSTMASTER@b.example"), true)
        XCTAssertEqual(local?.matches("postmasters@a.test"), false)
    }

    func testAStarMatchesAnyone() {
        let anyone = pattern("*")
        XCTAssertEqual(anyone?.kind, .anyone)
        XCTAssertEqual(anyone?.matches("x@y.z"), true)
        XCTAssertEqual(anyone?.matches("no-at-sign"), true)
    }

    func testOtherTextIsNoPattern() {
        for text in ["", "@", "@.", "@..x", "a@.x", "a@b@c", "no-at", "a b@c", "*@example.test", "a@*.test", "a,b@c"] {
            XCTAssertNil(AddressPattern(text), text)
        }
    }

    func testPatternsPrintAsWritten() {
        let written = ["user@domain.test", "@domain.test", "@.domain.test", "user@", "*"]
        XCTAssertEqual(written.compactMap(AddressPattern.init).map(\.description), written)
    }
}
