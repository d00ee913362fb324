import CMS
import Foundation
import Keystore
import MIME
import Mailstore
import PKI
import Policy
import SMIME

/// The incoming job (SPEC F10–F14): decrypts with whichever organisation key
/// a recipient info names, verifies every signature layer, and delivers every
/// message whatever the result, with an RFC 7281 Authentication-Results field.
/// Authentication-Results fields that claim our authserv-id are removed first
/// (RFC 8601 §5), so the only one carrying it on delivered mail is ours.
/// With a policy, the first incoming policy covering the sender decides whether to
/// decrypt and verify and what happens to the signature (F12); then the message
/// filters see the results (F13, F14) and may quarantine, drop, bounce or change
/// the header of what is delivered.
public struct IncomingJob: Job {
    public typealias UnauthenticatedHTML = IncomingPolicy.UnauthenticatedHTML

    public struct Identity: Sendable {
        public let certificate: Certificate
        public let key: PrivateKey
        public init(certificate: Certificate, key: PrivateKey) {
            self.certificate = certificate
            self.key = key
        }
    }

    /// What one incoming policy (or the command line, without one) asks of a message.
    public struct Settings: Sendable {
        public var decrypt = true
        public var verify = true
        /// F12: keep the (inner) signature on delivered mail instead of removing it.
        public var keepSignature: Bool
        public var validation: SignerValidation
        public var unauthenticatedHTML: UnauthenticatedHTML
        /// The incoming policy's name (nil without a policy).
        public var policy: String?
        /// SPEC F21: harvest signers' certificates by these rules; nil: do not harvest.
        public var harvest: HarvestRules?

        public init(
            keepSignature: Bool, validation: SignerValidation, unauthenticatedHTML: UnauthenticatedHTML = .neutralise
        ) {
            self.keepSignature = keepSignature
            self.validation = validation
            self.unauthenticatedHTML = unauthenticatedHTML
        }

        /// These settings changed by what `policy` says; what it leaves out stays.
        func applying(_ policy: IncomingPolicy) -> Settings {
            var settings = self
            settings.policy = policy.name
            settings.decrypt = policy.decrypt
            settings.verify = policy.verify
            if let signature = policy.signature { settings.keepSignature = signature == .keep }
            if let html = policy.unauthenticatedHTML { settings.unauthenticatedHTML = html }
            if let accept = policy.acceptSenderMatch { settings.validation.acceptSenderMatch = accept }
            if let sha1 = policy.allowSHA1 { settings.validation.allowSHA1 = sha1 }
            if let weak = policy.allowWeak { settings.validation.allowWeak = weak }
            if let on = policy.harvest["harvest"] { settings.harvest = on ? settings.harvest ?? HarvestRules() : nil }
            if var rules = settings.harvest {
                rules.onFailure = policy.harvest["harvest-on-failure"] ?? rules.onFailure
                rules.updated = policy.harvest["harvest-updated"] ?? rules.updated
                rules.expired = policy.harvest["harvest-expired"] ?? rules.expired
                rules.selfSigned = policy.harvest["harvest-self-signed"] ?? rules.selfSigned
                settings.harvest = rules
            }
            return settings
        }

        /// Each layer's signature must be valid and trusted; the message's From (or
        /// Sender) must be covered by at least one of the signers — so an outer
        /// signature by a forwarder or a gateway (RFC 2634 triple wrap) around the
        /// author's inner one is accepted, and so is a lone author signature.
        var layerValidation: SignerValidation {
            var layer = validation
            layer.requireAddressMatch = false
            return layer
        }
    }

    public let identities: [Identity]
    /// Without a policy, for every message; with one, what its policies leave out.
    public let settings: Settings
    public let policy: PolicyDocument?
    /// The settings of each incoming policy, by name, made once per run.
    private let settingsByPolicy: [String: Settings]
    /// The authserv-id of Authentication-Results (RFC 8601 §2.5): this host's name.
    public let authservID: String
    public let reportingHost: String
    /// Domains (`*.example.com` allowed) whose addresses incoming mail may be delivered to, besides
    /// those our organisation certificates cover.
    public let localDomains: [String]
    static let maxLayers = 8

