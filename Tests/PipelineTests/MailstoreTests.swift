import Foundation
import Mailstore
import TestSupport
import XCTest

#if canImport(Glibc)
    import Glibc
#endif

final class MailstoreTests: XCTestCase {
    func readAll(_ source: inout some MessageSource) throws -> [InputMessage] {
        try readEverything(&source).messages
    }

    func readEverything(_ source: inout some MessageSource) throws -> (
        messages: [InputMessage], problems: [InputProblem]
    ) {
        var all: (messages: [InputMessage], problems: [InputProblem]) = ([], [])
        while let item = try source.next() {
            switch item {
            case .message(let message): all.messages.append(message)
            case .problem(let problem): all.problems.append(problem)
            }
        }
        return all
    }

    func testMboxrdUnquotesOneLevelAndKeepsOffsets() throws {
        let text =
            "From alice@example.com Sun Nov 29 10:00:00 2026\nFrom: alice@example.com\nSubject: one\n\n>From here\n>>From there\n>Fromage\n\nFrom bob@example.com Sun Nov 29 10:00:01 2026\nFrom: bob@example.com\n\ntwo\n"
        let url = try temporaryDirectory().appendingPathComponent("box.mbox")
        try write(text, to: url)
        var rd = try MboxReader(url.path, format: .mboxrd)
        let messages = try readAll(&rd)
        XCTAssertEqual(messages.count, 2)
        XCTAssertEqual(
            string(messages[0].bytes), "From: alice@example.com\nSubject: one\n\nFrom here\n>From there\n>Fromage\n")
        XCTAssertEqual(string(messages[1].bytes), "From: bob@example.com\n\ntwo\n")
        XCTAssertEqual(
            messages.map(\.offset),
            [
                0,
                text.utf8.distance(
                    from: text.utf8.startIndex, to: text.range(of: "From bob")!.lowerBound.samePosition(in: text.utf8)!),
            ])
        XCTAssertEqual(messages[1].key, "\(url.path)@\(messages[1].offset!)")
        var o = try MboxReader(url.path, format: .mboxo)
        XCTAssertEqual(
            string(try readAll(&o)[0].bytes),
            "From: alice@example.com\nSubject: one\n\nFrom here\n>>From there\n>Fromage\n")
    }

    func testMboxcl2UsesContentLength() throws {
        let body = "From inside the body\nand more\n"
        let text =
            "From a@example.com Sun Nov 29 10:00:00 2026\nFrom: a@example.com\nContent-Length: \(body.utf8.count)\n\n\(body)\nFrom b@example.com Sun Nov 29 10:00:00 2026\nFrom: b@example.com\nContent-Length: 3\n\nxyz\n"
        let url = try temporaryDirectory().appendingPathComponent("cl2.mbox")
        try write(text, to: url)
        var reader = try MboxReader(url.path, format: .mboxcl2)
        let messages = try readAll(&reader)
        XCTAssertEqual(
            messages.map { string($0.bytes) },
            [
                "From: a@example.com\nContent-Length: \(body.utf8.count)\n\n\(body)",
                "From: b@example.com\nContent-Length: 3\n\nxyz",
            ])
    }

    func testLargeMboxStreamsAcrossBufferBoundaries() throws {
        let url = try temporaryDirectory().appendingPathComponent("big.mbox")
        var text = ""
        for i in 0..<300 {
            text +=
                "From x Sun Nov 29 10:00:00 2026\nFrom: a@example.com\nSubject: \(i)\n\n"
                + String(repeating: "line \(i)\n", count: 100)
                + "\n"
        }
        try write(text, to: url)
        var reader = try MboxReader(url.path)
        let messages = try readAll(&reader)
        XCTAssertEqual(messages.count, 300)
        XCTAssertTrue(string(messages[299].bytes).hasPrefix("From: a@example.com\nSubject: 299\n"))
        XCTAssertEqual(
            messages[150].bytes.count,
            "From: a@example.com\nSubject: 150\n\n".utf8.count + 100 * "line 150\n".utf8.count)
    }

    func testMaildirReadsNewAndCurButNotTmpOrDotfiles() throws {
        let root = try temporaryDirectory().appendingPathComponent("md")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try write("From: a@example.com\n\nnew\n", to: root.appendingPathComponent("new/1"))
        try write("From: a@example.com\n\ncur\n", to: root.appendingPathComponent("cur/2:2,S"))
        try write("partial", to: root.appendingPathComponent("tmp/3"))
        try write("hidden", to: root.appendingPathComponent("new/.hidden"))
        var reader = try MaildirReader(root.path)
        let messages = try readAll(&reader)
        XCTAssertEqual(
            Set(messages.map { string($0.bytes) }), ["From: a@example.com\n\nnew\n", "From: a@example.com\n\ncur\n"])
        XCTAssertThrowsError(try MaildirReader(root.appendingPathComponent("new").path))
    }

