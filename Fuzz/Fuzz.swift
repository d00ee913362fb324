// smimegate-fuzz: libFuzzer targets over the parsers that read what strangers send us or what a crash
// leaves behind (scripts/fuzz.sh). Built with `-sanitize=fuzzer,address -D FUZZING`, libFuzzer calls
// LLVMFuzzerTestOneInput with the target named by $SMIMEGATE_FUZZ_TARGET; built normally (every
// `swift build`), `smimegate-fuzz TARGET FILE...` runs the same code over saved inputs: the regression
// tests replay every crash the fuzzer found (Fuzz/regressions/TARGET/) this way.
import CMS
import CSmimegate
import Foundation
import Keystore
import MIME
import Mailstore
import PKI
import Pipeline
import Policy
import SMIME

/// The targets, by name. Each gets one input; an input may fail to parse (that is the point), never crash.
enum Target: String, CaseIterable {
    case mime, smime, mbox, manifest, tar, policy

    func run(_ data: [UInt8]) {
        switch self {
        case .mime:
            if let message = try? Entity.parseMessage(data) { _ = message.entity.serialized() }
        case .smime:
            _ = Fixture.incoming.process(InputMessage(source: "fuzz", offset: nil, bytes: data))
        case .mbox:
            Fixture.withFile(data) { path in
                guard var reader = try? MboxReader(path) else { return }
                while let item = try? reader.next() { _ = item }
            }
        case .manifest:
            Fixture.withFile(data, named: "manifest.jsonl") { path in
                _ = try? RunReport.read([(path as NSString).deletingLastPathComponent])
            }
        case .tar:
            Fixture.withFile(data) { path in _ = try? TarBundle.read(path) }
        case .policy:
            _ = PolicyParser.parse(String(decoding: data, as: UTF8.self), knownProfiles: ["sign", "enc"])
        }
    }
}

/// What the targets share, made once: bob's key and the test CA from Fixtures/, a scratch directory.
enum Fixture {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

    static func load(_ name: String) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: root.appendingPathComponent("Fixtures/" + name).path)
        else { fatalError("smimegate-fuzz: Fixtures/\(name) is missing") }
        return Array(data)
    }

    static let incoming: IncomingJob = {
        do {
            let identity = IncomingJob.Identity(
                certificate: try Certificate(bytes: load("bob.pem")), key: try PrivateKey(bytes: load("bob.key")))
            let trust = try TrustStore(anchors: [try Certificate(bytes: load("ca.pem"))])
            return IncomingJob(
                identities: [identity], validation: SignerValidation(trust: trust), keepSignature: false,
                authservID: "fuzz.example", localDomains: ["partner.example"])
        } catch {
            fatalError("smimegate-fuzz: cannot load the fixtures: \(error)")
        }
    }()

    static let scratch: String = {
        let path = NSTemporaryDirectory() + "smimegate-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }()

    /// Runs `body` with `data` in a scratch file (inputs that only come from files).
    static func withFile(_ data: [UInt8], named name: String = "input", _ body: (String) -> Void) {
        // Plain write(2): FileManager writes a temporary file and renames it, which made these targets 10× slower.
        let path = scratch + "/" + name
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { fatalError("smimegate-fuzz: cannot write \(path)") }
        var written = 0
        while written < data.count {
            let count = data[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { fatalError("smimegate-fuzz: cannot write \(path)") }
            written += count
        }
        close(fd)
        body(path)
    }
}

#if FUZZING
    let target: Target = {
        let name = ProcessInfo.processInfo.environment["SMIMEGATE_FUZZ_TARGET"] ?? ""
        guard let target = Target(rawValue: name) else {
            fatalError("set SMIMEGATE_FUZZ_TARGET to one of \(Target.allCases.map(\.rawValue))")
        }
        return target
    }()

    @_cdecl("LLVMFuzzerTestOneInput")
    public func fuzz(_ start: UnsafePointer<UInt8>?, _ count: Int) -> CInt {
        target.run(start.map { Array(UnsafeBufferPointer(start: $0, count: count)) } ?? [])
        return 0
    }

    /// SwiftPM links an executable's main() by the name `<module>_main`; libFuzzer's loop is started from it.
    @_cdecl("smimegate_fuzz_main")
    public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
        var argc = argc
        var argv = argv
        return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data, size) }
    }
#else
    @main
    enum Replayer {
        static func main() {
            let arguments = CommandLine.arguments.dropFirst()
            guard let name = arguments.first, let target = Target(rawValue: name) else {
                let names = Target.allCases.map(\.rawValue).joined(separator: "|")
                FileHandle.standardError.write(Data("usage: smimegate-fuzz \(names) FILE...\n".utf8))
                exit(2)
            }
            for file in arguments.dropFirst() {
                guard let data = FileManager.default.contents(atPath: file) else {
                    FileHandle.standardError.write(Data("smimegate-fuzz: cannot read \(file)\n".utf8))
                    exit(2)
                }
                target.run(Array(data))
                print("\(name) \(file): ok")
            }
        }
    }
#endif
