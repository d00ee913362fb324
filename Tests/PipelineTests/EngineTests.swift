import Foundation
import Locking
import Mailstore
import TestSupport
import XCTest

@testable import Pipeline

#if canImport(Glibc)
    import Glibc
#endif

/// The worker pool, the resume index and the run lock, in-process (STYLE.md:
/// the router and the queue tested in-process, not only through the binary).
final class EngineTests: XCTestCase {
    // MARK: WorkerPool

    func testPoolRunsEveryItemExactlyOnceWithBoundedItemsInFlight() {
        let pool = WorkerPool<Int>(workers: 4, capacity: 3)
        let seen = Locked<[Int]>([])
        let alive = Locked((now: 0, peak: 0))
        let stop = pool.run(
            produce: { submit in
                for i in 0..<2000 {
                    alive.withLock {
                        $0.now += 1; $0.peak = max($0.peak, $0.now)
                    }
                    XCTAssertTrue(submit(i))
                }
            },
            work: { item in
                seen.withLock { $0.append(item) }
                alive.withLock { $0.now -= 1 }
            })
        XCTAssertNil(stop)
        XCTAssertEqual(seen.withLock { $0.sorted() }, Array(0..<2000))
        // capacity waiting + one per worker + the one being submitted.
        XCTAssertLessThanOrEqual(alive.withLock { $0.peak }, 3 + 4 + 1)
    }

    func testAFailingItemCancelsThePoolAndTheProducerStops() {
        let pool = WorkerPool<Int>(workers: 2, capacity: 4)
        let done = Locked(0)
        var submitted = 0
        let stop = pool.run(
            produce: { submit in
                for i in 0..<100_000 {
                    guard submit(i) else { return }
                    submitted += 1
                }
            },
            work: { item in
                if item == 50 { throw PipelineError("disk full") }
                done.withLock { $0 += 1 }
            })
        XCTAssertEqual(stop, .failure("disk full"))
        XCTAssertLessThan(submitted, 100_000, "submit returned false once cancelled")
        XCTAssertLessThan(done.withLock { $0 }, 1000, "queued items were dropped, not run")
    }

    func testCancelWakesABlockedProducerAndTheFirstReasonWins() {
        let pool = WorkerPool<Int>(workers: 1, capacity: 1)
        let started = DispatchSemaphore(value: 0)
        let stop = pool.run(
            produce: { submit in
                for i in 0..<10 where !submit(i) { return }
            },
            work: { item in
                if item == 0 {
                    started.signal()
                    pool.cancel(.signal(SIGTERM))
                    pool.cancel(.failure("later"))
                }
            })
        started.wait()
        XCTAssertEqual(stop, .signal(SIGTERM))
    }

    /// A popped item is released as soon as its work ends: the queue kept popped items until it
    /// compacted itself (after 64), so 8 MiB messages held ~100 MB for nothing (bench/memory.sh).
    func testAnItemIsReleasedOnceWorkedNotKeptByTheQueue() {
        final class Count: Sendable { let value = Locked(0) }
        final class Held: Sendable {
            let released: Count
            init(_ released: Count) { self.released = released }
            deinit { released.value.withLock { $0 += 1 } }
        }
        struct Item: Sendable { let index: Int; let held: Held }
        let released = Count()
        let pool = WorkerPool<Item>(workers: 1, capacity: 8)
        let releasedBefore = Locked<[Int]>([])
        pool.run(
            produce: { submit in for i in 0..<20 { _ = submit(Item(index: i, held: Held(released))) } },
            work: { item in releasedBefore.withLock { $0.append(released.value.withLock { $0 }) } })
        // When item i starts, items 0..<i are gone (one worker: they ran, in order, before it).
        XCTAssertEqual(releasedBefore.withLock { $0 }, Array(0..<20))
        XCTAssertEqual(released.value.withLock { $0 }, 20)
    }

    /// With a weight, items beyond one per worker wait in the producer once the bytes in flight
    /// would pass the bound: large messages do not pile up in the queue.
    func testTheByteBoundHoldsItemsInTheProducer() {
        // The most items submitted and not yet finished that a work item sees as it starts.
        func peakInFlight(_ pool: WorkerPool<Int>) -> (finished: Int, peak: Int) {
            let flight = Locked((submitted: 0, finished: 0, peak: 0))
            pool.run(
                produce: { submit in
                    for i in 0..<30 {
                        guard submit(i) else { return }
                        flight.withLock { $0.submitted += 1 }
                    }
                },
                work: { _ in
                    flight.withLock { $0.peak = max($0.peak, $0.submitted - $0.finished) }
                    usleep(2000)
                    flight.withLock { $0.finished += 1 }
                })
            return flight.withLock { ($0.finished, $0.peak) }
        }
        let heavy = peakInFlight(WorkerPool<Int>(workers: 2, capacity: 8, weight: { _ in 10 }, bytes: 15))
        XCTAssertEqual(heavy.finished, 30)
        XCTAssertLessThanOrEqual(heavy.peak, 2, "at most one item a worker: 10 + 10 > 15")
        // Light items are bounded by the count alone: the queue fills as before.
        let light = peakInFlight(WorkerPool<Int>(workers: 1, capacity: 8, weight: { _ in 1 }, bytes: 15))
        XCTAssertEqual(light.finished, 30)
        XCTAssertGreaterThanOrEqual(light.peak, 5, "the queue filled")
    }

