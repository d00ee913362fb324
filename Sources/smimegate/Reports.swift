import ArgumentParser
import CMS
import Foundation
import PKI

/// A named certificate in `--json` listings: the name, then the report's fields.
struct NamedReport: Encodable {
    let name: String
    let report: CertificateReport
    var extra: [String: String] = [:]

    enum Key: String, CodingKey { case name }

    func encode(to encoder: Encoder) throws {
        try report.encode(to: encoder)
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(name, forKey: .name)
        var more = encoder.container(keyedBy: AnyKey.self)
        for (key, value) in extra { try more.encode(value, forKey: AnyKey(key)) }
    }
}

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ string: String) { stringValue = string }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// `keys: .convertToSnakeCase` spells Swift's `thisUpdate` as `this_update`, as the manifest does.
func printJSON<T: Encodable>(_ value: T, keys: JSONEncoder.KeyEncodingStrategy = .useDefaultKeys) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    encoder.keyEncodingStrategy = keys
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// `label: value` lines, labels aligned.
func printReport(_ lines: [(String, String)]) {
    let width = (lines.map(\.0.count).max() ?? 0) + 1
    for (label, value) in lines {
        print((label + ":").padding(toLength: width + 1, withPad: " ", startingAt: 0) + value)
    }
}

/// One line per certificate for plain listings.
func listLine(_ name: String, _ certificate: Certificate) -> String {
    let names = (certificate.emailAddresses + certificate.dnsNames).joined(separator: ",")
    return "\(name)\t\(certificate.subject)\t\(names.isEmpty ? "-" : names)\tuntil \(Requirements.day(certificate.notAfter))"
}

struct JSONFlag: ParsableArguments {
    @Flag(help: "Print JSON instead of text.") var json = false
}
