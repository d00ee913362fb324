import CMS
import Foundation
import MIME
import Mailstore
import PKI
import Pipeline
import Policy
import TestSupport
import XCTest

/// The jobs deciding by a policy, in-process (no binary, no keystore): outcomes and
/// reasons asserted as values, outputs by folder, recipients, policy and filters.
final class PolicyJobTests: XCTestCase {
    let bob = try! Certificate(bytes: bytes(of: Paths.fixture("bob.pem")))
    let dan = try! Certificate(bytes: bytes(of: Paths.fixture("dan.pem")))

    func document(_ text: String) throws -> PolicyDocument {
        let (document, problems) = PolicyParser.parse(text)
        XCTAssertEqual(problems, [])
        return try XCTUnwrap(document)
    }

    func outgoing(_ policy: String, missingKey: SendingProfile.MissingKeyAction = .split) throws -> OutgoingJob {
        try OutgoingJob(
            policy: try document(policy),
            profiles: [(SendingProfile(name: "enc", mode: .encrypt, missingKey: missingKey), nil)],
            recipients: RecipientDirectory([bob, dan]), reportingHost: "gw.example.test")
    }

    func input(_ text: String, _ name: String = "m") -> InputMessage {
        InputMessage(source: "/spool/new/" + name, offset: nil, bytes: Array(text.utf8))
    }

    func testSplinteringGivesEachPolicyItsOwnCopyAndTheRecordSaysSplit() throws {
        let job = try outgoing(
            """
            [content filters]
            encrypt: if (true) { smime-gateway("enc"); }
            [outgoing policy partners]
            recipients = @partner.example
            content-filters = encrypt
            """)
        let result = job.process(
            input("From: a@example.test\nTo: bob@partner.example, c@customer.test\nSubject: s\n\nbody\n"))
        XCTAssertEqual(result.outcome, .split)
        XCTAssertEqual(result.outputs.map(\.folder), [.outcome(.encrypted), .outcome(.passed)])
        XCTAssertEqual(result.outputs.map(\.recipients), [["bob@partner.example"], ["c@customer.test"]])
        XCTAssertEqual(result.outputs.map(\.policy), ["partners", "default"])
        XCTAssertEqual(result.outputs.map(\.filters), [["encrypt"], []])
        XCTAssertEqual(result.outputs.map(\.profile), ["enc", nil])
        XCTAssertEqual(
            result.reason, .all([.noProfileChosen(policy: "default"), .splintered(policies: ["partners", "default"])]))
        XCTAssertEqual(result.reason?.code, "no-profile-chosen")
    }

    func testAQuarantinedCopyKeepsItsHeaderActionsAndNamesTheDecidingFilter() throws {
        let job = try outgoing(
            """
            [content filters]
            tag: if (true) { insert-header("X-Held", "yes"); }
            hold: if (attachment-filename == "(?i)\\.exe$") { quarantine("Executables"); }
            [outgoing policy default]
            content-filters = tag, hold
            """)
        XCTAssertEqual(job.outcomes.last, .quarantined("Executables"))
        let message = """
            From: a@example.test
            To: bob@partner.example
            Subject: tool
            MIME-Version: 1.0
            Content-Type: multipart/mixed; boundary="b"

            --b
            Content-Type: text/plain

            see attached
            --b
            Content-Type: application/octet-stream
            Content-Disposition: attachment; filename="setup.EXE"

            MZ
            --b--

            """
        let result = job.process(input(message))
        XCTAssertEqual(result.outcome, .quarantined("Executables"))
        XCTAssertEqual(result.outcome.folder, "quarantined/Executables")
        XCTAssertEqual(result.reason, .filtered(.quarantine("Executables"), filter: "hold"))
        XCTAssertEqual(result.outputs.count, 1)
        XCTAssertEqual(result.outputs[0].filters, ["tag", "hold"])
        XCTAssertTrue(string(result.outputs[0].bytes).contains("X-Held: yes"))
    }

