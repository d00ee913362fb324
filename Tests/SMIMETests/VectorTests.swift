import CMS
import MIME
import PKI
import SMIME
import TestSupport
import XCTest

/// Third-party messages from ../shared/vectors get the verdicts their READMEs list.
final class ThunderbirdVectorTests: XCTestCase {
    static let dir = "thunderbird-nss-smime/"
    var anchors: [Certificate] = []
    var bob: PKCS12Contents!

    override func setUpWithError() throws {
        anchors = try Certificate.parseAll(bytes(of: Paths.vector(Self.dir + "TestCA.pem")))
        bob = try PKCS12Contents(bytes: bytes(of: Paths.vector(Self.dir + "Bob.p12")), passphrase: Array("nss".utf8))
    }

    func message(_ name: String) throws -> Entity {
        let data = bytes(of: Paths.vector(Self.dir + name))
        XCTAssertFalse(data.isEmpty, "missing vector \(name)")
        return try Entity.parse(data)
    }

    func verdict(_ name: String) throws -> Verification {
        try SMIME.verify(message(name), validation: SignerValidation(trust: try TrustStore(anchors: anchors)))
    }

    func testSHA2SignaturesVerify() throws {
        for digest in ["SHA256", "SHA384", "SHA512"] {
            for name in ["alice.sig.\(digest).opaque.eml", "alice.dsig.\(digest).multipart.eml"] {
                let result = try verdict(name)
                XCTAssertEqual(result.verdict, .pass, name)
                XCTAssertEqual(result.digestAlgorithm, digest.lowercased(), name)
                XCTAssertEqual(result.signer?.emailAddresses, ["Alice@example.com"], name)
                let text = string(try XCTUnwrap(result.unwrapped).serialized())
                XCTAssertTrue(text.contains("This is a test message from Alice to Bob."), name)
                XCTAssertTrue(text.hasPrefix("MIME-Version: 1.0\r\nDate:"), name)
            }
        }
    }

    func testTamperedAndMismatchedSignaturesAreRejected() throws {
        for digest in ["SHA1", "SHA256", "SHA384", "SHA512"] {
            for name in [
                "alice.dsig.\(digest).multipart.bad.eml", "alice.dsig.\(digest).multipart.mismatch-econtent.eml",
            ] {
                guard case .fail(let failure) = try verdict(name).verdict else { return XCTFail("\(name) passed") }
                if name.hasSuffix("mismatch-econtent.eml") {  // eContent in the .p7s differs from the first part
                    XCTAssertEqual(failure.kind, .structure(.detachedSignatureCarriesContent), "\(name): \(failure)")
                    XCTAssertEqual(failure.result, .permerror, name)
                } else {
                    XCTAssertEqual(failure.kind, .badSignature, "\(name): \(failure)")
                    XCTAssertTrue(failure.reason.hasPrefix("bad signature"), "\(name): \(failure)")
                }
            }
        }
    }

    func testSHA1SignaturesAreNotTrustedUnlessAllowed() throws {
        for name in ["alice.sig.SHA1.opaque.eml", "alice.dsig.SHA1.multipart.eml"] {
            XCTAssertEqual(
                try verdict(name).verdict.failure,
                VerificationFailure(.weakDigest, "weak digest algorithm sha1: the signature is not trusted"), name)
            let allowed = try SMIME.verify(
                message(name), validation: SignerValidation(trust: try TrustStore(anchors: anchors), allowSHA1: true))
            XCTAssertEqual(allowed.verdict, .pass, name)
        }
    }

    func testEnvelopedMessageDecryptsWithBobsKey() throws {
        let decrypted = try SMIME.decrypt(message("alice.env.eml"), certificate: bob.certificate, key: bob.key)
        let expected = string(bytes(of: Paths.vector(Self.dir + "alice.mime"))).replacingOccurrences(
            of: "\r\n", with: "\n")
        XCTAssertEqual(
            string(MessageParts(splitting: decrypted).content.serialized()).replacingOccurrences(
                of: "\r\n", with: "\n"), expected)
    }

    func testSignedThenEncryptedDecryptsThenVerifies() throws {
        for name in ["alice.sig.SHA256.opaque.env.eml", "alice.dsig.SHA512.multipart.env.eml"] {
            let decrypted = try SMIME.decrypt(message(name), certificate: bob.certificate, key: bob.key)
            XCTAssertEqual(
                try SMIME.verify(decrypted, validation: SignerValidation(trust: try TrustStore(anchors: anchors))).verdict, .pass, name)
        }
    }

    func testVerifyRefusesAnEncryptedMessage() throws {
        XCTAssertThrowsError(try verdict("alice.env.eml")) {
            XCTAssertEqual(($0 as? SMIMEError)?.reason, "the message is encrypted (enveloped-data): decrypt it first")
        }
    }

    func testDecryptWithAnotherKeyFailsCleanly() throws {
        let dave = try PKCS12Contents(
            bytes: bytes(of: Paths.vector(Self.dir + "Dave.p12")), passphrase: Array("nss".utf8))
        XCTAssertThrowsError(try SMIME.decrypt(message("alice.env.eml"), certificate: dave.certificate, key: dave.key))
        {
            XCTAssertTrue(String(describing: $0).contains("not encrypted to"), "\($0)")
        }
    }

