import Foundation
import Policy
import TestSupport
import XCTest

/// The policy files the README shows are accepted as written: its examples stay true.
final class ReadmeExampleTests: XCTestCase {
    func testEveryPolicyFileInTheReadmeParses() throws {
        let readme = string(bytes(of: Paths.packageRoot.appendingPathComponent("README.md")))
        let section = try XCTUnwrap(readme.range(of: "## Policies and filters"))
        let rest = readme[section.upperBound...]
        let text = String(rest[..<(rest.range(of: "\n## ")?.lowerBound ?? rest.endIndex)])
        let blocks = text.components(separatedBy: "```").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        let files = blocks.filter {
            $0.contains("\n[message filters]") || $0.contains("\n[outgoing policy") || $0.contains("\n[incoming policy")
        }
        XCTAssertEqual(files.count, 3, "the example file and two worked examples")
        for file in files {
            let (document, problems) = PolicyParser.parse(String(file.drop { $0 != "\n" }))
            XCTAssertEqual(problems, [], file)
            XCTAssertNotNil(document)
        }
        let example = string(bytes(of: Paths.fixture("example.policy")))
        XCTAssertTrue(files[0].hasSuffix(example), "the README shows Fixtures/example.policy as it is")
    }
}