    /// The organisation keys as decryption candidates, made once per run.
    private let candidates: [(certificate: Certificate, key: PrivateKey)]

    public var direction: Direction { .incoming }
    public var profileName: String? { nil }
    public var policyDigest: String? { policy?.digest }
    public var outcomes: [Outcome] {
        [.verified, .decrypted, .unverified, .passed, .failed]
            + (policy?.quarantineNames.sorted().map(Outcome.quarantined) ?? []) + (policy == nil ? [] : [.bounced])
    }
    public var notifies: Bool { policy?.notifies ?? false }

    public init(
        identities: [Identity], validation: SignerValidation, keepSignature: Bool, authservID: String,
        unauthenticatedHTML: UnauthenticatedHTML = .neutralise, policy: PolicyDocument? = nil,
        reportingHost: String? = nil, localDomains: [String] = [], harvest: HarvestRules? = nil
    ) {
        self.identities = identities
        self.localDomains = localDomains
        self.candidates = identities.map { ($0.certificate, $0.key) }
        var settings = Settings(
            keepSignature: keepSignature, validation: validation, unauthenticatedHTML: unauthenticatedHTML)
        settings.harvest = harvest
        self.settings = settings
        self.policy = policy
        self.settingsByPolicy = Dictionary(
            (policy?.incoming ?? []).map { ($0.name, settings.applying($0)) }, uniquingKeysWith: { first, _ in first })
        self.authservID = authservID
        self.reportingHost = reportingHost ?? authservID
    }

    public func process(_ input: InputMessage) -> JobResult {
        let reading: ParsedMessage
        do {
            reading = try Entity.parseMessage(input.bytes)
        } catch {
            // Delivered as received, but never with a result that claims to be ours.
            let (bytes, removed) = AuthenticationResults.removingOurs(fromRaw: input.bytes, authservID: authservID)
            var result = JobResult.failed(input, .unreadable("\(error)"))
            result.outputs = [Output(folder: .failed, bytes: bytes, recipients: [])]
            if removed > 0 { result.warning = removedRemark(removed) }
            return result
        }
        let (message, removed, cleaned) = AuthenticationResults.removingOurs(
            from: reading.entity, authservID: authservID)
        let envelope = Envelope(message)
        let sender = envelope.sender
        // A policy file without a default behaves as if it ended with an empty one (PolicyDocument).
        let chosen =
            policy.map {
                let incoming = $0.incomingPolicy(sender: sender)
                return settingsByPolicy[incoming.name] ?? settings.applying(incoming)
            } ?? settings
        let delivery = recipients(of: message, envelope: envelope)
        var harvest: [HarvestCandidate] = []
        var result = examine(
            message, input: input, messageStart: reading.messageStart, changed: removed > 0 || cleaned > 0,
            settings: chosen, recipients: delivery.local, harvest: &harvest)
        var remarks: [String] = []
        if !delivery.outside.isEmpty {
            let named = delivery.outside.prefix(3).joined(separator: ", ") + (delivery.outside.count > 3 ? ", ..." : "")
            remarks.append("not delivered to \(delivery.outside.count) recipient(s) outside our domains: \(named)")
        }
        if removed > 0 { remarks.append(removedRemark(removed)) }
        if cleaned > 0 { remarks.append("made stray CRs or NULs in \(cleaned) header field(s) spaces") }
        let forged = remarks.isEmpty ? nil : remarks.joined(separator: "; ")
        let warnings = [reading.irregularity.map { "\($0)" }, forged, result.warning].compactMap { $0 }
        result.warning = warnings.isEmpty ? nil : warnings.joined(separator: "; ")
        if let policy { result = filtered(result, policy: policy, settings: chosen, input: input, received: message) }
        result.sender = envelope.reversePath
        result.harvest = harvest
        result.harvestRules = chosen.harvest ?? HarvestRules()
        return result
    }

