import Foundation
import TestSupport
import XCTest

/// One record of `process incoming`'s manifest, with what the tests of delivered headers look at.
struct IncomingRecord: Decodable {
    struct File: Decodable { let file: String }
    let messageId: String?
    let outcome: String
    let outputs: [File]
    let reason: String?
    let warning: String?
    let authenticated: Bool?
}

extension CLITestCase {
    /// Runs `process incoming` (authserv-id mx.example.com) over `messages` (file name → bytes) and returns
    /// each record by the local part of its Message-ID, with the delivered text.
    func deliverIncoming(_ messages: [String: [UInt8]], _ extra: [String] = []) throws
        -> [String: (IncomingRecord, String)]
    {
        let inbox = path("in-\(UUID().uuidString)")
        for sub in ["new", "cur", "tmp"] {
            try FileManager.default.createDirectory(atPath: inbox + "/" + sub, withIntermediateDirectories: true)
        }
        for (name, data) in messages { try write(data, to: URL(fileURLWithPath: inbox + "/new/" + name)) }
        let out = path("out-\(UUID().uuidString)")
        try smimegate(["process", "incoming", inbox, "--out", out, "--authserv-id", "mx.example.com"] + extra)
            .expect(0)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        var result: [String: (IncomingRecord, String)] = [:]
        for line in string(bytes(of: URL(fileURLWithPath: out + "/manifest.jsonl"))).split(separator: "\n") {
            let record = try decoder.decode(IncomingRecord.self, from: Data(line.utf8))
            let text = record.outputs.first.map { string(bytes(of: URL(fileURLWithPath: out + "/" + $0.file))) } ?? ""
            result[String((record.messageId ?? "?").prefix { $0 != "@" })] = (record, text)
        }
        return result
    }

    /// The header lines (unfolded) of `text` whose name is `name`.
    func fields(_ name: String, in text: String) -> [String] {
        let head = text.replacingOccurrences(of: "\r\n", with: "\n").components(separatedBy: "\n\n")[0]
        let unfolded = head.replacingOccurrences(of: "\n ", with: " ").replacingOccurrences(of: "\n\t", with: " ")
        return unfolded.split(separator: "\n").map(String.init).filter {
            $0.lowercased().hasPrefix(name.lowercased() + ":")
        }
    }
}