    // MARK: Resume index

    func record(_ input: String, offset: Int? = nil) -> ManifestRecord {
        ManifestRecord(
            input: input, offset: offset, messageId: nil, direction: "outgoing", outcome: "signed", profile: "p",
            outputs: [],
            reason: "a \"quoted\", reason: with \"input\":\"x\"", signer: nil, bytes: 1, elapsedMs: 1)
    }

    /// The manifest's string encoding, read back by a JSON decoder: every control character, quotes,
    /// backslashes, non-ASCII text, and runs of plain bytes between escapes.
    func testManifestStringsDecodeToThemselves() throws {
        let values = [
            "", "plain", "\"", "\\", "a\"b\\c\nd\re\tf", String((0..<32).map { Character(UnicodeScalar($0)) }),
            "café ✉︎ 📨", "/spool/new/ctl\u{1}byte:2,S", String(repeating: "x\u{7f}\"", count: 50),
        ]
        var out: [UInt8] = []
        JSON.strings(values, into: &out)
        XCTAssertEqual(try JSONDecoder().decode([String].self, from: Data(out)), values)
    }

    func testManifestKeysAreReadWithoutDecodingAndMatchTheDecoder() {
        for record in [
            record("/spool/new/1"), record("/box.mbox", offset: 1234), record("/spool/new/tab\there \"q\" \\ done"),
            record("/spool/new/ctl\u{1}byte"), record("/spool/new/caf\\xE9"),
        ] {
            XCTAssertEqual(ManifestLines.key(of: record.jsonLine.dropLast()[...]), record.key)
        }
    }

    func testResumeIndexCoversTheManifestAndItsTailAndIsRebuiltWhenStale() throws {
        let dir = try temporaryDirectory("resume-index").path
        let (writer, empty) = try ManifestWriter.open(directory: dir, resume: false)
        XCTAssertEqual(empty.count, 0)
        var keys: [String] = []
        for i in 0..<500 {
            let r = i % 2 == 0 ? record("/spool/m\(i)") : record("/box.mbox", offset: i * 100)
            try writer.append(r)
            keys.append(r.key)
        }
        try writer.sync()
        writer.writeIndex(empty, adding: RecordedKeys(directory: dir, keys.map(KeyHash.init)))
        // Records after the index was written (a run killed before it rewrote it).
        for i in 500..<520 {
            try writer.append(record("/spool/m\(i)"))
            keys.append("/spool/m\(i)")
        }
        let (_, loaded) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertEqual(loaded.count, 520)
        XCTAssertTrue(keys.allSatisfy(loaded.contains))
        XCTAssertFalse(loaded.contains("/spool/m999"))
        XCTAssertFalse(loaded.contains("/box.mbox@150"))
        XCTAssertFalse(loaded.contains("/box.mbox"), "an mbox key is path@offset")

        // A damaged index is not trusted: rebuilt from the manifest.
        try write("SMGRIX01 garbage", to: URL(fileURLWithPath: dir + "/manifest.index"))
        let (_, rebuilt) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertEqual(rebuilt.count, 520)
        XCTAssertTrue(keys.allSatisfy(rebuilt.contains))
    }