    /// F13/F14: the message filters act on what would be delivered, knowing the results.
    private func filtered(
        _ result: JobResult, policy: PolicyDocument, settings: Settings, input: InputMessage, received: Entity
    ) -> JobResult {
        var result = result
        result.annotate(policy: settings.policy, filters: [], profile: nil)
        guard !policy.messageFilters.isEmpty, result.outputs.count == 1 else { return result }
        // Read as liberally as the input was: a header that runs into the body must not skip the filters.
        // Failed closed, as received but without forged results.
        func failed(_ reason: Reason) -> JobResult {
            JobResult(
                outcome: .failed, outputs: [Output(folder: .failed, bytes: received.serialized(), recipients: [])],
                reason: reason, messageID: received.messageID, warning: result.warning)
        }
        guard var delivered = try? Entity.parseMessage(result.outputs[0].bytes).entity else {
            return failed(.unreadable("the message filters cannot read the message"))
        }
        let envelope = Envelope(received)
        let context = FilterContext(
            mailFrom: envelope.sender, recipients: envelope.recipients,
            encrypted: SMIMEForm.isEncrypted(delivered), size: input.bytes.count, smimeMessage: result.smime,
            smimeVerified: result.outcome == .verified, smimeAuthenticated: result.authenticated == true)
        let before = delivered
        let decision: FilterDecision
        do {
            decision = try FilterEvaluator.run(policy.messageFilters, on: &delivered, context: context)
        } catch {
            return failed(.filterFailed(error))
        }
        // Whatever header actions did, the only Authentication-Results claiming our authserv-id is the one
        // this job added, on top (RFC 8601 §5): a filter cannot forge a pass, nor strip ours.
        let ours = [.verified, .decrypted, .unverified].contains(result.outcome) ? before.fields.first : nil
        delivered = AuthenticationResults.removingOurs(from: delivered, authservID: authservID).message
        if let ours { delivered.fields.insert(ours, at: 0) }
        let disposer = Disposer(input: input, original: received, sender: envelope.sender, reportingHost: reportingHost)
        if decision.disposition != .deliver {
            var disposed = disposer.dispose(
                delivered, decision, recipients: result.outputs[0].recipients, policy: settings.policy, copy: 0)
            disposed.reason = Reason.joined([disposed.reason, result.reason])
            (disposed.signer, disposed.warning, disposed.authenticated, disposed.revocation) = (
                result.signer, result.warning, result.authenticated, result.revocation
            )
            result = disposed
        } else if delivered != before {
            result.outputs[0] = Output(
                to: result.outputs[0].folder, bytes: delivered.serialized(), recipients: result.outputs[0].recipients)
        }
        result.annotate(policy: settings.policy, filters: decision.acted, profile: nil)
        result.outputs += disposer.notices(
            decision, outcome: result.outcome, reason: result.reason?.description, policy: settings.policy)
        return result
    }

    private func removedRemark(_ count: Int) -> String {
        "removed \(count) Authentication-Results field(s) claiming \(authservID)"
    }

