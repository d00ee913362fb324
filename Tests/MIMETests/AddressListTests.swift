import MIME
import XCTest

/// RFC 5322 §3.4 address lists as the envelope reads them: every recipient is found,
/// however legally odd its spelling, so none escapes its policy or its encryption.
final class AddressListTests: XCTestCase {
    func testAQuotedLocalPartIsAnAddressNotAPhrase() {
        XCTAssertEqual(Address.parseList("\"bob\"@partner.example"), ["bob@partner.example"])
        XCTAssertEqual(Address.parseList("Bob <\"bob\"@partner.example>"), ["bob@partner.example"])
        XCTAssertEqual(
            Address.parseList("\"bob smith\"@partner.example, c@d.example"),
            ["\"bob smith\"@partner.example", "c@d.example"],
            "a local part that needs its quotes keeps them")
    }

    func testAQuotedDisplayNameIsStillOnlyAName() {
        XCTAssertEqual(Address.parseList("\"bob@partner.example\" <eve@evil.example>"), ["eve@evil.example"])
        XCTAssertEqual(Address.parseList("\"Doe, John\" <john@x.example>"), ["john@x.example"])
        XCTAssertEqual(Address.parseList("\"Bob\" bob@x.example"), ["bob@x.example"])
    }

    func testAnObsoleteSourceRouteIsDropped() {
        XCTAssertEqual(Address.parseList("<@relay.test:bob@partner.example>"), ["bob@partner.example"])
        XCTAssertEqual(Address.parseList("Bob <@a.test,@b.test:bob@partner.example>"), ["bob@partner.example"])
        XCTAssertEqual(Address.parseList("team: a@b.example, c@d.example;"), ["a@b.example", "c@d.example"])
    }
}
