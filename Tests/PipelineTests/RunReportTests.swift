import Foundation
import TestSupport
import XCTest

@testable import Pipeline

final class RunReportTests: XCTestCase {
    /// Found by bench/shards.sh: floor(earliest / interval) * interval came out a rounding error above the
    /// earliest time (…09.8 → …09.8000002), and the first record's interval index was -1 (a trap).
    func testThePaceCountsTheEarliestRecordWhateverTheRounding() throws {
        let dir = try temporaryDirectory()
        let line = { (input: String, time: String) in
            "{\"input\":\"\(input)\",\"direction\":\"outgoing\",\"outcome\":\"signed\",\"outputs\":[],\"bytes\":1,"
                + "\"elapsed_ms\":1,\"time\":\"\(time)\"}\n"
        }
        try write(
            line("a", "2026-11-30T23:45:09.800Z") + line("b", "2026-11-30T23:45:16.233Z"),
            to: dir.appendingPathComponent("manifest.jsonl"))
        let report = try RunReport.read([dir.path])
        XCTAssertEqual(report.pace?.messages.reduce(0, +), 2)
        XCTAssertEqual(report.pace?.messages.first, 1)
        XCTAssertEqual(report.pace?.messages.last, 1)
    }
}
