import Foundation
import TestSupport
import XCTest

/// A throwaway smimegate home with the fixture identities, partners' keys and CA,
/// and helpers to run smimegate, openssl and the pyca peer.
class CLITestCase: XCTestCase {
    var dir: URL!
    var home: String { dir.appendingPathComponent("home").path }

    static let plainLF = """
        From: Alice <alice@example.com>
        To: Bob <bob@partner.example>
        Subject: Quarterly figures
        Date: Sun, 29 Nov 2026 10:00:00 +0000
        Message-ID: <interop-1@example.com>
        MIME-Version: 1.0
        Content-Type: text/plain; charset=utf-8
        Content-Transfer-Encoding: 8bit

        Hello Bob,
        Grüße aus Tokyo.
        From now on, this line starts with From.

        """

    override func setUpWithError() throws {
        dir = try temporaryDirectory("smimegate-cli")
        // SMIMEGATE_TEST_KEYSTORE=postgresql (scripts/test.sh's second pass): every smimegate this test runs
        // keeps its keystore in a fresh database of the test PostgreSQL server, through the environment.
        if ProcessInfo.processInfo.environment["SMIMEGATE_TEST_KEYSTORE"] == "postgresql" {
            let database = try PostgresServer.shared.createDatabase()
            setenv("SMIMEGATE_KEYSTORE", database, 1)
            setenv("PGPASSWORD", PostgresServer.shared.password, 1)
            CLIHome.databases.withLock { $0[home] = database }
        }
        try smimegate(["init"]).expect(0)
        try smimegate(["cert", "import", "alice", fixture("alice.p12"), "--passphrase-file", fixture("alice.pass")])
            .expect(0)
        try smimegate(["cert", "import", "gateway", fixture("gateway.pem"), "--key", fixture("gateway.key")]).expect(0)
        try smimegate(["cert", "import", "bob", fixture("bob.pem"), "--key", fixture("bob.key")]).expect(0)
        try smimegate(["cert", "import", "carol", fixture("carol-ec.pem"), "--key", fixture("carol-ec.key")]).expect(0)
        try smimegate(["cert", "import", "dan", fixture("dan.pem"), "--key", fixture("dan.key")]).expect(0)
        try smimegate(["ca", "add", fixture("ca.pem")]).expect(0)
        // The test CA's CRL: revocation is decided ("good") for the fixture certificates (SPEC F25).
        try smimegate(["ca", "crl", "add", fixture("ca.crl")]).expect(0)
        for name in ["bob", "dan", "carol-ec", "signonly", "wildcard", "expired"] {
            try smimegate(["keys", "add", name, fixture("\(name).pem")]).expect(0)
        }
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func fixture(_ name: String) -> String { Paths.fixture(name).path }
    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    @discardableResult
    func smimegate(_ arguments: [String], input: [UInt8] = []) throws -> ProcessResult {
        try runProcess(Paths.binary.path, ["--home", home] + arguments, input: input)
    }

    @discardableResult
    func openssl(_ arguments: [String], input: [UInt8] = []) throws -> ProcessResult {
        try runProcess("openssl", arguments, input: input)
    }

    @discardableResult
    func pyca(_ arguments: [String], input: [UInt8] = []) throws -> ProcessResult {
        try runProcess(Paths.python, [Paths.peerScript.path] + arguments, input: input)
    }

    func save(_ text: String, _ name: String) throws -> String {
        try write(text, to: dir.appendingPathComponent(name))
        return path(name)
    }

    func save(_ data: [UInt8], _ name: String) throws -> String {
        try write(data, to: dir.appendingPathComponent(name))
        return path(name)
    }

    func read(_ name: String) -> [UInt8] { bytes(of: dir.appendingPathComponent(name)) }
}

/// One record of DIR/manifest.jsonl, with the fields that say what became of an input.
struct ManifestEntry: Decodable, Hashable {
    struct File: Decodable, Hashable {
        let file: String
        let recipients: [String]
        let policy: String?
        let filters: [String]?
        let profile: String?
    }
    let input: String
    let offset: Int?
    let outcome: String
    let quarantine: String?
    let policySha256: String?
    let outputs: [File]
    let reason: String?
    let warning: String?
    let revocation: String?
    let validationTime: String?
    let validationTimeSource: String?
}

extension CLITestCase {
    /// A maildir with the given messages in new/.
    func maildir(_ name: String, _ messages: [String: String]) throws -> String {
        let root = path(name)
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: root + "/" + sub, withIntermediateDirectories: true)
        }
        for (file, text) in messages { try write(text, to: URL(fileURLWithPath: root + "/new/" + file)) }
        return root
    }

    /// A second home as Bob of the Thunderbird/NSS vectors (his key, their CA), and a
    /// maildir holding all 66 of their messages.
    func thunderbirdBob() throws -> (home: CLIHome, inbox: String) {
        let other = CLIHome(dir.appendingPathComponent("bobhome"))
        try other.run(["init"]).expect(0)
        try other.run(
            ["cert", "import", "bob", Paths.vector("thunderbird-nss-smime/Bob.p12").path, "--passphrase-env", "P"],
            environment: ["P": "nss"]
        ).expect(0)
        try other.run(["ca", "add", Paths.vector("thunderbird-nss-smime/TestCA.pem").path]).expect(0)
        let inbox = path("tb")
        try FileManager.default.createDirectory(atPath: inbox + "/new", withIntermediateDirectories: true)
        let vectors = Paths.vector("thunderbird-nss-smime").path
        let names = try FileManager.default.contentsOfDirectory(atPath: vectors).filter { $0.hasSuffix(".eml") }
        XCTAssertEqual(names.count, 66)
        for name in names {
            try FileManager.default.copyItem(atPath: vectors + "/" + name, toPath: inbox + "/new/" + name)
        }
        return (other, inbox)
    }

    /// The manifest's records by the file name of their input.
    func recordsByInput(_ out: String) throws -> [String: ManifestEntry] {
        Dictionary(
            try manifestEntries(out).map { (URL(fileURLWithPath: $0.input).lastPathComponent, $0) },
            uniquingKeysWith: { a, _ in a })
    }

    /// The text of a record's output file.
    func outputText(_ out: String, _ record: ManifestEntry, _ index: Int = 0) -> String {
        string(bytes(of: URL(fileURLWithPath: out + "/" + record.outputs[index].file)))
    }

    /// The organisation certificate for example.test (SAN domain) and the sending profiles the
    /// issue's example policy names: `sgn` (sign with it) and `enc` (encrypt).
    func makePolicyProfiles() throws {
        try smimegate(["cert", "create", "org", "--cn", "gw.example.test", "--san-domain", "example.test"]).expect(0)
        try smimegate(["profile", "create", "sgn", "--mode", "sign", "--cert", "org"]).expect(0)
        try smimegate(["profile", "create", "enc", "--mode", "encrypt"]).expect(0)
    }

    /// The records of `out`'s manifest, in order.
    func manifestEntries(_ out: String) throws -> [ManifestEntry] {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n").map {
            try decoder.decode(ManifestEntry.self, from: Data($0.utf8))
        }
    }

    /// Every file under `out`'s outcome maildirs (new/ and tmp/), relative to `out`.
    func delivered(_ out: String) throws -> Set<String> {
        Set(
            try FileManager.default.subpathsOfDirectory(atPath: out).filter {
                $0.contains("/new/") || $0.contains("/tmp/")
            })
    }
}

extension ProcessResult {
    /// Asserts the exit status, showing stderr when it differs.
    @discardableResult
    func expect(_ status: Int32, file: StaticString = #filePath, line: UInt = #line) -> ProcessResult {
        XCTAssertEqual(self.status, status, "stderr: \(stderr)", file: file, line: line)
        return self
    }
}

/// The text after the blank line, with CRLF made LF, for comparing contents.
func bodyText(_ bytes: [UInt8]) -> String {
    let text = string(bytes).replacingOccurrences(of: "\r\n", with: "\n")
    guard let range = text.range(of: "\n\n") else { return "" }
    return String(text[range.upperBound...])
}
