import Foundation
import TestSupport
import XCTest

/// Every input the fuzzer found a crash with (Fuzz/regressions/TARGET/, after the fix) and every seed,
/// replayed through the same target code by the normal build's `smimegate-fuzz` (Fuzz/README.md).
final class FuzzRegressionTests: XCTestCase {
    func testSavedFuzzInputsRunClean() throws {
        let replayer = Paths.binary.deletingLastPathComponent().appendingPathComponent("smimegate-fuzz").path
        let fuzz = Paths.packageRoot.appendingPathComponent("Fuzz")
        var replayed = 0
        for folder in ["regressions", "seeds"] {
            let root = fuzz.appendingPathComponent(folder).path
            for target in (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [] {
                let files = try FileManager.default.contentsOfDirectory(atPath: root + "/" + target).sorted()
                    .map { root + "/" + target + "/" + $0 }
                guard !files.isEmpty else { continue }
                let result = try runProcess(replayer, [target] + files)
                XCTAssertEqual(result.status, 0, "\(folder)/\(target): \(result.stderr)")
                XCTAssertEqual(result.out.split(separator: "\n").count, files.count, "\(folder)/\(target)")
                replayed += files.count
            }
        }
        XCTAssertGreaterThanOrEqual(replayed, 3, "the seeds at least")
    }
}
