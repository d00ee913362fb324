import CMS
import Foundation
import MIME
import PKI
import SMIME
import Synchronization
import TestSupport
import XCTest

final class RoundTripTests: XCTestCase {
    var signer: Signer!
    var anchors: [Certificate] = []
    let message = Array(
        "From: alice@example.com\nTo: bob@partner.example\nSubject: hi\nContent-Type: multipart/mixed; boundary=\"XYZ\"\n\npreamble\n--XYZ\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\nGrüße  \n--XYZ\nContent-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\nAAECAwQ=\n--XYZ--\n"
            .utf8)

    override func setUpWithError() throws {
        let certificate = try Certificate(bytes: bytes(of: Paths.fixture("alice.pem")))
        let key = try PrivateKey(bytes: bytes(of: Paths.fixture("alice.key")))
        signer = Signer(certificate: certificate, key: key)
        anchors = [try Certificate(bytes: bytes(of: Paths.fixture("ca.pem")))]
    }

    func testLiberalInputFormsAreAccepted() throws {
        let entity = try Entity.parse(message)
        let opaque = string(try SMIME.sign(entity, signer: signer, mode: .opaque).serialized())
        let legacy = opaque.replacingOccurrences(
            of: "application/pkcs7-mime; smime-type=signed-data; name=\"smime.p7m\"", with: "application/x-pkcs7-mime")
        XCTAssertNotEqual(legacy, opaque)
        XCTAssertEqual(try SMIME.verify(Entity.parse(Array(legacy.utf8)), validation: SignerValidation(trust: try TrustStore(anchors: anchors))).verdict, .pass)

        let detached = string(try SMIME.sign(entity, signer: signer, mode: .detached).serialized())
        for (from, to) in [
            ("protocol=\"application/pkcs7-signature\"; ", ""),
            ("protocol=\"application/pkcs7-signature\"", "protocol=\"application/x-pkcs7-signature\""),
            ("Content-Type: application/pkcs7-signature", "Content-Type: application/x-pkcs7-signature"),
        ] {
            let variant = detached.replacingOccurrences(of: from, with: to)
            XCTAssertNotEqual(variant, detached, from)
            XCTAssertEqual(
                try SMIME.verify(Entity.parse(Array(variant.utf8)), validation: SignerValidation(trust: try TrustStore(anchors: anchors))).verdict, .pass, from)
        }
    }

    func testUnwrappedMessageKeepsLineEndingsAndContent() throws {
        let entity = try Entity.parse(message)
        for mode in SignMode.allCases {
            let signed = try SMIME.sign(entity, signer: signer, mode: mode).serialized()
            XCTAssertFalse(signed.contains(13), "\(mode): LF input gives LF output")
            let result = try SMIME.verify(Entity.parse(signed), validation: SignerValidation(trust: try TrustStore(anchors: anchors)))
            XCTAssertEqual(result.verdict, .pass, "\(mode)")
            let unwrapped = try XCTUnwrap(result.unwrapped)
            XCTAssertEqual(unwrapped.field("Subject"), "hi")
            let part = try Multipart.parse(unwrapped.body, boundary: "XYZ").parts[1]
            XCTAssertEqual(try Entity.parse(part).decodedBody(), [0, 1, 2, 3, 4])
        }
    }

    func testEncryptionKeepsOuterFieldsAndHidesContent() throws {
        let bob = try Certificate(bytes: bytes(of: Paths.fixture("bob.pem")))
        let bobKey = try PrivateKey(bytes: bytes(of: Paths.fixture("bob.key")))
        let encrypted = try SMIME.encrypt(try Entity.parse(message), recipients: [bob], cipher: .aes128gcm)
        XCTAssertEqual(encrypted.field("Subject"), "hi")
        XCTAssertEqual(encrypted.contentType["smime-type"], "authEnveloped-data")
        XCTAssertNil(string(encrypted.serialized()).range(of: "Grüße"), "no plaintext (ü is not in the base64 alphabet)")
        let decrypted = try SMIME.decrypt(encrypted, certificate: bob, key: bobKey)
        XCTAssertEqual(decrypted.contentType.mediaType, "multipart/mixed")
        XCTAssertEqual(string(decrypted.body), string(try Entity.parse(message).body))
    }

    /// Keys are parsed once and shared read-only by many threads (NOTES-openssl.md).
    func testSharedKeysAcrossThreads() throws {
        let entity = try Entity.parse(message)
        let signer = self.signer!
        let validation = SignerValidation(trust: try TrustStore(anchors: anchors))
        let failures = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for i in 0..<25 {
                do {
                    let signed = try SMIME.sign(entity, signer: signer, mode: i % 2 == 0 ? .detached : .opaque)
                    if try SMIME.verify(Entity.parse(signed.serialized()), validation: validation).verdict != .pass {
                        failures.add(1, ordering: .relaxed)
                    }
                } catch {
                    failures.add(1, ordering: .relaxed)
                }
            }
        }
        XCTAssertEqual(failures.load(ordering: .relaxed), 0)
    }
}
