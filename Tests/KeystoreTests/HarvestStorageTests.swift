import CMS
import Foundation
import Keystore
import PKI
import TestSupport
import XCTest

/// The harvested repository in SQL, at chosen times (SPEC F22, F23): the alert window slides, the cap
/// evicts by last use, and what is stored once is seen again, not stored twice.
final class HarvestStorageTests: XCTestCase {
    var store: Keystore!
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let rules = HarvestRules(updated: true, selfSigned: true)

    override func setUpWithError() throws {
        store = try Backend.open(home: try temporaryDirectory().appendingPathComponent("home"), create: true)
    }

    /// A self-signed EC certificate for `email` (quick to make), valid around `start`.
    func certificate(_ email: String) throws -> Certificate {
        let key = try PrivateKey.generateEC(curve: "P-256")
        return try CertificateBuilder.selfSigned(
            CertificateRequestFields(commonName: email, sanEmails: [email]), key: key, days: 36500)
    }

    func harvest(_ certificate: Certificate, hours: Double) throws -> HarvestResult {
        try store.harvest(
            HarvestCandidate(
                certificate: certificate, intermediates: [], verified: true, capabilities: [], message: "m"),
            rules: rules, at: start.addingTimeInterval(hours * 3600))
    }

    func testTheAlertWindowSlides() throws {
        XCTAssertEqual(try harvest(try certificate("pat@partner.example"), hours: 0).alerts, [])  // new: no update
        XCTAssertEqual(try harvest(try certificate("pat@partner.example"), hours: 1).alerts, [])  // one update
        // 59 hours on, the update of hour 1 is out of the 48-hour window: again one update, no alert.
        XCTAssertEqual(try harvest(try certificate("pat@partner.example"), hours: 60).alerts, [])
        let alerts = try harvest(try certificate("pat@partner.example"), hours: 61).alerts.map(\.text)
        XCTAssertEqual(alerts.count, 2, "the address and its domain: \(alerts)")
        XCTAssertTrue(alerts[0].hasPrefix("2 updated certificates for partner.example within 48 hours"), alerts[0])
        XCTAssertTrue(alerts[1].hasPrefix("2 updated certificates for pat@partner.example within 48 hours"), alerts[1])
        XCTAssertEqual(try store.alerts().count, 2)
        try store.setGlobalSetting("alert-window", "240h")
        // Renewed in place, one alert per name and window, however many updates come.
        XCTAssertEqual(try harvest(try certificate("pat@partner.example"), hours: 62).alerts.first?.text.prefix(1), "4")
        for hour in 63...70 { _ = try harvest(try certificate("pat@partner.example"), hours: Double(hour)) }
        let renewed = try store.alerts()
        XCTAssertEqual(renewed.count, 2)
        XCTAssertTrue(renewed[1].text.hasPrefix("12 updated certificates for pat@partner.example"), renewed[1].text)
        XCTAssertTrue(renewed[1].text.hasSuffix(", and 7 more)"), renewed[1].text)
    }

    func testTheCapEvictsByLastUse() throws {
        let certificates = try (1...4).map { try certificate("p\($0)@partner.example") }
        let size = certificates[0].der.count
        try store.setGlobalSetting("harvest-cap", "\(size * 3 + size / 2)")
        for (index, certificate) in certificates.prefix(3).enumerated() {
            XCTAssertEqual(try harvest(certificate, hours: Double(index)).action, .stored)
        }
        try store.markHarvestedUsed([certificates[0].sha256Fingerprint], at: start.addingTimeInterval(5 * 3600))
        let fourth = try harvest(certificates[3], hours: 6)
        XCTAssertEqual(fourth.evicted, 1)
        let kept = Set(try store.harvestedCertificates().map(\.fingerprint))
        XCTAssertEqual(kept, Set([certificates[0], certificates[2], certificates[3]].map(\.sha256Fingerprint)))
        XCTAssertEqual(try harvest(certificates[2], hours: 7).action, .seen)
        XCTAssertEqual(try store.harvestedCertificates().count, 3)
        // The running total the triggers keep is the sum of what is there, after stores, evictions and forgets.
        try store.forgetHarvested(certificates[2].sha256Fingerprint)
        let sums = try Backend.sql(
            store.home, "SELECT (SELECT total FROM harvest_size), (SELECT SUM(size) FROM harvested)")
        let pair = sums.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "|").map(String.init)
        XCTAssertEqual(pair.count, 2, sums)
        XCTAssertEqual(pair.first, pair.last, "the kept total is the sum")
        XCTAssertGreaterThan(Int(pair.first ?? "") ?? 0, size, "two certificates are left")
        // The smallest cap keeps the certificate just stored, whatever it evicts.
        try store.setGlobalSetting("harvest-cap", "1KB")
        let alone = try certificate("p5@partner.example")
        let tiny = try harvest(alone, hours: 8)
        XCTAssertEqual(tiny.action, .stored)
        let left = try store.harvestedCertificates().map(\.fingerprint)
        XCTAssertTrue(left.contains(alone.sha256Fingerprint))
        XCTAssertEqual(left.count, max(1, 1024 / size), "\(size) bytes a certificate")
    }
}
