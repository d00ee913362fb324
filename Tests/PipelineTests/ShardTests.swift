import Foundation
import XCTest

@testable import Pipeline

/// `--shard K/N` (issue 16): a deterministic split by each input's identity, and `--shard auto` from the
/// batch system's environment.
final class ShardTests: XCTestCase {
    func testParsing() throws {
        XCTAssertEqual(try Shard(parsing: "3/4"), try Shard(index: 3, count: 4))
        for bad in ["4/4", "-1/4", "0/0", "1", "a/b", "1/2/3", "", "0/1000001"] {
            XCTAssertThrowsError(try Shard(parsing: bad), bad)
        }
    }

    func testEveryInputIsInExactlyOneShardAndTheSplitIsEven() throws {
        let shards = try (0..<4).map { try Shard(index: $0, count: 4) }
        var sizes = [0, 0, 0, 0]
        for i in 0..<10_000 {
            let (source, offset): (String, Int?) =
                i % 2 == 0 ? ("/spool/new/1764410000.M\(i)P42.host", nil) : ("/archive/2019.mbox", i * 977)
            let owners = shards.filter { $0.contains(source: source, offset: offset) }
            XCTAssertEqual(owners.count, 1)
            sizes[owners[0].index] += 1
        }
        for size in sizes { XCTAssertEqual(Double(size), 2500, accuracy: 250, "\(sizes)") }
    }

    /// A maildir message keeps its shard when a client moves it to cur/ with flags, and on a machine that
    /// mounts the maildir elsewhere; an mbox message is its path and offset.
    func testIdentity() throws {
        XCTAssertEqual(Shard.identity(source: "/spool/new/123.M1P2.host", offset: nil), "123.M1P2.host")
        XCTAssertEqual(Shard.identity(source: "/mnt/x/spool/cur/123.M1P2.host:2,S", offset: nil), "123.M1P2.host")
        XCTAssertEqual(Shard.identity(source: "/a/b.mbox", offset: 4096), "/a/b.mbox@4096")
        XCTAssertEqual(Shard.identity(source: "/a/b.mbox@4096", offset: nil), "/a/b.mbox@4096")  // its problem entry
        let shard = try Shard(index: 1, count: 7)
        for i in 0..<200 {
            XCTAssertEqual(
                shard.contains(source: "/spool/new/\(i).M1P2.host", offset: nil),
                shard.contains(source: "/elsewhere/spool/cur/\(i).M1P2.host:2,RS", offset: nil))
        }
    }

    func testAutoFromSlurm() throws {
        let slurm = [
            "SLURM_ARRAY_TASK_ID": "6", "SLURM_ARRAY_TASK_MIN": "4", "SLURM_ARRAY_TASK_MAX": "7",
            "SLURM_ARRAY_TASK_COUNT": "4",
        ]
        XCTAssertEqual(try Shard.fromEnvironment(slurm, shards: nil), try Shard(index: 2, count: 4))
        XCTAssertEqual(try Shard.fromEnvironment(slurm, shards: 4), try Shard(index: 2, count: 4))
        XCTAssertThrowsError(try Shard.fromEnvironment(slurm, shards: 5))
        // --array=0-9:3 → tasks 0, 3, 6, 9
        let stepped = [
            "SLURM_ARRAY_TASK_ID": "9", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "9",
            "SLURM_ARRAY_TASK_STEP": "3", "SLURM_ARRAY_TASK_COUNT": "4",
        ]
        XCTAssertEqual(try Shard.fromEnvironment(stepped, shards: nil), try Shard(index: 3, count: 4))
        // --array=0,3,7: indices not evenly spaced, no K/N to derive
        var uneven = slurm
        (uneven["SLURM_ARRAY_TASK_MIN"], uneven["SLURM_ARRAY_TASK_MAX"], uneven["SLURM_ARRAY_TASK_COUNT"]) = (
            "0", "7", "3"
        )
        XCTAssertThrowsError(try Shard.fromEnvironment(uneven, shards: nil)) {
            XCTAssertTrue("\($0)".contains("not evenly spaced"), "\($0)")
        }
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "1"], shards: nil))
        XCTAssertThrowsError(try Shard.fromEnvironment(["SLURM_ARRAY_TASK_ID": "x"], shards: nil))
    }

    func testAutoFromKubernetes() throws {
        XCTAssertEqual(
            try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3"], shards: 8), try Shard(index: 3, count: 8))
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "3"], shards: nil)) {
            XCTAssertTrue("\($0)".contains("--shards N"), "\($0)")
        }
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": "8"], shards: 8))
        XCTAssertThrowsError(try Shard.fromEnvironment(["JOB_COMPLETION_INDEX": ""], shards: 8)) {
            XCTAssertTrue("\($0)".contains("neither SLURM_ARRAY_TASK_ID"), "\($0)")
        }
    }
}
