import CMS
import Foundation
import MIME
import Mailstore
import PKI
import Policy
import SMIME

/// The outgoing job (SPEC F1–F9). Without a policy, one sending profile applies
/// to every message. With one: the message filters run on the whole message;
/// each recipient is matched to the first outgoing policy covering the sender
/// and that recipient; recipients of different policies get separate copies (the
/// appliance's message splintering); each copy runs its policy's content filters,
/// then is transformed with the profile they chose — or passes unchanged when
/// none chose one.
public struct OutgoingJob: Job {
    /// Without a policy: the profile for all mail.
    public let single: ProfileTransform?
    public let policy: PolicyDocument?
    /// The profiles the policy's filters name, by name.
    public let transforms: [String: ProfileTransform]
    public let recipients: RecipientDirectory
    public let reportingHost: String

    public var direction: Direction { .outgoing }
    public var profileName: String? { single?.profile.name }
    public var policyDigest: String? { policy?.digest }
    public var outcomes: [Outcome] {
        [.signed, .encrypted, .split, .bounced, .passed, .failed]
            + (policy?.quarantineNames.sorted().map(Outcome.quarantined) ?? [])
    }
    public var notifies: Bool { policy?.notifies ?? false }

    /// One profile for every message (`--profile`).
    public init(profile: SendingProfile, signer: Signer?, recipients: RecipientDirectory, reportingHost: String) {
        self.single = ProfileTransform(profile: profile, signer: signer, at: recipients.time)
        self.policy = nil
        self.transforms = [:]
        self.recipients = recipients
        self.reportingHost = reportingHost
    }

    /// Decisions by `policy`; `profiles` must hold every profile it names.
    public init(
        policy: PolicyDocument, profiles: [(SendingProfile, Signer?)], recipients: RecipientDirectory,
        reportingHost: String
    ) throws {
        let transforms = Dictionary(
            profiles.map { ($0.0.name, ProfileTransform(profile: $0.0, signer: $0.1, at: recipients.time)) },
            uniquingKeysWith: { first, _ in first })
        if let missing = policy.profileNames.subtracting(transforms.keys).sorted().first {
            throw PipelineError("the policy names the sending profile \"\(missing)\", which does not exist")
        }
        self.single = nil
        self.policy = policy
        self.transforms = transforms
        self.recipients = recipients
        self.reportingHost = reportingHost
    }

    public func process(_ input: InputMessage) -> JobResult {
        let reading: ParsedMessage
        do {
            reading = try Entity.parseMessage(input.bytes)
        } catch {
            return .failed(input, .unreadable("\(error)"))
        }
        let parsed = reading.entity
        do {
            do {
                return try decide(parsed, input: input, irregularity: reading.irregularity)
            } catch let irregularity as Irregularity {
                // A sloppy mailer's structure (issue 8): processed as one opaque leaf, not failed.
                return try decide(parsed, input: input, irregularity: irregularity)
            }
        } catch let error as FilterError {
            return .failed(input, .filterFailed(error), messageID: parsed.messageID)
        } catch {
            return .failed(input, .processingFailed("\(error)"), messageID: parsed.messageID)
        }
    }

    private func decide(_ parsed: Entity, input: InputMessage, irregularity: Irregularity?) throws -> JobResult {
        let envelope = Envelope(parsed)
        var result = try decide(parsed, envelope: envelope, input: input, irregularity: irregularity)
        result.sender = envelope.reversePath
        return result
    }