    func testMaildirWriterDeliversAtomicallyAndReplacesSameName() throws {
        let root = try temporaryDirectory().appendingPathComponent("out")
        let writer = try MaildirWriter(root.path)
        try writer.deliver(Array("one".utf8), name: "a.signed.0")
        try writer.deliver(Array("two".utf8), name: "a.signed.0")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path + "/new"), ["a.signed.0"])
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path + "/tmp"), [])
        XCTAssertEqual(string(bytes(of: root.appendingPathComponent("new/a.signed.0"))), "two")
    }

    func testMaildirReportsWhatIsNotARegularFileAndReadsNoneOfIt() throws {
        let root = try temporaryDirectory().appendingPathComponent("md")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(
                at: root.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try write("From: a@example.com\n\nnew\n", to: root.appendingPathComponent("new/1"))
        XCTAssertEqual(mkfifo(root.path + "/new/fifo", 0o600), 0)
        XCTAssertEqual(symlink("/etc/hostname", root.path + "/new/link"), 0)
        try FileManager.default.createDirectory(
            at: root.appendingPathComponent("cur/sub"), withIntermediateDirectories: true)
        var reader = try MaildirReader(root.path)
        let (messages, problems) = try readEverything(&reader)
        XCTAssertEqual(messages.map { string($0.bytes) }, ["From: a@example.com\n\nnew\n"])
        XCTAssertEqual(messages.first?.file, MaildirFile(root: root.path, folder: "new", name: Array("1".utf8)))
        XCTAssertEqual(
            Set(problems),
            [
                InputProblem(path: root.path + "/new/fifo", kind: .fifo),
                InputProblem(path: root.path + "/new/link", kind: .symbolicLink),
                InputProblem(path: root.path + "/cur/sub", kind: .directory),
            ])
    }

    func testMaildirWriterCreatesFoldersWithMode0700WhateverTheUmask() throws {
        let root = try temporaryDirectory().appendingPathComponent("a/b")
        let old = umask(0)
        defer { umask(old) }
        let writer = try MaildirWriter(root.path)
        try writer.deliver(Array("x".utf8), name: "n")
        for path in [root.deletingLastPathComponent().path, root.path, root.path + "/new"] {
            XCTAssertEqual(
                try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int, 0o700, path)
        }
        XCTAssertEqual(
            try FileManager.default.attributesOfItem(atPath: root.path + "/new/n")[.posixPermissions] as? Int, 0o600)
    }

    func testInputKeysNameAMaildirMessageByItsUniqueNameAndAnMboxMessageByOffset() {
        XCTAssertEqual(InputKey.of(source: "/s/new/1700.M1P2.host", offset: nil), "/s/1700.M1P2.host")
        XCTAssertEqual(InputKey.of(source: "/s/cur/1700.M1P2.host:2,RS", offset: nil), "/s/1700.M1P2.host")
        XCTAssertEqual(InputKey.of(source: "/box.mbox", offset: 42), "/box.mbox@42")
        XCTAssertEqual(InputKey.of(source: "/x/tmp/name:2,S", offset: nil), "/x/tmp/name:2,S")
        XCTAssertEqual(InputKey.of(source: "-", offset: nil), "-")
        XCTAssertEqual(InputKey.of(source: "new/a", offset: nil), "new/a")
    }

    /// The From_ line's date comes from the message (never the clock): its Date field, folded or in the
    /// obsolete forms (two-digit year, zone name read as UTC), before 1970 too; else the first Received.
    func testMboxOutputDatesComeFromTheMessage() {
        func date(_ header: String) -> String? {
            MboxWriter.date(of: Array((header + "\n\nbody\n").utf8)).map { ISO8601DateFormatter().string(from: $0) }
        }
        XCTAssertEqual(date("Subject: x\nDate: Wed, 01 Jun 2016 11:58:00 +0900"), "2016-06-01T02:58:00Z")
        XCTAssertEqual(date("Date: Wed, 01 Jun 2016\n 11:58:00 -0000 (UTC)"), "2016-06-01T11:58:00Z")
        XCTAssertEqual(date("Date: 1 Jan 1901 00:00:00 +0000"), "1901-01-01T00:00:00Z")
        XCTAssertEqual(date("Date: Mon, 3 Feb 97 10:11:12 EST"), "1997-02-03T10:11:12Z")
        XCTAssertEqual(
            date("Received: from a by b;\n\tSun, 29 Nov 2026 10:00:00 +0000\nSubject: none"), "2026-11-29T10:00:00Z")
        XCTAssertNil(date("Date: yesterday\nSubject: no date"))
        XCTAssertNil(MboxWriter.date(of: Array("Subject: x\n\nDate: Wed, 01 Jun 2016 11:58:00 +0000\n".utf8)))
    }
}
