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
    let until = Requirements.day(certificate.notAfter)
    return visible("\(name)\t\(certificate.subject)\t\(names.isEmpty ? "-" : names)\tuntil \(until)")
}

/// A listing line as a terminal may show it: the tabs between columns kept, every other control character
/// (a certificate's SAN may hold ESC, CR or NUL) shown as `?`, so one row is one line and draws nothing.
func visible(_ line: String) -> String {
    String(
        String.UnicodeScalarView(
            line.unicodeScalars.map { $0 != "\t" && ($0.value < 0x20 || (0x7f...0x9f).contains($0.value)) ? "?" : $0 }))
}

struct JSONFlag: ParsableArguments {
    @Flag(help: "Print JSON instead of text.") var json = false
}
