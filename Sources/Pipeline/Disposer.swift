import CMS
import MIME
import Mailstore
import Policy

/// Carries out a filter decision other than a transform — the copy into a
/// quarantine, nowhere (drop), or back to its sender as an RFC 3464 DSN (bounce) —
/// and writes the notices filters asked for. Shared by both directions.
struct Disposer {
    let input: InputMessage
    /// The message as received (bounces quote its header).
    let original: Entity
    let sender: String?
    let reportingHost: String

    /// `decision.disposition` must not be `deliver`.
    func dispose(
        _ message: Entity, _ decision: FilterDecision, recipients: [String], policy: String?, copy: Int
    ) -> JobResult {
        let filters = decision.acted
        let reason = Reason.filtered(decision.disposition, filter: Self.decidingFilter(decision))
        var result: JobResult
        switch decision.disposition {
        case .quarantine(let name):
            result = JobResult(
                outcome: .quarantined(name),
                outputs: [Output(folder: .quarantined(name), bytes: message.serialized(), recipients: recipients)],
                reason: reason, messageID: original.messageID)
        case .drop, .deliver:
            result = JobResult(
                outcome: .dropped, outputs: [], reason: reason, messageID: original.messageID)
        case .bounce:
            guard let sender else {
                // The copy, not the input: no forged result or Bcc rides along into failed/.
                return JobResult(
                    outcome: .failed,
                    outputs: [Output(folder: .failed, bytes: message.serialized(), recipients: [])],
                    reason: .noBounceAddress(reason), messageID: original.messageID)
            }
            result = Self.bounce(
                original, input: input, sender: sender, reason: reason,
                recipients: recipients.map { ($0, "rejected by policy") }, copy: copy, reportingHost: reportingHost)
        }
        result.annotate(policy: policy, filters: filters, profile: nil)
        return result
    }

    /// One notice per `notify` address of the decision, about this message and its outcome.
    /// `copy`: the copy of a splintered message they are about, nil for the whole message.
    func notices(
        _ decision: FilterDecision, outcome: Outcome, reason: String?, policy: String? = nil, copy: Int? = nil
    ) -> [Output] {
        decision.notifications.enumerated().map { index, address in
            let notice = Notice.make(
                to: address, about: original, outcome: outcome, reason: reason, policy: policy,
                filters: decision.acted, reportingHost: reportingHost,
                id: Self.identifier(input, copy: copy ?? 0) + (copy == nil ? "-m\(index)" : "-c\(index)"))
            return Output(
                to: .notifications, bytes: notice.serialized(), recipients: [address], policy: policy,
                filters: decision.acted)
        }
    }

    /// The filter whose final action decided (the last step that took one).
    static func decidingFilter(_ decision: FilterDecision) -> String? {
        decision.steps.last { $0.actions.contains(where: \.isFinal) }?.filter
    }

    /// A DSN for `sender`'s copy `copy` of the input.
    static func bounce(
        _ original: Entity, input: InputMessage, sender: String, reason: Reason, recipients: [(String, String)],
        copy: Int, reportingHost: String
    ) -> JobResult {
        if Envelope(original).nullReversePath {
            return JobResult(
                outcome: .dropped, outputs: [], reason: .nullReversePath(reason), messageID: original.messageID)
        }
        let dsn = DeliveryStatus(reportingHost: reportingHost).bounce(
            original: original, sender: sender, reason: reason.description,
            recipients: recipients.map { DeliveryStatus.Recipient(address: $0.0, reason: $0.1) },
            id: identifier(input, copy: copy))
        return JobResult(
            outcome: .bounced, outputs: [Output(folder: .bounced, bytes: dsn.serialized(), recipients: [sender])],
            reason: reason, messageID: original.messageID)
    }

    /// A stable identifier of the input (and copy) for generated messages' Message-IDs and boundaries.
    static func identifier(_ input: InputMessage, copy: Int) -> String {
        CMS.hex(CMS.sha256(Array(input.key.utf8), input.bytes).prefix(12)) + (copy > 0 ? "-\(copy)" : "")
    }
}
