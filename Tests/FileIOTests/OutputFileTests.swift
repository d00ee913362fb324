import FileIO
import Foundation
import TestSupport
import XCTest

/// `OutputFile`: regular files are replaced atomically with an exact mode;
/// devices and FIFOs are written in place and never replaced.
final class OutputFileTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws { dir = try temporaryDirectory("smimegate-output") }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func status(_ path: String) throws -> stat {
        var info = stat()
        guard lstat(path, &info) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        return info
    }

    /// Runs `body` with the process umask set to `mask`, then restores it.
    func withUmask<T>(_ mask: mode_t, _ body: () throws -> T) rethrows -> T {
        let previous = umask(mask)
        defer { umask(previous) }
        return try body()
    }

    func testNewFileGetsTheModeItsContentCallsForWhateverTheUmask() throws {
        try withUmask(0) {
            try OutputFile.write(Array("secret".utf8), to: path("secret.eml"), content: .secret)
            try OutputFile.write(Array("cert".utf8), to: path("cert.pem"), content: .publicData)
        }
        try withUmask(0o077) { try OutputFile.write(Array("cert".utf8), to: path("cert2.pem"), content: .publicData) }
        XCTAssertEqual(try status(path("secret.eml")).st_mode & 0o7777, 0o600)
        XCTAssertEqual(try status(path("cert.pem")).st_mode & 0o7777, 0o644)
        XCTAssertEqual(try status(path("cert2.pem")).st_mode & 0o7777, 0o644)
        XCTAssertEqual(string(bytes(of: dir.appendingPathComponent("secret.eml"))), "secret")
    }

    func testRegularFileIsReplacedByRenameAndLeavesNoTemporaryFile() throws {
        try write("old contents, longer than the new ones\n", to: dir.appendingPathComponent("out.eml"))
        chmod(path("out.eml"), 0o666)
        let before = try status(path("out.eml")).st_ino
        try OutputFile.write(Array("new\n".utf8), to: path("out.eml"), content: .secret)
        let after = try status(path("out.eml"))
        XCTAssertNotEqual(after.st_ino, before, "a new inode: the file was renamed into place, not rewritten")
        XCTAssertEqual(after.st_mode & 0o7777, 0o600, "plaintext never keeps a wider mode")
        XCTAssertEqual(string(bytes(of: dir.appendingPathComponent("out.eml"))), "new\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.eml"])
    }

    func testSymbolicLinkKeepsPointingAtTheReplacedFile() throws {
        try write("old", to: dir.appendingPathComponent("target.pem"))
        try FileManager.default.createSymbolicLink(atPath: path("link.pem"), withDestinationPath: "target.pem")
        try OutputFile.write(Array("new".utf8), to: path("link.pem"), content: .publicData)
        XCTAssertEqual(try status(path("link.pem")).st_mode & S_IFMT, S_IFLNK)
        XCTAssertEqual(string(bytes(of: dir.appendingPathComponent("target.pem"))), "new")
    }

    func testDevNullIsWrittenInPlaceAndStaysACharacterDevice() throws {
        XCTAssertEqual(try status("/dev/null").st_mode & S_IFMT, S_IFCHR, "precondition: /dev/null is a device")
        try OutputFile.write(Array(repeating: 0x41, count: 100_000), to: "/dev/null", content: .secret)
        let after = try status("/dev/null")
        XCTAssertEqual(after.st_mode & S_IFMT, S_IFCHR)
        XCTAssertEqual(after.st_mode & 0o777, 0o666, "its mode is not touched either")
        XCTAssertFalse(
            try FileManager.default.contentsOfDirectory(atPath: "/dev").contains { $0.hasPrefix(".null.smimegate-") },
            "no temporary file beside it")
    }

    func testFIFOIsWrittenInPlaceForAReader() throws {
        let fifo = path("pipe")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let payload = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 * 7) }  // more than a pipe buffer holds
        let writer = DispatchGroup()
        DispatchQueue.global().async(group: writer) {
            try? OutputFile.write(payload, to: fifo, content: .secret)
        }
        let reader = try XCTUnwrap(FileHandle(forReadingAtPath: fifo))  // blocks until the writer opens it
        let received = reader.readDataToEndOfFile()  // drains until the writer closes it
        try reader.close()
        XCTAssertEqual(writer.wait(timeout: .now() + 10), .success)
        XCTAssertEqual(Array(received), payload)
        XCTAssertEqual(try status(fifo).st_mode & S_IFMT, S_IFIFO)
    }

    func testDirectoryAndMissingDirectoryAreErrorsThatNameThePath() throws {
        XCTAssertThrowsError(try OutputFile.write([1], to: dir.path, content: .secret)) {
            let error = $0 as? WriteError
            XCTAssertEqual(error?.path, dir.path)
            XCTAssertEqual(error?.code, EISDIR)
        }
        XCTAssertThrowsError(try OutputFile.write([1], to: path("no/such/dir/out.eml"), content: .secret)) {
            XCTAssertEqual(($0 as? WriteError)?.code, ENOENT)
        }
    }
}