    private func decide(
        _ parsed: Entity, envelope: Envelope, input: InputMessage, irregularity: Irregularity?
    ) throws -> JobResult {
        var message = parsed
        message.removeFields(named: "Bcc")  // DESIGN.md: Bcc is removed from every output
        guard let policy else {
            guard let single else { throw PipelineError("no sending profile and no policy") }
            return try transform(
                message, with: single, parsed: parsed, sender: envelope.sender, recipients: envelope.recipients,
                input: input, copy: 0, irregularity: irregularity)
        }
        let plan = try self.plan(message, envelope: envelope, size: input.bytes.count, policy: policy)
        let disposer = Disposer(
            input: input, original: parsed, sender: envelope.sender, reportingHost: reportingHost)
        if plan.messageDecision.disposition != .deliver {
            var result = disposer.dispose(
                plan.message, plan.messageDecision, recipients: envelope.recipients, policy: nil, copy: 0)
            result.outputs += disposer.notices(
                plan.messageDecision, outcome: result.outcome, reason: result.reason?.description)
            return result
        }
        var copies: [JobResult] = []
        var notices: [Output] = []
        for (index, copy) in plan.copies.enumerated() {
            let decision = copy.decision
            var result: JobResult
            if decision.disposition != .deliver {
                result = disposer.dispose(
                    copy.message, decision, recipients: copy.recipients, policy: copy.policy.name, copy: index)
            } else if let name = decision.profile {
                guard let chosen = transforms[name] else { throw PipelineError("no sending profile \"\(name)\"") }
                result = try transform(
                    copy.message, with: chosen, parsed: parsed, sender: envelope.sender, recipients: copy.recipients,
                    input: input, copy: index, irregularity: irregularity)
                if result.outcome == .failed {
                    // Whoever retries failed/ must know whom this copy was for: the other copies went out.
                    result.outputs = result.outputs.map {
                        Output(to: $0.folder, bytes: $0.bytes, recipients: copy.recipients)
                    }
                }
                result.annotate(policy: copy.policy.name, filters: decision.acted, profile: name)
            } else {
                result = JobResult(
                    outcome: .passed,
                    outputs: [
                        Output(
                            folder: .passed, bytes: copy.message.serialized(), recipients: copy.recipients,
                            policy: copy.policy.name, filters: decision.acted)
                    ], reason: plan.passReason(copy), messageID: parsed.messageID)
            }
            notices += disposer.notices(
                decision, outcome: result.outcome, reason: result.reason?.description, policy: copy.policy.name,
                copy: index)
            copies.append(result)
        }
        var result = JobResult.combining(copies, policies: plan.copies.map(\.policy.name))
        // Notices a message filter asked for describe the whole message's outcome.
        result.outputs +=
            disposer.notices(
                plan.messageDecision, outcome: result.outcome, reason: result.reason?.description) + notices
        return result
    }

    /// What the policy decides for a message (Bcc already removed), before any cryptography:
    /// the message filters, then one copy per policy with its content filters' decision.
    /// `process` carries the plan out; `policy trace` prints it.
    /// A filter whose condition cannot be decided on this message throws: the message fails, closed.
    public func plan(
        _ message: Entity, envelope: Envelope, size: Int, policy: PolicyDocument
    ) throws(FilterError) -> OutgoingPlan {
        var message = message
        var context = FilterContext(
            mailFrom: envelope.sender, recipients: envelope.recipients, encrypted: SMIMEForm.isEncrypted(message),
            size: size)
        let body = MessageFacts.BodyCache()  // walked once for all runs: filters never change the body
        let messageDecision = try FilterEvaluator.run(
            policy.messageFilters, on: &message, context: context, body: body)
        guard messageDecision.disposition == .deliver else {
            return OutgoingPlan(
                message: message, messageDecision: messageDecision, copies: [], encrypted: context.encrypted)
        }
        var copies: [OutgoingPlan.Copy] = []
        for group in policy.splinter(sender: envelope.sender, recipients: envelope.recipients) {
            var copy = message
            context.recipients = group.recipients
            var decision = try FilterEvaluator.run(
                policy.contentFilters(of: group.policy), on: &copy, context: context, body: body)
            decision.steps = messageDecision.steps + decision.steps
            copies.append(
                OutgoingPlan.Copy(policy: group.policy, recipients: group.recipients, message: copy, decision: decision)
            )
        }
        return OutgoingPlan(
            message: message, messageDecision: messageDecision, copies: copies, encrypted: context.encrypted)
    }

    private func transform(
        _ message: Entity, with chosen: ProfileTransform, parsed: Entity, sender: String?, recipients: [String],
        input: InputMessage, copy: Int, irregularity: Irregularity?
    ) throws -> JobResult {
        var result = try chosen.apply(
            to: message, original: parsed, recipients: recipients, sender: sender, job: self,
            input: input, copy: copy, irregularity: irregularity)
        result.warning = irregularity.map { chosen.warning(for: $0, outcome: result.outcome) }
        return result
    }

    func bounce(
        _ original: Entity, input: InputMessage, sender: String, reason: Reason, recipients: [(String, String)],
        copy: Int
    ) -> JobResult {
        Disposer.bounce(
            original, input: input, sender: sender, reason: reason, recipients: recipients, copy: copy,
            reportingHost: reportingHost)
    }
}
