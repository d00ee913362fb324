import MIME
import XCTest

/// Issue 9 item 5: an author field is one plain mailbox, and its display name shows
/// no other address, also after RFC 2047 decoding.
final class MailboxTests: XCTestCase {
    func address(_ value: String) -> String? { try? Mailbox.parse(value).get().address }
    func problem(_ value: String) -> AuthorProblem? {
        if case .failure(let problem) = Mailbox.parse(value) { return problem }
        return nil
    }

    func testPlainMailboxesParse() {
        XCTAssertEqual(address("Alice <alice@example.com>"), "alice@example.com")
        XCTAssertEqual(address("alice@example.com"), "alice@example.com")
        XCTAssertEqual(address("\"Example, Alice\" <alice@example.com>"), "alice@example.com")
        XCTAssertEqual(address("alice@example.com (Alice)"), "alice@example.com")
        XCTAssertEqual(address("\"ALICE@example.com\" <alice@example.com>"), "alice@example.com")
        XCTAssertEqual(address("Alice\r\n <alice@example.com>"), "alice@example.com")
        XCTAssertEqual(
            try Mailbox.parse("=?utf-8?q?Alice_M=C3=BCller?= <a@b.example>").get().displayText, "Alice Müller")
    }

    func testListsGroupsAndRoutesAreRefused() {
        XCTAssertEqual(problem("alice@example.com, ceo@example.org"), .severalMailboxes(2))
        XCTAssertEqual(problem("Board: alice@example.com;"), .group)
        XCTAssertEqual(problem("Board:;"), .group)
        XCTAssertEqual(problem("<@relay.example.org:alice@example.com>"), .route)
        XCTAssertEqual(problem("Alice <alice@example.com> ceo@example.org"), .notAMailbox)
        XCTAssertEqual(problem("Alice"), .notAMailbox)
        XCTAssertEqual(Mailbox.author([]).failure, .missing)
        XCTAssertEqual(Mailbox.author(["a@example.com", "b@example.com"]).failure, .severalFields(2))
    }

    func testDisplayNamesShowingAnotherAddressAreRefused() {
        for value in [
            "\"ceo@example.org\" <alice@example.com>", "ceo@example.org <alice@example.com>",
            "=?utf-8?q?ceo=40example=2Eorg?= <alice@example.com>",
            "=?utf-8?b?Y2VvQGV4YW1wbGUub3Jn?= <alice@example.com>",
            "=?iso-8859-1?q?ceo=40example.org?= <alice@example.com>", "alice@example.com (ceo@example.org)",
            "\"ceo\u{FF20}example.org\" <alice@example.com>",
        ] {
            XCTAssertEqual(problem(value), .displayNameAddress("ceo@example.org"), value)
        }
    }

    func testEncodedWordsDecodeAsAClientShowsThem() {
        XCTAssertEqual(EncodedWord.decode("=?utf-8?q?a?= =?utf-8?q?b?= c"), "ab c")
        XCTAssertEqual(EncodedWord.decode("x =?bogus"), "x =?bogus")
        XCTAssertEqual(EncodedWord.decode("=?ISO-8859-1?Q?J=F6rg?="), "Jörg")
    }
}

extension Result {
    fileprivate var failure: Failure? {
        if case .failure(let failure) = self { return failure }
        return nil
    }
}
