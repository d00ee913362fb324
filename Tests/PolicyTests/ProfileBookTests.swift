import Policy
import XCTest

/// `ProfileBook` in-process: every refusal is a `ProfileError` case, asserted by value.
final class ProfileBookTests: XCTestCase {
    var repositories: InMemoryRepositories!
    var book: ProfileBook { repositories.profileBook }

    override func setUp() {
        repositories = InMemoryRepositories()
        repositories.certificates = ["gw": [], "old": ["expired on 2020-01-01"]]
    }

    func assertProfileError(
        _ expected: ProfileError, _ body: @autoclosure () throws -> some Any, line: UInt = #line
    ) {
        XCTAssertThrowsError(try body(), line: line) { XCTAssertEqual($0 as? ProfileError, expected, line: line) }
    }

    func testSavedProfilesLoadBackAndListInNameOrder() throws {
        let b = SendingProfile(name: "b", mode: .encrypt, missingKey: .split)
        let a = SendingProfile(name: "a", mode: .signEncrypt, certificate: "gw")
        try book.save(b, replace: false)
        try book.save(a, replace: false)
        XCTAssertEqual(try book.load("b"), b)
        XCTAssertEqual(try book.all(), [a, b])
        XCTAssertEqual(try book.names(), ["a", "b"])
    }

    func testSaveRefusesAnInvalidProfileWithEveryProblem() {
        assertProfileError(
            .invalid("p", problems: ["mode sign signs: a certificate (--cert) is required"]),
            try book.save(SendingProfile(name: "p", mode: .sign), replace: false))
        assertProfileError(
            .invalid("p", problems: ["no certificate named \"nobody\""]),
            try book.save(SendingProfile(name: "p", mode: .sign, certificate: "nobody"), replace: false))
        assertProfileError(
            .invalid("p", problems: ["certificate old: expired on 2020-01-01"]),
            try book.save(SendingProfile(name: "p", mode: .triple, certificate: "old"), replace: false))
        XCTAssertEqual(repositories.definitions, [:], "nothing stored")
    }

    /// A run stops only for a missing certificate; one that can no longer sign bounces each message.
    func testARunChecksThatTheCertificateExistsNotThatItCanSign() throws {
        let profile = SendingProfile(name: "p", mode: .sign, certificate: "old")
        XCTAssertEqual(try book.problems(profile, checkUsability: false), [])
        XCTAssertEqual(try book.problems(profile), ["certificate old: expired on 2020-01-01"])
    }

    func testCreateAndReplaceRespectWhetherTheProfileExists() throws {
        let profile = SendingProfile(name: "p", mode: .encrypt)
        assertProfileError(.notFound("p"), try book.save(profile, replace: true))
        try book.save(profile, replace: false)
        assertProfileError(.alreadyExists("p"), try book.save(profile, replace: false))
        try book.save(SendingProfile(name: "p", mode: .encrypt, cipher: "aes-256-gcm"), replace: true)
        XCTAssertEqual(try book.load("p").cipher, "aes-256-gcm")
    }

    func testMissingAndUnreadableProfilesAreTellingErrors() {
        assertProfileError(.notFound("x"), try book.load("x"))
        assertProfileError(.notFound("x"), try book.delete("x"))
        repositories.definitions["broken"] = "{\"mode\": \"teleport\"}"
        assertProfileError(.unreadable("broken"), try book.load("broken"))
        assertProfileError(.unreadable("broken"), try book.all())
    }

    func testImportIsAllOrNothingAndNamesEveryProblem() throws {
        try book.save(SendingProfile(name: "kept", mode: .encrypt), replace: false)
        let before = repositories.definitions
        let broken = "[profile a]\nmode = encrypt\n\n[profile b]\nmode = sign\ncert = nobody\n\n[profile c]\nmode = x\n"
        assertProfileError(
            .rejected(problems: ["profile c: unknown mode \"x\"", "profile b: no certificate named \"nobody\""]),
            try book.importing(broken))
        XCTAssertEqual(repositories.definitions, before)
        let imported = try book.importing(
            ProfileFile.render([SendingProfile(name: "kept", mode: .sign, certificate: "gw")]))
        XCTAssertEqual(imported.map(\.name), ["kept"])
        XCTAssertEqual(try book.load("kept").mode, .sign, "same-named profiles are replaced")
    }
}
