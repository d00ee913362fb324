import Foundation
import TestSupport
import XCTest

/// SPEC F20: public keys exported to and imported from tar bundles (libarchive).
final class BundleTests: CLITestCase {
    func fresh(_ name: String) throws -> CLIHome {
        let other = CLIHome(dir.appendingPathComponent(name))
        try other.run(["init"]).expect(0)
        return other
    }

    func testExportImportRoundTripIntoAFreshHomeIsIdempotent() throws {
        for file in ["keys.tar", "keys.tar.gz"] {
            let exported = try smimegate(["keys", "export", path(file)]).expect(0)
            XCTAssertTrue(exported.out.contains("exported 6 public key(s)"), exported.out)
            // A real tar: the system's tar lists it.
            let listing = try runProcess("tar", ["tf", path(file)]).expect(0).out
            XCTAssertTrue(
                listing.contains("index.json") && listing.contains("keys/bob.pem") && listing.contains("keys/carol-ec.pem"), listing)
            let other = try fresh("fresh-\(file)")
            XCTAssertTrue(
                try other.run(["keys", "import", path(file)]).expect(0).out.contains("imported 6 public key(s), 0 already present"))
            XCTAssertEqual(try other.run(["keys", "list"]).expect(0).out, try smimegate(["keys", "list"]).expect(0).out)
            XCTAssertTrue(
                try other.run(["keys", "import", path(file)]).expect(0).out.contains("imported 0 public key(s), 6 already present"))
            // The imported keys work: encrypt in the new home, decrypt with openssl.
            try other.run(["encrypt", "--to", "bob@partner.example", try save(Self.plainLF, "p.eml"), "-o", path("e.eml")]).expect(0)
            try openssl([
                "cms", "-decrypt", "-recip", fixture("bob.pem"), "-inkey", fixture("bob.key"), "-in", path("e.eml"), "-out", "/dev/null",
            ]).expect(0)
        }
        let index = try runProcess("tar", ["xOf", path("keys.tar"), "index.json"]).expect(0).stdout
        let json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(index)) as? [String: Any])
        XCTAssertEqual(json["format"] as? String, "smimegate-public-keys/1")
        let bob = try XCTUnwrap((json["keys"] as? [[String: Any]])?.first { $0["name"] as? String == "bob" })
        XCTAssertEqual(bob["emails"] as? [String], ["bob@partner.example"])
        XCTAssertEqual(bob["file"] as? String, "keys/bob.pem")
        XCTAssertEqual((bob["sha256"] as? String)?.count, 64)
    }

    func testImportIsAllOrNothing() throws {
        try smimegate(["keys", "export", path("keys.tar")]).expect(0)
        let other = try fresh("conflict")
        try other.run(["keys", "add", "bob", fixture("dan.pem")]).expect(0)  // same name, other certificate
        let result = try other.run(["keys", "import", path("keys.tar")]).expect(2)
        XCTAssertTrue(result.stderr.contains("a different public key named \"bob\" already exists; nothing imported"), result.stderr)
        XCTAssertEqual(try other.run(["keys", "list"]).expect(0).out.split(separator: "\n").count, 1)
    }

    func testTamperedBundleIsRefused() throws {
        // index.json says bob, the PEM is dan's.
        try smimegate(["keys", "export", path("keys.tar")]).expect(0)
        let index = try runProcess("tar", ["xOf", path("keys.tar"), "index.json"]).expect(0).stdout
        let indexFile = try save(index, "index.json")
        let wrong = path("wrong.tar")
        var arguments = [Paths.packageRoot.appendingPathComponent("Tests/peers/make_tar.py").path, wrong, "file", "index.json", indexFile]
        for name in ["bob", "carol-ec", "dan", "expired", "signonly", "wildcard"] {
            arguments += ["+", "file", "keys/\(name).pem", fixture(name == "bob" ? "dan.pem" : "\(name).pem")]
        }
        try runProcess(Paths.python, arguments).expect(0)
        let other = try fresh("tampered")
        XCTAssertTrue(
            try other.run(["keys", "import", wrong]).expect(2).stderr.contains("keys/bob.pem does not match its SHA-256 in the index"))
        XCTAssertEqual(try other.run(["keys", "list"]).expect(0).out, "")
    }

    func testHostileArchivesAreRefusedAndWriteNothingOutside() throws {
        let cases: [([String], String)] = [
            (["file", "../evil.pem", fixture("bob.pem")], "unsafe entry path \"../evil.pem\""),
            (["file", "keys/../../evil.pem", fixture("bob.pem")], "unsafe entry path"),
            (["file", "/tmp/smimegate-evil.pem", fixture("bob.pem")], "unsafe entry path \"/tmp/smimegate-evil.pem\""),
            (["symlink", "keys/link.pem", "/etc/passwd"], "is a link"),
            (["hardlink", "keys/hard.pem", "keys/target.pem"], "is a link"),
            (["device", "keys/null"], "is not a regular file"),
            (["big", "keys/huge.pem", String(2 << 20)], "larger than 1048576 bytes"),
            (["many", "10001"], "more than 10000 entries"),
        ]
        let other = try fresh("hostile")
        for (index, (kind, reason)) in cases.enumerated() {
            let archive = dir.appendingPathComponent("sub/hostile-\(index).tar").path
            try FileManager.default.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
            try runProcess(Paths.python, [Paths.packageRoot.appendingPathComponent("Tests/peers/make_tar.py").path, archive] + kind).expect(
                0)
            let result = try other.run(["keys", "import", archive]).expect(2)
            XCTAssertTrue(result.stderr.contains(reason), "\(kind): \(result.stderr)")
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("evil.pem")))
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/smimegate-evil.pem"))
        XCTAssertEqual(try other.run(["keys", "list"]).expect(0).out, "")
        // Nothing written in the home but its keystore (in the PostgreSQL pass, nothing at all).
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: other.url.path),
            try other.keystore().isEmpty ? ["keystore.sqlite"] : [])
        // Not a tar at all.
        XCTAssertTrue(try other.run(["keys", "import", fixture("bob.pem")]).expect(2).stderr.contains("not a"))
    }
}
