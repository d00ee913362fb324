import Foundation
import TestSupport
import XCTest

/// `-o FILE` and the export commands: a regular file is replaced atomically with
/// a fixed mode (0600 for message content, 0644 for certificates), whatever the
/// umask; /dev/null and FIFOs are written in place and stay what they are.
final class OutputFileCommandTests: CLITestCase {
    func fileStatus(_ path: String) throws -> stat {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return info
    }

    /// Runs smimegate with umask 000 (set by a shell that then execs it).
    @discardableResult
    func smimegateUnderUmask000(_ arguments: [String]) throws -> ProcessResult {
        try runProcess(
            "/bin/sh", ["-c", "umask 000; exec \"$0\" \"$@\"", Paths.binary.path, "--home", home] + arguments)
    }

    func testOutputToDevNullLeavesItACharacterDevice() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["sign", "--cert", "alice", input, "-o", "/dev/null"]).expect(0)
        try smimegate(["encrypt", "--key", "bob", input, "-o", "/dev/null"]).expect(0)
        try smimegate(["cert", "export", "alice", "-o", "/dev/null"]).expect(0)
        try smimegate(["cert", "csr", "gateway", "-o", "/dev/null"]).expect(0)
        try smimegate(["keys", "export", "/dev/null"]).expect(0)
        let info = try fileStatus("/dev/null")
        XCTAssertEqual(info.st_mode & S_IFMT, S_IFCHR, "/dev/null is still a character device")
        XCTAssertEqual(info.st_mode & 0o777, 0o666)
        XCTAssertEqual(try runProcess("/bin/sh", ["-c", "echo x > /dev/null && cat /dev/null"]).expect(0).out, "")
    }

    func testOutputIntoAFIFOReachesItsReaderAndStaysAFIFO() throws {
        let fifo = path("out.fifo")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let input = try save(Self.plainLF, "plain.eml")
        let process = Process()
        process.executableURL = Paths.binary
        process.arguments = ["--home", home, "sign", "--cert", "alice", input, "-o", fifo]
        process.standardError = FileHandle.nullDevice
        try process.run()
        let reader = try XCTUnwrap(FileHandle(forReadingAtPath: fifo))  // meets the writer's open
        let received = reader.readDataToEndOfFile()
        try reader.close()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0)
        XCTAssertTrue(string(Array(received)).contains("Content-Type: multipart/signed"), string(Array(received)))
        XCTAssertEqual(try fileStatus(fifo).st_mode & S_IFMT, S_IFIFO)
        // What came through the FIFO is the whole signed message: openssl verifies it.
        let signed = try save(Array(received), "from-fifo.eml")
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", signed, "-out", "/dev/null"]).expect(0)
    }

    func testDecryptedOutputIs0600EvenUnderUmask000() throws {
        let input = try save(Self.plainLF, "plain.eml")
        try smimegate(["encrypt", "--key", "bob", input, "-o", path("enc.eml")]).expect(0)
        try smimegateUnderUmask000(["decrypt", "--cert", "bob", path("enc.eml"), "-o", path("out.eml")]).expect(0)
        XCTAssertEqual(try fileStatus(path("out.eml")).st_mode & 0o7777, 0o600)
        XCTAssertEqual(bodyText(read("out.eml")), bodyText(Array(Self.plainLF.utf8)))
        try smimegateUnderUmask000(["sign", "--cert", "alice", input, "-o", path("signed.eml")]).expect(0)
        XCTAssertEqual(try fileStatus(path("signed.eml")).st_mode & 0o7777, 0o600)
        try smimegateUnderUmask000(["cert", "export", "alice", "-o", path("alice.pem")]).expect(0)
        XCTAssertEqual(try fileStatus(path("alice.pem")).st_mode & 0o7777, 0o644, "a certificate is public")
        try smimegateUnderUmask000(["keys", "export", path("keys.tar.gz")]).expect(0)
        XCTAssertEqual(try fileStatus(path("keys.tar.gz")).st_mode & 0o7777, 0o644)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix(".") }, [])
    }

    func testAnExistingOutputFileIsReplacedNotRewritten() throws {
        let input = try save(Self.plainLF, "plain.eml")
        let target = try save(String(repeating: "old contents\n", count: 1000), "out.eml")
        chmod(target, 0o644)
        let before = try fileStatus(target).st_ino
        try smimegate(["sign", "--cert", "alice", input, "-o", target]).expect(0)
        let after = try fileStatus(target)
        XCTAssertNotEqual(after.st_ino, before, "a new inode: renamed into place")
        XCTAssertEqual(after.st_mode & 0o7777, 0o600)
        XCTAssertFalse(string(read("out.eml")).contains("old contents"))
        try openssl(["cms", "-verify", "-CAfile", fixture("ca.pem"), "-in", target, "-out", "/dev/null"]).expect(0)
        // A directory is refused with one line naming it.
        let refused = try smimegate(["sign", "--cert", "alice", input, "-o", dir.path]).expect(2)
        XCTAssertTrue(refused.stderr.hasPrefix("smimegate: \(dir.path): cannot "), refused.stderr)
    }
}