    /// A run's records are kept in sorted pieces spilled to an unlinked file (memory flat at a
    /// million messages); merged with the earlier index they give byte for byte the index of the
    /// same keys kept whole in memory, duplicates dropped, and no spill file stays behind.
    func testSpilledRecordsMergeIntoTheSameIndex() throws {
        var indexes: [[UInt8]] = []
        for chunk in [7, 1 << 20] {
            let dir = try temporaryDirectory("resume-spill").path
            let (writer, empty) = try ManifestWriter.open(directory: dir, resume: false)
            let first = (0..<300).map { "/spool/a\($0)" }
            for key in first { try writer.append(record(key)) }
            writer.writeIndex(empty, adding: RecordedKeys(directory: dir, first.map(KeyHash.init)))
            // A second run: resumed, it records 500 more, in no order, a few of them twice.
            let (again, earlier) = try ManifestWriter.open(directory: dir, resume: true)
            let second = (0..<500).map { "/spool/b\(($0 * 7919) % 500)" } + ["/spool/b3", "/spool/a5"]
            let recorded = RecordedKeys(directory: dir, chunk: chunk)
            for key in second {
                try again.append(record(key))
                recorded.append(KeyHash(key))
            }
            XCTAssertEqual(recorded.count, 502)
            again.writeIndex(earlier, adding: recorded)
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.contains("spill") }
            XCTAssertEqual(leftovers, [], "the spill file is unlinked as soon as it is made")
            let (_, loaded) = try ManifestWriter.open(directory: dir, resume: true)
            XCTAssertEqual(loaded.count, 800)
            XCTAssertTrue((first + second).allSatisfy(loaded.contains))
            XCTAssertFalse(loaded.contains("/spool/b500"))
            // The header names the manifest's inode, so compare the entries alone.
            indexes.append(
                Array(bytes(of: URL(fileURLWithPath: dir + "/manifest.index")).dropFirst(ResumeIndex.Header.size)))
        }
        XCTAssertEqual(indexes[0].count, 800 * 16)
        XCTAssertTrue(indexes[0] == indexes[1], "spilled or not, the same sorted entries")
    }

    /// A spill file damaged during the run (storage, or someone writing through /proc/PID/fd)
    /// means no new index — never an index that lacks keys (which would process them twice).
    func testADamagedSpillFileWritesNoIndex() throws {
        let dir = try temporaryDirectory("resume-spill").path
        let (writer, empty) = try ManifestWriter.open(directory: dir, resume: false)
        let keys = (0..<100).map { "/spool/m\($0)" }
        let recorded = RecordedKeys(directory: dir, chunk: 16)
        for key in keys {
            try writer.append(record(key))
            recorded.append(KeyHash(key))
        }
        XCTAssertGreaterThanOrEqual(recorded.spillDescriptor, 0)
        let zeros = [UInt8](repeating: 0, count: 16 * 16)
        XCTAssertEqual(pwrite(recorded.spillDescriptor, zeros, zeros.count, 0), zeros.count)
        writer.writeIndex(empty, adding: recorded)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/manifest.index"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/manifest.index.tmp"))
        let (_, loaded) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertEqual(loaded.count, 100, "rebuilt from the manifest")
        XCTAssertTrue(keys.allSatisfy(loaded.contains))
    }

    /// With mbox output, the turns after a failed append throw the failed one's own error, so the
    /// run's one line names the cause whichever worker reports first.
    func testLaterTurnsThrowTheFailedTurnsError() {
        let turns = Turns()
        let later = DispatchSemaphore(value: 0)
        let thrown = Locked<String?>(nil)
        DispatchQueue.global().async {
            do {
                try turns.take(1) {}
            } catch {
                thrown.withLock { $0 = "\(error)" }
            }
            later.signal()
        }
        usleep(20000)  // turn 1 is waiting
        XCTAssertThrowsError(try turns.take(0) { throw PipelineError("signed.mbox: No space left on device") })
        later.wait()
        XCTAssertEqual(thrown.withLock { $0 }, "signed.mbox: No space left on device")
    }

    func testALongManifestWithoutIndexIsRebuiltIntoOneSortedIndex() throws {
        let dir = try temporaryDirectory("resume-index").path
        let (writer, _) = try ManifestWriter.open(directory: dir, resume: false)
        for i in 0..<6000 { try writer.append(record("/spool/m\(i)")) }
        let (_, loaded) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertEqual(loaded.count, 6000)
        XCTAssertTrue((0..<6000).allSatisfy { loaded.contains("/spool/m\($0)") })
        XCTAssertFalse(loaded.contains("/spool/m6000"))
    }

    func testAnIndexForAnotherManifestIsNotTrusted() throws {
        let dir = try temporaryDirectory("resume-index").path
        let (writer, index) = try ManifestWriter.open(directory: dir, resume: false)
        try writer.append(record("/a"))
        writer.writeIndex(index, adding: RecordedKeys(directory: dir, [KeyHash("/a")]))
        // Replace the manifest by one of the same length naming another input.
        try write(string(record("/b").jsonLine), to: URL(fileURLWithPath: dir + "/manifest.jsonl"))
        let (_, loaded) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertTrue(loaded.contains("/b"))
        XCTAssertFalse(loaded.contains("/a"))
    }

    /// Any damage to the index — a flipped entry, absurd header fields, a FIFO in its place —
    /// means a rebuild, never a skipped or repeated input and never a crash.
    func testADamagedIndexIsRebuiltNeverTrusted() throws {
        let dir = try temporaryDirectory("resume-index").path
        let (writer, index) = try ManifestWriter.open(directory: dir, resume: false)
        let keys = (0..<50).map { "/spool/m\($0)" }
        for key in keys { try writer.append(record(key)) }
        writer.writeIndex(index, adding: RecordedKeys(directory: dir, keys.map(KeyHash.init)))
        let indexPath = dir + "/manifest.index"
        let good = bytes(of: URL(fileURLWithPath: indexPath))
        XCTAssertEqual(good.count, ResumeIndex.Header.size + 50 * 16)
        var damaged: [[UInt8]] = []
        for offset in [ResumeIndex.Header.size + 5, ResumeIndex.Header.size + 16 * 30 + 9] {  // an entry
            var copy = good
            copy[offset] ^= 0xAA
            damaged.append(copy)
        }
        for field in 0..<6 {  // covered, count, ... set to values no file has
            var copy = good
            for i in 0..<8 { copy[8 + field * 8 + i] = i == 7 ? 0x7F : 0xFF }
            damaged.append(copy)
        }
        for copy in damaged {
            try write(copy, to: URL(fileURLWithPath: indexPath))
            let (_, loaded) = try ManifestWriter.open(directory: dir, resume: true)
            XCTAssertEqual(loaded.count, 50)
            XCTAssertTrue(keys.allSatisfy(loaded.contains))
        }
        try FileManager.default.removeItem(atPath: indexPath)
        XCTAssertEqual(mkfifo(indexPath, 0o600), 0)
        let (_, fromFIFO) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertEqual(fromFIFO.count, 50, "a FIFO is not read (it would block): rebuilt from the manifest")
    }

    func testAManifestThatIsNotARegularFileIsRefused() throws {
        let dir = try temporaryDirectory("resume-index").path
        XCTAssertEqual(mkfifo(dir + "/manifest.jsonl", 0o600), 0)
        XCTAssertThrowsError(try ManifestWriter.open(directory: dir, resume: true)) {
            XCTAssertEqual(($0 as? PipelineError)?.reason, dir + "/manifest.jsonl: not a regular file")
        }
        try FileManager.default.removeItem(atPath: dir + "/manifest.jsonl")
        XCTAssertEqual(symlink("/etc/passwd", dir + "/manifest.jsonl"), 0)
        XCTAssertThrowsError(try ManifestWriter.open(directory: dir, resume: true))
    }

    func testAPartialLastLineIsCutOffOnResume() throws {
        let dir = try temporaryDirectory("resume-index").path
        let whole = string(record("/a").jsonLine)
        try write(whole + "{\"bytes\":1,\"dire", to: URL(fileURLWithPath: dir + "/manifest.jsonl"))
        let (writer, loaded) = try ManifestWriter.open(directory: dir, resume: true)
        XCTAssertEqual(writer.size, whole.utf8.count)
        XCTAssertEqual(loaded.count, 1)
    }

    // MARK: Run lock

    /// After an unclean end, earlier outputs of an input being processed again are removed by their
    /// hash prefix, wherever they went; files with other names (a spool kept under DIR) never are.
    func testStaleOutputsAreRemovedByHashPrefixOnly() throws {
        let dir = try temporaryDirectory("smimegate-stale").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let prefix = "0123456789abcdef01234567"
        let files = [
            "signed/new/\(prefix).signed.0", "quarantined/Q/new/\(prefix).quarantined.0",
            "spool/new/\(prefix)", "spool/new/1700000000.M1P2.host", "encrypted/new/\(prefix).encrypted.0",
        ]
        for file in files {
            let path = dir + "/" + file
            try FileManager.default.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            try write("x", to: URL(fileURLWithPath: path))
        }
        StaleOutputs.scan(dir).remove(prefix: prefix, keeping: [dir + "/encrypted/new/\(prefix).encrypted.0"])
        let left = files.filter { FileManager.default.fileExists(atPath: dir + "/" + $0) }
        XCTAssertEqual(
            left, ["spool/new/\(prefix)", "spool/new/1700000000.M1P2.host", "encrypted/new/\(prefix).encrypted.0"])
    }

    func testTheRunLockIsExclusiveAndNamesItsHolder() throws {
        let dir = try temporaryDirectory("lock").path
        let held = Locked<RunLock?>(try RunLock.acquire(directory: dir))
        XCTAssertThrowsError(try RunLock.acquire(directory: dir)) { error in
            XCTAssertEqual((error as? PipelineError)?.kind, .tryAgain)
            XCTAssertTrue("\(error)".contains("PID \(getpid())"), "\(error)")
        }
        // Released when its owner goes: a waiting run then gets it.
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.3) { held.withLock { $0 = nil } }
        XCTAssertNoThrow(try RunLock.acquire(directory: dir, wait: 10))
    }
}
