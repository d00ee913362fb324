// Where a signature's time goes, in-process and without files: the raw CMS
// sign (OpenSSL only), then the whole S/MIME transform (MIME parsing,
// canonical form, CMS, base64, serialisation), on one thread, over the same
// 4 KB message. Compare with `openssl speed rsa2048` (one core).
// With a POLICY file and a MAILDIR, also what the policy's decisions cost per message
// (bench/policy.sh): the plan of `process outgoing` (parse, envelope, message filters, each
// copy's content filters) against a detached signature of the same messages, in thread CPU
// time, best of five rounds — a figure the noisy wall clock of a shared machine cannot give.
// usage: smimegate-microbench CERT.pem KEY.pem [COUNT [POLICY MAILDIR]]
import CMS
import Foundation
import MIME
import PKI
import Pipeline
import Policy
import SMIME

let arguments = CommandLine.arguments
guard arguments.count >= 3 else {
    FileHandle.standardError.write(Data("usage: smimegate-microbench CERT.pem KEY.pem [COUNT [POLICY MAILDIR]]\n".utf8))
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

/// The calling thread's CPU time, in seconds.
func threadSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// The best of five rounds over `messages`, in µs of thread CPU time per message.
func perMessage(_ messages: [[UInt8]], _ body: ([UInt8]) throws -> Void) rethrows -> Double {
    var best = Double.infinity
    for _ in 0..<5 {
        let start = threadSeconds()
        for message in messages { try body(message) }
        best = min(best, (threadSeconds() - start) / Double(messages.count) * 1e6)
    }
    return best
}

if arguments.count >= 6 {
    let text = String(decoding: FileManager.default.contents(atPath: arguments[4])!, as: UTF8.self)
    let (parsed, problems) = PolicyParser.parse(text)
    guard let policy = parsed else {
        FileHandle.standardError.write(Data("\(arguments[4]): \(problems.map(\.description))\n".utf8))
        exit(2)
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: arguments[5] + "/new").sorted().prefix(count)
    let messages = names.map { Array(FileManager.default.contents(atPath: arguments[5] + "/new/" + $0)!) }
    let profiles = policy.profileNames.map { (SendingProfile(name: $0, mode: .sign, certificate: "x"), signer as Signer?) }
    let job = try OutgoingJob(
        policy: policy, profiles: profiles, recipients: RecipientDirectory([]), reportingHost: "bench.example")
    let sign = try perMessage(messages) { _ = try SMIME.sign(try Entity.parse($0), signer: signer, mode: .detached).serialized() }
    let plan = try perMessage(messages) { bytes in
        var message = try Entity.parseMessage(bytes).entity
        let envelope = Envelope(message)
        message.removeFields(named: "Bcc")
        _ = try job.plan(message, envelope: envelope, size: bytes.count, policy: policy)
    }
    let parse = try perMessage(messages) { bytes in
        var message = try Entity.parseMessage(bytes).entity
        _ = Envelope(message)
        message.removeFields(named: "Bcc")
    }
    print(String(format: "SMIME.sign detached, %d corpus messages   %7.1f µs each (thread CPU, best of 5)", messages.count, sign))
    print(String(format: "policy plan (parse, envelope, filters)   %7.1f µs each", plan))
    print(String(format: "  of which parse and envelope            %7.1f µs each", parse))
    print(String(format: "the filters' share of a signed message   %7.1f %%", (plan - parse) / sign * 100))
}