    /// `messageStart`: where the message begins in the input (after an mbox envelope line);
    /// `changed`: the message is no longer the input's bytes (fields were removed).
    /// Whom incoming mail is delivered to: the envelope recipient the receiving MTA wrote on top
    /// (the first Delivered-To, else X-Original-To), else the header's To, Cc and Bcc — and of
    /// those only addresses that are ours: covered by an organisation certificate or in
    /// `localDomains`. The header is the sender's to write: without this, a ciphertext meant for
    /// us, resent with `To: someone@elsewhere`, would be decrypted and delivered there.
    func recipients(of message: Entity, envelope: Envelope) -> (local: [String], outside: [String]) {
        // Only the block of fields a delivering MTA prepends counts; a Delivered-To further down is the sender's.
        let top = message.fields.prefix {
            $0.hasName("Return-Path") || $0.hasName("Delivered-To") || $0.hasName("X-Original-To")
        }
        let delivered = ["Delivered-To", "X-Original-To"].lazy.compactMap { name in
            top.first { $0.hasName(name) }.flatMap { Address.first($0.value) }
        }.first
        let candidates = delivered.map { [$0] } ?? envelope.recipients
        var local: [String] = []
        var outside: [String] = []
        for address in candidates {
            let domain = Address.domain(address) ?? ""
            let ours =
                !Self.routes(address)
                && (identities.contains { AddressMatch.covers($0.certificate, address) }
                    || localDomains.contains { AddressMatch.domainMatches(pattern: $0, domain: domain) })
            if ours { local.append(address) } else { outside.append(address) }
        }
        return (local, outside)
    }

    /// Whether the local part could route elsewhere at the next MTA: a quoted part (`"c@evil"@ours`),
    /// the percent hack (`a%evil@ours`) or a bang path (`evil!b@ours`), which Postfix honours by default.
    static func routes(_ address: String) -> Bool {
        guard let at = address.lastIndex(of: "@") else { return true }
        let local = address[..<at]
        return local.contains { $0 == "\"" || $0 == "%" || $0 == "!" || $0 == "@" }
    }

