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

    /// Adversarial test F5: a charset we cannot decode (UTF-7, unknown) could show the reader an address.
    func testDisplayNamesInAnUndecodableCharsetAreRefused() {
        for value in [
            "=?utf-7?q?ceo+AEA-example.org?= <alice@example.com>",
            "=?UTF-7?B?Y2VvK0FFQS1leGFtcGxlLm9yZw==?= <a@b.example>",
            "=?x-unknown?q?ceo?= <alice@example.com>", "=?utf-16?b?AGMAZQBv?= <alice@example.com>",
            "=?euc-jp?b?xvzL3A==?= <alice@example.com>", "alice@example.com (=?utf-7?q?+AEA-?=)",
        ] {
            let refused = problem(value)
            XCTAssertTrue(
                refused?.description.contains("undecodable charset") == true, "\(value): \(String(describing: refused))"
            )
        }
        for value in [
            "=?iso-8859-1?q?J=F6rg?= <alice@example.com>", "=?windows-1252?q?J=F6rg?= <alice@example.com>",
            "=?us-ascii?q?Alice?= <alice@example.com>", "=?UTF-8*en?q?Alice?= <alice@example.com>",
        ] {
            XCTAssertEqual(address(value), "alice@example.com", value)
        }
    }

    /// Japanese mailers write display names in ISO-2022-JP or Shift_JIS: decoded like a client,
    /// a name passes, and an address in full-width characters is still seen.
    func testJapaneseDisplayNamesAreDecodedAndChecked() {
        for value in [
            "=?ISO-2022-JP?B?GyRCOzNFRBsoQiAbJEJCQE86GyhC?= <alice@example.com>",
            "=?shift_jis?b?jlKTYyCRvphZ?= <alice@example.com>",
        ] {
            XCTAssertEqual(address(value), "alice@example.com", value)
        }
        for value in [
            "=?iso-2022-jp?b?Y2VvGyRCIXcbKEJleGFtcGxlGyRCISUbKEJvcmc=?= <alice@example.com>",
            "=?Shift_JIS?B?Y2VvgZdleGFtcGxlgURvcmc=?= <alice@example.com>",
        ] {
            XCTAssertTrue(
                problem(value)?.description.contains("shows another address") == true,
                "\(value): \(String(describing: problem(value)))")
        }
    }

    /// Adversarial test F8: a quoted local part that needs no quoting is the same mailbox.
    func testQuotedLocalPartsThatNeedNoQuotingAreNormalised() {
        XCTAssertEqual(address("\"alice\"@example.com"), "alice@example.com")
        XCTAssertEqual(address("Alice <\"alice\"@example.com>"), "alice@example.com")
        XCTAssertEqual(address("\"alice.m\"@example.com (Alice)"), "alice.m@example.com")
        XCTAssertEqual(try Mailbox.parse("\"alice\"@example.com").get().displayText, "")
        XCTAssertEqual(problem("\"alice smith\"@example.com"), .notAMailbox)
        XCTAssertEqual(problem("\"ceo@example.org\"@example.com"), .notAMailbox)
        XCTAssertEqual(problem("<\"ceo@example.org\"@example.com>"), .notAMailbox)
        XCTAssertEqual(problem("\"Alice\" alice@example.com"), .notAMailbox)
    }

    /// Adversarial test F8: an "@" in a display name is refused only when it forms an address.
    func testAtSignsThatFormNoAddressAreAccepted() {
        for value in [
            "\"Alice @ Example\" <alice@example.com>", "\"Alice@Home\" <alice@example.com>",
            "\"@alice\" <alice@example.com>", "=?utf-8?q?Alice_=40_Example?= <alice@example.com>",
            "\"Alice \u{FF20} Example\" <alice@example.com>",
        ] {
            XCTAssertEqual(address(value), "alice@example.com", value)
        }
        for value in [
            "\"ceo @ example.org\" <alice@example.com>", "\"ceo\u{FF20}example\u{FF0E}org\" <alice@example.com>",
            "=?utf-8?q?ceo_=40_example=2Eorg?= <alice@example.com>", "\"ceo@example.org.\" <alice@example.com>",
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