    func testAMessageFilterDecidesForEveryRecipientBeforeAnyPolicy() throws {
        let job = try outgoing(
            """
            [message filters]
            spam: if (header("X-Spam-Flag") == "(?i)^yes$") { bounce(); }
            [content filters]
            encrypt: if (true) { smime-gateway("enc"); }
            [outgoing policy default]
            content-filters = encrypt
            """)
        let result = job.process(
            input("From: a@example.test\nTo: bob@partner.example\nX-Spam-Flag: YES\nSubject: s\n\nbuy\n"))
        XCTAssertEqual(result.outcome, .bounced)
        XCTAssertEqual(result.reason, .filtered(.bounce, filter: "spam"))
        XCTAssertEqual(result.outputs.map(\.recipients), [["a@example.test"]])
        let noSender = job.process(input("To: bob@partner.example\nX-Spam-Flag: yes\nSubject: s\n\nbuy\n"))
        XCTAssertEqual(noSender.outcome, .failed)
        XCTAssertEqual(noSender.reason, .noBounceAddress(.filtered(.bounce, filter: "spam")))
    }

    func testTheProfileDecidesWhatHappensToRecipientsWithoutKeys() throws {
        let policy = """
            [content filters]
            encrypt: if (true) { smime-gateway("enc"); }
            [outgoing policy default]
            content-filters = encrypt
            """
        let message = input("From: a@example.test\nTo: bob@partner.example, eve@nowhere.test\nSubject: s\n\nb\n")
        let dropped = try outgoing(policy, missingKey: .drop).process(message)
        XCTAssertEqual(dropped.outcome, .dropped)
        XCTAssertEqual(dropped.reason, .noCertificate(for: ["eve@nowhere.test"]))
        let bounced = try outgoing(policy, missingKey: .bounce).process(message)
        XCTAssertEqual(bounced.outcome, .bounced)
        XCTAssertEqual(bounced.reason?.code, "no-certificate")
    }

    func testAPolicyNamingAMissingProfileIsRefusedBeforeAnyMessage() throws {
        XCTAssertThrowsError(
            try OutgoingJob(
                policy: try document("[content filters]\nx: if (true) { smime-gateway(\"gone\"); }\n"), profiles: [],
                recipients: RecipientDirectory([]), reportingHost: "h")
        ) { XCTAssertTrue($0 is PipelineError) }
    }

    func testIncomingFiltersSeeTheResultsAndPoliciesChooseBySender() throws {
        let policy = try document(
            """
            [message filters]
            hold: if (smime-gateway-message and not smime-gateway-verified) { quarantine("Policy"); }
            mark: if (not smime-gateway-message) { insert-header("X-Plain", "1"); notify("ops@example.test"); }
            [incoming policy relay]
            senders = @relay.test
            verify = no
            """)
        let job = IncomingJob(
            identities: [], validation: SignerValidation(trust: try TrustStore(anchors: [])), keepSignature: false, authservID: "mx.test",
            policy: policy, reportingHost: "mx.test")
        XCTAssertTrue(job.notifies)
        let plain = job.process(input("From: a@example.test\nTo: b@example.test\nSubject: s\n\nhello\n"))
        XCTAssertEqual(plain.outcome, .passed)
        XCTAssertEqual(plain.outputs.map(\.folder), [.outcome(.passed), .notifications])
        XCTAssertEqual(plain.outputs[0].policy, "default")
        XCTAssertTrue(string(plain.outputs[0].bytes).contains("X-Plain: 1"))
        XCTAssertEqual(plain.outputs[1].recipients, ["ops@example.test"])

        let garbage = """
            From: a@relay.test
            To: b@example.test
            Subject: s
            Content-Type: application/pkcs7-mime; smime-type=enveloped-data

            bm90IGEgQ01TIHN0cnVjdHVyZQ==

            """
        let relayed = job.process(input(garbage, "g"))
        XCTAssertEqual(relayed.outcome, .quarantined("Policy"))
        XCTAssertEqual(relayed.outputs[0].policy, "relay")
        let direct = job.process(input(garbage.replacingOccurrences(of: "relay.test", with: "other.test"), "h"))
        XCTAssertEqual(direct.outcome, .quarantined("Policy"))
        XCTAssertEqual(direct.outputs[0].policy, "default")
        guard case .all(let reasons)? = direct.reason else { return XCTFail("\(String(describing: direct.reason))") }
        XCTAssertEqual(reasons.first, .filtered(.quarantine("Policy"), filter: "hold"))
        XCTAssertEqual(reasons.count, 2, "the filter's decision and the result it saw")
    }
}
