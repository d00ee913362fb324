import CMS
import MIME
import PKI
import SMIME
import TestSupport
import XCTest

/// Bad input never crashes: thousands of deterministic mutations of real
/// S/MIME messages (bit flips, truncations, deleted and duplicated spans) go
/// through every parser and transform; each must return or throw, nothing else.
final class MutationTests: XCTestCase {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    func mutate(_ bytes: [UInt8], _ g: inout Generator) -> [UInt8] {
        var out = bytes
        for _ in 0..<Int.random(in: 1...4, using: &g) {
            guard !out.isEmpty else { break }
            let at = Int.random(in: 0..<out.count, using: &g)
            switch Int.random(in: 0..<5, using: &g) {
            case 0: out[at] ^= UInt8(1 << Int.random(in: 0..<8, using: &g))
            case 1: out.removeSubrange(at...)
            case 2: out.removeSubrange(at..<min(out.count, at + Int.random(in: 1...200, using: &g)))
            case 3: out.insert(contentsOf: out[at..<min(out.count, at + Int.random(in: 1...200, using: &g))], at: at)
            default: out[at] = [0, 10, 13, 45, 61, 255].randomElement(using: &g)!
            }
        }
        return out
    }

    func testMutatedMessagesNeverCrash() throws {
        let dir = "thunderbird-nss-smime/"
        let anchors = try Certificate.parseAll(bytes(of: Paths.vector(dir + "TestCA.pem")))
        let bob = try PKCS12Contents(bytes: bytes(of: Paths.vector(dir + "Bob.p12")), passphrase: Array("nss".utf8))
        let seeds = ["alice.dsig.SHA256.multipart.eml", "alice.sig.SHA256.opaque.eml", "alice.env.eml", "alice.sig.SHA256.opaque.env.eml"]
            .map { bytes(of: Paths.vector(dir + $0)) }
        var g = Generator(state: 2026)
        var outcomes = [String: Int]()
        for i in 0..<4000 {
            let input = mutate(seeds[i % seeds.count], &g)
            if let lenient = try? Entity.parseMessage(input) {
                _ = try? Canonical.prepare(lenient.entity, options: .init(sevenBitSafe: true, asOneLeaf: true))
            }
            do {
                let message = try Entity.parse(input)
                _ = try? Canonical.prepare(message, options: .init(sevenBitSafe: true))
                switch try SMIMEForm.classify(message) {
                case .enveloped:
                    _ = try SMIME.decrypt(message, certificate: bob.certificate, key: bob.key)
                    outcomes["decrypted", default: 0] += 1
                case .signedOpaque, .signedDetached:
                    let verdict = try SMIME.verify(message, validation: SignerValidation(trust: try TrustStore(anchors: anchors))).verdict
                    outcomes[verdict == .pass ? "pass" : "fail", default: 0] += 1
                default:
                    outcomes["other", default: 0] += 1
                }
            } catch {
                XCTAssertFalse("\(error)".isEmpty, "an error with a reason")
                XCTAssertFalse("\(error)".contains("\n"), "one line: \(error)")
                outcomes["error", default: 0] += 1
            }
        }
        // The mutations reach every stage: some still pass, many are rejected.
        XCTAssertGreaterThan(outcomes["error", default: 0], 1000, "\(outcomes)")
        XCTAssertGreaterThan(outcomes["fail", default: 0], 20, "\(outcomes)")
        XCTAssertGreaterThan(outcomes["pass", default: 0] + outcomes["decrypted", default: 0], 20, "\(outcomes)")
    }
}
