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

    /// What is not an addr-spec is no address: a backslash outside quotes, a bracket, a control
    /// character. Otherwise `evil@attacker.test\>@victim.example` would be read as an address at
    /// victim.example (its policy) and reach SMTP as `RCPT TO:<evil@attacker.test>@victim.example>`.
    func testWhatIsNotAnAddrSpecIsNoAddress() {
        XCTAssertEqual(Address.parseList("evil@attacker.test\\>@victim.example, ok@x.example"), ["ok@x.example"])
        XCTAssertEqual(Address.parseList("<x@attacker.test\\\" NOTIFY=NEVER\"@victim.example>"), [])
        XCTAssertEqual(Address.parseList("a\u{1B}[2J@x.example, b\u{7F}@x.example, c@x\u{0B}.example"), [])
        XCTAssertEqual(Address.parseList("<a@b.example>@c.example"), ["a@b.example"])
        XCTAssertEqual(
            Address.parseList("user@[192.0.2.1], zoë@exämple.test"), ["user@[192.0.2.1]", "zoë@exämple.test"])
        XCTAssertEqual(Address.parseList("\"a\\\\b c\"@x.example").count, 1, "a quoted-pair inside quotes is fine")
    }

    /// A quoted-pair stays one: a later reader (sendmail reads each argument as a list) must see
    /// one address with quotes and a comma in its local part, not `"a"@evil.test` and another.
    func testQuotedPairsAreKept() {
        XCTAssertEqual(
            Address.parseList("\"a\\\"@evil.test,\\\"b\"@example.org"), ["\"a\\\"@evil.test,\\\"b\"@example.org"])
        XCTAssertEqual(Address.parseList("Bob (a \\) comment) <bob@x.example>"), ["bob@x.example"])
    }
}
