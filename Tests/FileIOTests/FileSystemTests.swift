import FileIO
import Foundation
import TestSupport
import XCTest

/// `FileSystem`'s path handling: one-character names (`--out o`, `-o x/y`) once crashed
/// inside Foundation's NSString path methods on Linux.
final class FileSystemTests: XCTestCase {
    func testPathsSplitIntoDirectoryAndName() {
        XCTAssertEqual(FileSystem.split("o").directory, "")
        XCTAssertEqual(FileSystem.split("o").name, "o")
        XCTAssertEqual(FileSystem.split("x/y").directory, "x")
        XCTAssertEqual(FileSystem.split("x/y/").name, "y")
        XCTAssertEqual(FileSystem.split("/b").directory, "/")
        XCTAssertEqual(FileSystem.split("/a//b").directory, "/a")
        XCTAssertEqual(FileSystem.split("/").directory, "/")
    }

    func testOneCharacterDirectoriesAreCreatedRelativeAndAbsolute() throws {
        let dir = try temporaryDirectory("smimegate-fs")
        defer { try? FileManager.default.removeItem(at: dir) }
        let previous = FileManager.default.currentDirectoryPath
        XCTAssertTrue(FileManager.default.changeCurrentDirectoryPath(dir.path))
        defer { _ = FileManager.default.changeCurrentDirectoryPath(previous) }
        try FileSystem.makeDirectories("o")
        try FileSystem.makeDirectories("x/y")
        try FileSystem.makeDirectories(dir.path + "/p/q")
        for name in ["o", "x", "x/y", "p/q"] {
            var info = stat()
            XCTAssertEqual(stat(dir.path + "/" + name, &info), 0, name)
            XCTAssertEqual(info.st_mode & 0o777, 0o700, name)
        }
        try OutputFile.write(Array("z".utf8), to: "x/z", content: .secret)
        XCTAssertEqual(try String(contentsOfFile: dir.path + "/x/z", encoding: .utf8), "z")
    }
}