    private func examine(
        _ message: Entity, input: InputMessage, messageStart: Int, changed: Bool, settings: Settings,
        recipients: [String], harvest: inout [HarvestCandidate]
    ) -> JobResult {
        var current = message
        var innermostSigned: Entity? = nil
        var decrypted = false
        /// The first envelope whose cipher does not protect integrity (CBC).
        var unprotected: ContentEncryption? = nil
        var signers: [Certificate] = []
        var weaknesses: [AlgorithmWeakness] = []
        /// Certificates of the trusted signers' paths whose revocation no CRL or OCSP answer decided.
        var undecided: [UnknownRevocation] = []
        var layers = 0
        /// Why processing stopped before the content (an incoming policy said not to decrypt or verify).
        var notProcessed: Reason? = nil
        /// What an unverified result delivers: the message as received until a layer is decrypted, then the
        /// decrypted message, its signature as received — never ciphertext nobody behind the gateway can read.
        var readable = message
        /// The last envelope decrypted from a cipher without integrity (CBC) that no valid signature inside it
        /// covers yet (a signature around the ciphertext does not: whoever signs it may have altered it), and
        /// any mark of tampering in its signed plaintext.
        var uncovered: (encryption: ContentEncryption, mark: MalformedContent?)? = nil
        /// The time the last signature checked was judged at.
        var moment: ValidationMoment? = nil
        /// The innermost layer's own fields other than Content-* (RFC 9788's protected fields when the payload
        /// says `hp=`), and whether that layer was a valid signature (else an envelope: nothing vouches for them).
        var payloadFields: [HeaderField] = []
        var payloadSigned = false

        /// Unverified: the RFC 8551 result is the signature's own, else permerror. `asReceived`: the decrypted
        /// content is not delivered (it looks tampered with), the message as received is. `intact`: the
        /// signature checks out over its content and failed on trust (an expired or unknown signer): changed
        /// ciphertext would have broken it, so CBC plaintext it signs is what its signer wrote.
        func unverified(_ reason: Reason, detail: String? = nil, asReceived: Bool = false, intact: Bool = false)
            -> JobResult
        {
            var code = "permerror"
            if case .signatureFailed(let own, _) = reason { code = own }
            var text = detail.map { "\(reason); \($0)" } ?? reason.description
            var delivered = asReceived ? message : readable
            var warning: String? = nil
            if let (encryption, mark) = uncovered, decrypted, !asReceived {
                // Content no valid signature covers, decrypted from a cipher without integrity: as for unsigned CBC.
                if let mark {
                    delivered = message
                    text += "; \(MalformedContent.reason): \(mark); delivered as received"
                } else if !intact, case .signedOpaque = try? SMIMEForm.classify(readable) {
                    delivered = message  // its HTML is inside the CMS, out of the neutraliser's reach
                    text += "; opaque signed content decrypted from \(encryption.name) is delivered as received"
                } else if settings.unauthenticatedHTML == .neutralise {
                    let (neutralised, count) = HTMLNeutraliser.neutraliseParts(of: readable)
                    if count > 0 {
                        delivered = neutralised
                        warning =
                            "neutralised \(count) remote reference(s) in HTML decrypted without integrity protection "
                            + "(\(encryption.name)) and not covered by a valid signature"
                    }
                }
            }
            if decrypted && delivered == readable { text += "; delivered decrypted" }
            let field = "\(authservID); smime=\(code) (\(Self.comment(text)))"
            var result = JobResult(
                outcome: .unverified,
                outputs: [
                    Output(folder: .unverified, bytes: Self.adding(field, to: delivered), recipients: recipients)
                ],
                reason: reason, signer: signers.last.map { $0.emailAddresses.first ?? $0.subject },
                messageID: message.messageID, warning: warning, authenticated: false)
            result.smime = true
            result.moment = moment
            return result
        }

        var done = false
        while !done {
            if layers == Self.maxLayers { return unverified(.tooManyLayers(Self.maxLayers)) }
            let form: SMIMEForm
            do {
                form = try SMIMEForm.classify(current)
            } catch {
                return unverified(.malformed("\(error)"))
            }
            switch form {
            case .notSMIME:
                done = true
                continue
            case .certsOnly, .unsupported:
                return unverified(.unsupported("unsupported S/MIME content"))
            case .enveloped where !settings.decrypt:
                notProcessed = .notDecrypted(policy: settings.policy ?? "default")
                done = true
                continue
            case .signedOpaque where !settings.verify, .signedDetached where !settings.verify:
                notProcessed = .notVerified(policy: settings.policy ?? "default")
                done = true
                continue
            case .enveloped:
                do {
                    let decryption = try SMIME.decryption(current, form: form, candidates: candidates)
                    // CBC's lack of integrity shows in the result, and tampered-looking plaintext is not
                    // delivered — even inside a valid signature, which may be the tamperer's own.
                    if !decryption.encryption.authenticated {
                        unprotected = unprotected ?? decryption.encryption
                        if let malformation = decryption.malformation {
                            return unverified(
                                .malformed(MalformedContent.reason),
                                detail: "\(malformation); \(decryption.encryption.name) has no integrity protection",
                                asReceived: true)
                        }
                        uncovered = (decryption.encryption, decryption.malformationUnderSignature)
                    }
                    current = decryption.message
                    payloadFields = decryption.innerFields
                    payloadSigned = false
                    decrypted = true
                    readable = current
                } catch let error as SMIMEError where error.kind == .notAddressed {
                    return unverified(.notAddressed)
                } catch {
                    return unverified(.decryptionFailed("\(error)"))
                }
            case .signedOpaque, .signedDetached:
                // The signed layer's own header is not signed: two Content-Types or boundaries there
                // would let a client show other content next to the pass than the one verified.
                if let ambiguity = MalformedContent.ambiguity(in: current) {
                    return unverified(.malformed("ambiguous MIME around the signature: \(ambiguity)"))
                }
                let verification: Verification
                do {
                    verification = try SMIME.verify(current, form: form, validation: settings.layerValidation)
                } catch {
                    return unverified(.signatureFailed(result: "permerror", "\(error)"))
                }
                moment = verification.moment ?? moment
                if let certificate = verification.signer {
                    signers.append(certificate)
                    if let rules = settings.harvest, verification.passed || rules.onFailure {
                        // Only the CAs of the validated path: never what else a sender put in the message.
                        let issuers = verification.path.dropFirst().filter { $0.isCA && !$0.isSelfSigned }
                        harvest.append(
                            HarvestCandidate(
                                certificate: certificate, intermediates: verification.passed ? Array(issuers) : [],
                                verified: verification.passed, capabilities: verification.capabilities,
                                message: message.messageID ?? input.key))
                    }
                }
                if case .unknown(let list) = verification.revocation {
                    undecided += list.filter { !undecided.contains($0) }  // one signer's layers name it once
                }
                guard verification.passed, let unwrapped = verification.unwrapped else {
                    if let failure = verification.verdict.failure {
                        return unverified(
                            .signatureFailed(result: failure.result.rawValue, failure.reason),
                            intact: failure.result == .fail && failure.kind != .badSignature)
                    }
                    return unverified(.signatureFailed(result: "fail", "signature not verified"))
                }
                weaknesses += verification.acceptedWeaknesses
                innermostSigned = current
                current = unwrapped
                payloadFields = verification.innerFields
                payloadSigned = true
                uncovered = nil  // a valid signature over the plaintext vouches for it
            }
            layers += 1
        }
        if layers == 0 {  // not S/MIME, or not to be processed: delivered unchanged (but for forged results)
            let unchanged =
                changed ? message.serialized() : messageStart == 0 ? input.bytes : Array(input.bytes[messageStart...])
            var result = JobResult(
                outcome: .passed, outputs: [Output(folder: .passed, bytes: unchanged, recipients: recipients)],
                reason: notProcessed, messageID: message.messageID, authenticated: false)
            result.smime = notProcessed != nil
            return result
        }
        /// F36: the payload's protected header fields on the delivered message (RFC 9788), when it has them.
        func promoted(into delivered: Entity) -> HeaderProtection.Promotion? {
            HeaderProtection.promote(
                into: delivered, payloadType: current.field("Content-Type"), inner: payloadFields,
                signed: payloadSigned,
                encrypted: decrypted)
        }
        if let signed = innermostSigned, !signers.isEmpty {
            let identifier: String
            var delivered = settings.keepSignature ? signed : current
            let promotion = promoted(into: delivered)
            // A protected From is the one delivered: the signer must speak for it, whatever the outer one says.
            let protectedFrom = payloadSigned && promotion?.promoted.contains("from") == true
            let author = SMIME.authorIdentity(
                of: protectedFrom ? promotion!.entity : message, signers: signers,
                acceptSenderMatch: settings.validation.acceptSenderMatch)
            switch author {
            case .failure(let failure) where protectedFrom:
                return unverified(
                    .signatureFailed(result: "fail", "protected From not covered"), detail: failure.reason)
            case .failure(let failure):
                return unverified(.signatureFailed(result: failure.result.rawValue, failure.reason))
            case .success(let address): identifier = address
            }
            var warning: String? = nil
            /// Plaintext from CBC that only a signature around its ciphertext covers: whoever signed may have
            /// altered it (EFAIL), so it is not authenticated and its HTML is neutralised.
            var outside: String? = nil
            if let (encryption, _) = uncovered {
                outside = "content decrypted from \(encryption.name) outside the signature has no integrity protection"
                if settings.unauthenticatedHTML == .neutralise {
                    let (neutralised, count) = HTMLNeutraliser.neutraliseParts(of: delivered)
                    if count > 0 {
                        delivered = neutralised
                        warning = "neutralised \(count) remote reference(s) in HTML \(outside!)"
                    }
                }
            }
            if let promotion, let again = promoted(into: delivered) {  // again: the HTML may have been neutralised
                delivered = again.entity
                if let note = promotion.warning { warning = warning.map { "\($0); \(note)" } ?? note }
            }
            let weak = Self.comment(weaknesses.map(\.description).joined(separator: ", "))
            let revocation = undecided.isEmpty ? "good" : RevocationStatus.unknown(undecided).description
            let judged = moment.flatMap { $0.source == .now ? nil : Self.comment("validated at \($0)") }
            var notes: [String] = weaknesses.isEmpty ? [] : ["weak algorithms accepted: \(weak)"]
            if !undecided.isEmpty { notes.append(Self.comment("revocation " + revocation)) }
            notes += [judged, outside, promotion.map { Self.comment($0.note) }].compactMap { $0 }
            let accepted = notes.isEmpty ? "" : " (\(notes.joined(separator: "; ")))"
            let field = "\(authservID); smime=pass\(accepted) body.smime-identifier=\(identifier)"
            var result = JobResult.foundSMIME(
                outcome: .verified,
                outputs: [Output(folder: .verified, bytes: Self.adding(field, to: delivered), recipients: recipients)],
                signer: identifier, messageID: message.messageID, warning: warning, authenticated: outside == nil)
            result.revocation = revocation
            result.moment = moment
            return result
        }
        guard decrypted else { return unverified(.unsupported("no signature or envelope could be processed")) }
        // Verification turned off by the incoming policy: the content may well be signed, and says so.
        let unchecked = notProcessed.map { "; \(Self.comment($0.description))" } ?? ""
        // Unsigned: RFC 9788's protected fields restore only what the sender hid (`HeaderProtection.promote`).
        let promotion = promoted(into: current)
        let header = promotion.map { "; " + Self.comment($0.note) } ?? ""
        guard let unprotected else {
            let what = notProcessed == nil ? "encrypted, not signed" : "decrypted\(unchecked)"
            let field = "\(authservID); smime=neutral (\(what)\(header))"
            return JobResult.foundSMIME(
                outcome: .decrypted,
                outputs: [
                    Output(
                        folder: .decrypted, bytes: Self.adding(field, to: promotion?.entity ?? current),
                        recipients: recipients)
                ],
                reason: notProcessed, messageID: message.messageID, warning: promotion?.warning, authenticated: true)
        }
        let field =
            "\(authservID); smime=neutral (encrypted without integrity protection, \(unprotected.name)\(unchecked)"
            + "\(header))"
        var delivered = promotion?.entity ?? current
        var warning: String? = promotion?.warning
        if settings.unauthenticatedHTML == .neutralise {
            let (neutralised, count) = HTMLNeutraliser.neutraliseParts(of: delivered)
            if count > 0 {
                delivered = neutralised
                let neutralisedNote =
                    "neutralised \(count) remote reference(s) in HTML decrypted without integrity protection"
                warning = [warning, neutralisedNote].compactMap { $0 }.joined(separator: "; ")
            }
        }
        return JobResult.foundSMIME(
            outcome: .decrypted,
            outputs: [Output(folder: .decrypted, bytes: Self.adding(field, to: delivered), recipients: recipients)],
            reason: notProcessed, messageID: message.messageID, warning: warning, authenticated: false)
    }

    /// The message with an Authentication-Results field on top (RFC 8601 §5: added fields go first), and
    /// without HP-Outer fields: outside a protected payload they are nobody's record (RFC 9788 §2.2).
    static func adding(_ value: String, to message: Entity) -> [UInt8] {
        var copy = message
        copy.removeFields(named: "HP-Outer")
        copy.fields.insert(HeaderField(name: "Authentication-Results", value: value), at: 0)
        return copy.serialized()
    }

    /// A reason made safe for a header comment: one line, no parentheses or backslashes.
    static func comment(_ reason: String) -> String {
        // On scalars, not Characters: grapheme breaking cost ~140k instructions a message (callgrind).
        var kept = String.UnicodeScalarView()
        for scalar in reason.unicodeScalars.prefix(300) {
            let unsafe = scalar == "(" || scalar == ")" || scalar == "\\" || scalar == "\r" || scalar == "\n"
            kept.append(unsafe ? " " : scalar)
        }
        return String(kept)
    }
}
