import CMS
import Foundation
import TestSupport
import XCTest

/// The run's trust store on NIST PKITS data (Good CA and its CRL): a revocation counts from its date,
/// judged at the validation time; typed verdicts; CRLs parsed in both encodings.
final class TrustStoreTests: XCTestCase {
    let pkits = Paths.vector("pkits-smime-subset").path

    func certificates(of message: String) throws -> [Certificate] {
        let p7 = try runProcess("openssl", ["smime", "-pk7out", "-in", pkits + "/smime/" + message])
        let pem = try runProcess("openssl", ["pkcs7", "-print_certs"], input: p7.stdout)
        return try Certificate.parseAll(pem.stdout)
    }

    func store(_ checking: RevocationChecking = .soft, crls: [String]) throws -> TrustStore {
        let anchor = try Certificate(
            bytes: bytes(of: URL(fileURLWithPath: pkits + "/certs/TrustAnchorRootCertificate.crt")))
        let lists = try crls.flatMap {
            try RevocationList.parseAll(bytes(of: URL(fileURLWithPath: pkits + "/crls/" + $0)))
        }
        return try TrustStore(anchors: [anchor], revocationLists: lists, checking: checking)
    }

    func date(_ text: String) -> Date { ISO8601DateFormatter().date(from: text)! }

    func testARevocationCountsFromItsDate() throws {
        let certs = try certificates(of: "SignedInvalidRevokedEETest3.eml")
        let leaf = try XCTUnwrap(certs.first { $0.subject.contains("Revoked EE") })
        let trust = try store(crls: ["TrustAnchorRootCRL.crl", "GoodCACRL.crl"])
        // Revoked at 08:30:01; the CRL and the certificate date from 08:30:00.
        let before = trust.validate(leaf, untrusted: certs, at: date("2010-01-01T08:30:00Z"), floor: .legacy)
        guard case .valid(_, .good, let path) = before else { return XCTFail("\(before)") }
        XCTAssertEqual(path.count, 3)
        let after = trust.validate(leaf, untrusted: certs, at: date("2020-06-01T00:00:00Z"), floor: .legacy)
        guard case .revoked(let revocation) = after else { return XCTFail("\(after)") }
        XCTAssertEqual(revocation.date, date("2010-01-01T08:30:01Z"))
        XCTAssertEqual(revocation.reason, .keyCompromise)
        XCTAssertEqual(revocation.source, "CRL")
        XCTAssertTrue(revocation.subject.contains("Invalid Revoked EE Certificate Test3"))
    }

    func testSoftAndHardWithoutACRL() throws {
        let certs = try certificates(of: "SignedValidSignaturesTest1.eml")
        let leaf = try XCTUnwrap(certs.first { !$0.isCA })
        let now = date("2020-06-01T00:00:00Z")
        let soft = try store(.soft, crls: ["TrustAnchorRootCRL.crl"]).validate(
            leaf, untrusted: certs, at: now, floor: .legacy)
        guard case .valid(_, .unknown(let unknown), _) = soft else { return XCTFail("\(soft)") }
        XCTAssertEqual(unknown.count, 1, "the leaf: Good CA's CRL is missing; Good CA itself is covered by the root's")
        XCTAssertEqual(unknown.first?.why, "unable to get certificate CRL")
        let hard = try store(.hard, crls: ["TrustAnchorRootCRL.crl"]).validate(
            leaf, untrusted: certs, at: now, floor: .legacy)
        guard case .revocationUnknown(let list) = hard else { return XCTFail("\(hard)") }
        XCTAssertEqual(list, unknown)
        let full = try store(.hard, crls: ["TrustAnchorRootCRL.crl", "GoodCACRL.crl"]).validate(
            leaf, untrusted: certs, at: now, floor: .legacy)
        guard case .valid(_, .good, _) = full else { return XCTFail("\(full)") }
        // An expired CRL is unknown, not good.
        let later = try store(.hard, crls: ["TrustAnchorRootCRL.crl", "GoodCACRL.crl"]).validate(
            leaf, untrusted: certs, at: date("2030-12-31T09:00:00Z"), floor: .legacy)
        guard case .invalid = later else { return XCTFail("past the anchor's own validity: \(later)") }
    }

    func testCRLsInBothEncodingsAndJunk() throws {
        let der = bytes(of: URL(fileURLWithPath: pkits + "/crls/GoodCACRL.crl"))
        let list = try XCTUnwrap(try RevocationList.parseAll(der).first)
        XCTAssertEqual(list.entries, 2)
        XCTAssertEqual(list.nextUpdate, date("2030-12-31T08:30:00Z"))
        let twice = Array((list.pem + "junk between\n" + list.pem).utf8)
        XCTAssertEqual(
            try RevocationList.parseAll(twice).map(\.sha256Fingerprint),
            [list.sha256Fingerprint, list.sha256Fingerprint])
        XCTAssertThrowsError(try RevocationList.parseAll([]))
        XCTAssertThrowsError(try RevocationList.parseAll(Array(der.prefix(100))))
        XCTAssertThrowsError(
            try RevocationList.parseAll(Array("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n".utf8)))
    }
}
