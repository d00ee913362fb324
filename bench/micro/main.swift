// Where a signature's time goes, in-process and without files: the raw CMS
// sign (OpenSSL only), then the whole S/MIME transform (MIME parsing,
// canonical form, CMS, base64, serialisation), on one thread, over the same
// 4 KB message. Compare with `openssl speed rsa2048` (one core).
// usage: smimegate-microbench CERT.pem KEY.pem [COUNT]
import CMS
import Foundation
import MIME
import SMIME

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: smimegate-microbench CERT.pem KEY.pem [COUNT]\n".utf8))
    exit(2)
}
let certificate = try Certificate(bytes: Array(FileManager.default.contents(atPath: arguments[1])!))
let key = try PrivateKey(bytes: Array(FileManager.default.contents(atPath: arguments[2])!))
let count = arguments.count > 3 ? Int(arguments[3])! : 2000
let signer = Signer(certificate: certificate, key: key)
var text = "From: user1@bench.example\r\nTo: r1@partner.example\r\nSubject: micro\r\nContent-Type: text/plain\r\n\r\n"
while text.utf8.count < 4000 { text += "Numbers are preliminary until the audit closes; call me if anything looks off.\r\n" }
let message = Array(text.utf8)
let content = Array(MessageParts(splitting: try Entity.parse(message)).content.serialized())

func measure(_ name: String, _ body: () throws -> Void) rethrows {
    let start = ContinuousClock.now
    for _ in 0..<count { try body() }
    let elapsed = ContinuousClock.now - start
    let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    print(String(format: "%-34@ %8.1f /s  %7.1f µs each", name as NSString, Double(count) / seconds, seconds / Double(count) * 1e6))
}

try measure("CMS.sign (detached, DER)") { _ = try CMS.sign(content, signer: signer, detached: true) }
try measure("SMIME.sign detached (parse+all)") {
    _ = try SMIME.sign(try Entity.parse(message), signer: signer, mode: .detached).serialized()
}
try measure("SMIME.sign opaque (parse+all)") {
    _ = try SMIME.sign(try Entity.parse(message), signer: signer, mode: .opaque).serialized()
}
try measure("MIME only: parse+canonical+serialise") {
    _ = try Canonical.prepare(MessageParts(splitting: try Entity.parse(message)).content, options: .init(sevenBitSafe: true)).serialized()
}