    func testOuterSignatureByDaveVerifiesAndTheInnerOneIsJudgedAgainstTheOuterFrom() throws {
        let outer = try verdict("alice.plain.sig.SHA256.opaque.dave.sig.SHA256.opaque.eml")
        XCTAssertEqual(outer.verdict, .pass)
        XCTAssertEqual(outer.signer?.emailAddresses, ["Dave@example.com"])
        // The inner signature is Alice's, but the message's From: is Dave: RFC 8550 §3 says not covered.
        let inner = try SMIME.verify(try XCTUnwrap(outer.unwrapped), validation: SignerValidation(trust: try TrustStore(anchors: anchors)))
        XCTAssertEqual(
            inner.verdict.failure,
            VerificationFailure(
                .authorNotCovered,
                "From address Dave@example.com is not covered by the signer certificate (Alice@example.com)"))
        let lax = try SMIME.verify(
            try XCTUnwrap(outer.unwrapped), validation: SignerValidation(trust: try TrustStore(anchors: anchors), requireAddressMatch: false))
        XCTAssertEqual(lax.verdict, .pass)
    }
}

final class RFC4134VectorTests: XCTestCase {
    func vector(_ name: String) -> [UInt8] { bytes(of: Paths.vector("rfc4134/" + name)) }

    /// RFC 4134's keys are RSA-1024 and DSA-1024 with SHA-1 certificates: below the
    /// algorithm floor, so they are trusted only with the legacy floor (`--allow-weak`).
    func testRSASignedDataVerifiesAgainstCarl() throws {
        let carl = try Certificate(bytes: vector("CarlRSASelf.cer"))
        for name in ["4.2.bin", "4.5.bin"] {
            let check = try CMS.verifySignature(vector(name))
            XCTAssertEqual(check.content, vector("ExContent.bin"), name)
            let signer = try XCTUnwrap(check.signers.first)
            let trust = try TrustStore(anchors: [carl])
            let legacy = trust.validate(signer, untrusted: check.certificates, at: Date(), floor: .legacy)
            guard case .valid(let accepted, _, _) = legacy else { return XCTFail("\(legacy)") }
            XCTAssertTrue(
                accepted.contains { if case .shortKey("RSA", 1024, _) = $0 { true } else { false } }, "\(accepted)")
            let standard = trust.validate(signer, untrusted: check.certificates, at: Date(), floor: .standard)
            guard case .weakAlgorithms = standard else { return XCTFail("\(standard)") }
            let untrusted = try TrustStore(anchors: []).validate(
                signer, untrusted: check.certificates, at: Date(), floor: .legacy)
            guard case .invalid = untrusted else { return XCTFail("\(name): \(untrusted)") }
        }
    }

    func testDSSSignedDataVerifiesAgainstCarl() throws {
        let carl = try Certificate(bytes: vector("CarlDSSSelf.cer"))
        // 4.7 names its signer by subject key identifier; 4.3 is detached.
        for (name, detached) in [
            ("4.1.bin", false), ("4.3.bin", true), ("4.4.bin", false), ("4.7.bin", false), ("4.10.bin", false),
        ] {
            let check = try CMS.verifySignature(vector(name), detachedContent: detached ? vector("ExContent.bin") : nil)
            XCTAssertEqual(check.content, vector("ExContent.bin"), name)
            let signer = try XCTUnwrap(check.signers.first, name)
            let verdict = try TrustStore(anchors: [carl]).validate(
                signer, untrusted: check.certificates, at: Date(), floor: .legacy)
            guard case .valid = verdict else { return XCTFail("\(name): \(verdict)") }
        }
        var tampered = vector("ExContent.bin")
        tampered[0] ^= 1
        XCTAssertThrowsError(try CMS.verifySignature(vector("4.3.bin"), detachedContent: tampered)) {
            XCTAssertTrue($0 is SignatureMismatch, "a changed content is a bad signature, typed: \($0)")
        }
    }

    func testDSSSignedMessagesVerifyButTheirFromDoesNotMatchTheCertificate() throws {
        let carl = try Certificate(bytes: vector("CarlDSSSelf.cer"))
        for name in ["4.8.eml", "4.9.eml"] {
            let message = try Entity.parse(vector(name))
            XCTAssertEqual(
                try SMIME.verify(message, validation: SignerValidation(trust: try TrustStore(anchors: [carl]))).verdict.failure?.kind,
                .weakDigest, name)
            let sha1 = try SMIME.verify(message, validation: SignerValidation(trust: try TrustStore(anchors: [carl]), allowSHA1: true))
            XCTAssertEqual(sha1.verdict.failure?.kind, .signer(.weakAlgorithms), name)
            let strict = try SMIME.verify(
                message, validation: SignerValidation(trust: try TrustStore(anchors: [carl]), allowSHA1: true, allowWeak: true))
            // From: aliceDss@examples.com, certificate: AliceDSS@example.com (sic, in RFC 4134).
            XCTAssertEqual(
                strict.verdict.failure?.reason,
                "From address aliceDss@examples.com is not covered by the signer certificate (AliceDSS@example.com)",
                name)
            let lax = try SMIME.verify(
                message,
                validation: SignerValidation(
                    trust: try TrustStore(anchors: [carl]), requireAddressMatch: false, allowSHA1: true, allowWeak: true))
            XCTAssertEqual(lax.verdict, .pass, name)
            XCTAssertFalse(lax.acceptedWeaknesses.isEmpty, name)
            XCTAssertTrue(
                string(try XCTUnwrap(lax.unwrapped).serialized()).hasSuffix("This is some sample content."), name)
        }
    }

    func testEnvelopedMessageDecryptsWithBob() throws {
        let bob = try Certificate(bytes: vector("BobRSASignByCarl.cer"))
        let key = try PrivateKey(bytes: vector("BobPrivRSAEncrypt.pri"))
        XCTAssertEqual(try CMS.decrypt(vector("5.1.bin"), certificate: bob, key: key), vector("ExContent.bin"))
        let message = try SMIME.decrypt(try Entity.parse(vector("5.3.eml")), certificate: bob, key: key)
        XCTAssertTrue(string(message.body).hasPrefix("This is some sample content."))
    }
}
