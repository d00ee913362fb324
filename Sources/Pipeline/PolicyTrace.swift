import MIME
import PKI
import Policy
import SMIME

/// `policy trace`: why a policy would treat a message as it does — the message
/// filters, then per recipient the mail policy chosen, every filter looked at and
/// the actions it took, the sending profile and the outcome to expect. It runs the
/// same decisions as `process` (the plan), with no cryptography and nothing written. A filter
/// that cannot decide on the message throws its `FilterError`, as the message would fail.
public enum PolicyTrace {
    public static func outgoing(_ bytes: [UInt8], job: OutgoingJob) throws -> [String] {
        guard let policy = job.policy else { throw PipelineError("no policy to trace") }
        let parsed = try Entity.parseMessage(bytes).entity
        let envelope = Envelope(parsed)
        var message = parsed
        message.removeFields(named: "Bcc")
        let plan = try job.plan(message, envelope: envelope, size: bytes.count, policy: policy)
        var lines = header(parsed, envelope)
        if plan.encrypted { lines.append("the message is S/MIME-encrypted already") }
        lines.append("message filters:")
        lines += steps(plan.messageDecision.steps, indent: "  ")
        if plan.messageDecision.disposition != .deliver {
            lines.append("every recipient: \(describe(plan.messageDecision.disposition)) by the message filters")
            return lines + notices(plan.messageDecision)
        }
        let messageSteps = plan.messageDecision.steps.count
        for copy in plan.copies {
            let decision = copy.decision
            let contentSteps = Array(decision.steps.dropFirst(messageSteps))
            for recipient in copy.recipients.isEmpty ? ["(no recipients)"] : copy.recipients {
                lines.append("\(recipient): policy \(copy.policy.name)")
                lines += steps(contentSteps, indent: "  ", kind: "content filter ")
                lines.append("  " + outcome(decision, for: recipient, job: job, plan: plan, copy: copy))
            }
            lines += notices(decision)
        }
        return lines + notices(plan.messageDecision)
    }

    /// Incoming: the incoming policy for the sender, then the message filters under each
    /// result the (skipped) cryptography could give — on the message as `process` gives them
    /// it, without the Authentication-Results fields that claim `authservID`.
    public static func incoming(_ bytes: [UInt8], policy: PolicyDocument, authservID: String) throws -> [String] {
        let (parsed, removed, _) = AuthenticationResults.removingOurs(
            from: try Entity.parseMessage(bytes).entity, authservID: authservID)
        let envelope = Envelope(parsed)
        var lines = header(parsed, envelope)
        if removed > 0 { lines.append("removed \(removed) Authentication-Results field(s) claiming \(authservID)") }
        let chosen = policy.incomingPolicy(sender: envelope.sender)
        var settings = ["decrypt \(chosen.decrypt ? "yes" : "no")", "verify \(chosen.verify ? "yes" : "no")"]
        if let signature = chosen.signature { settings.append("signature \(signature.rawValue)") }
        lines.append("incoming policy \(chosen.name): " + settings.joined(separator: ", "))
        // Content that looks like S/MIME but cannot be classified still counts as S/MIME (it would be unverified).
        var isSMIME = true
        if case .notSMIME? = try? SMIMEForm.classify(parsed) { isSMIME = false }
        lines.append(isSMIME ? "S/MIME: yes (\(parsed.contentType.mediaType))" : "S/MIME: no")
        // A policy that turns decryption (of encrypted mail) or verification off never verifies.
        let canVerify = chosen.verify && (chosen.decrypt || !SMIMEForm.isEncrypted(parsed))
        let scenarios: [(String, Bool)] =
            !isSMIME
            ? [("", false)]
            : canVerify
                ? [("if the signature verifies", true), ("if it does not verify", false)]
                : [("not verified: the incoming policy turns it off", false)]
        for (label, verified) in scenarios {
            var message = parsed
            let context = FilterContext(
                mailFrom: envelope.sender, recipients: envelope.recipients, encrypted: SMIMEForm.isEncrypted(parsed),
                size: bytes.count, smimeMessage: isSMIME, smimeVerified: verified, smimeAuthenticated: verified)
            let decision = try FilterEvaluator.run(policy.messageFilters, on: &message, context: context)
            lines.append("message filters" + (label.isEmpty ? "" : " (\(label))") + ":")
            lines += steps(decision.steps, indent: "  ")
            lines.append("  result: \(describe(decision.disposition))")
            lines += notices(decision)
        }
        return lines
    }

    private static func header(_ message: Entity, _ envelope: Envelope) -> [String] {
        [
            "message \(message.messageID.map { "<\($0)>" } ?? "(no Message-ID)")",
            "sender \(envelope.sender ?? "(none)"); recipients \(envelope.recipients.joined(separator: ", "))",
        ]
    }

    private static func steps(_ steps: [FilterDecision.Step], indent: String, kind: String = "") -> [String] {
        if steps.isEmpty { return [indent + "(none)"] }
        return steps.map { step in
            let actions = step.actions.map(\.description).joined(separator: ", ")
            let state = step.matched ? "matched" : "no match"
            return indent + kind + step.filter + ": " + state + (actions.isEmpty ? "" : " → " + actions)
        }
    }

    private static func notices(_ decision: FilterDecision) -> [String] {
        decision.notifications.map { "  notice to \($0)" }
    }

    private static func describe(_ disposition: FilterDecision.Disposition) -> String {
        switch disposition {
        case .deliver: return "delivered"
        case .quarantine(let name): return "quarantined (quarantined/\(name))"
        case .drop: return "dropped"
        case .bounce: return "bounced"
        }
    }

    /// The outcome to expect for one recipient of a copy.
    private static func outcome(
        _ decision: FilterDecision, for recipient: String, job: OutgoingJob, plan: OutgoingPlan,
        copy: OutgoingPlan.Copy
    ) -> String {
        guard decision.disposition == .deliver else { return "outcome: " + describe(decision.disposition) }
        guard let name = decision.profile, let profile = job.transforms[name]?.profile else {
            return "outcome: passed (\(plan.passReason(copy)))"
        }
        let how = "profile \(name) (\(decision.finalTransform ? "final" : "deferred"), mode \(profile.mode.rawValue))"
        guard profile.mode.encrypts else { return "\(how) → signed" }
        if job.recipients.certificate(for: recipient) != nil { return "\(how) → encrypted" }
        switch profile.missingKey {
        case .bounce: return "\(how) → bounced (no usable certificate for this recipient)"
        case .drop: return "\(how) → dropped (no usable certificate for this recipient)"
        case .split:
            return "\(how) → split (no usable certificate: " + (profile.mode.signs ? "a signed" : "a clear")
                + " copy)"
        }
    }
}
