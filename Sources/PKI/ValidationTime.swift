import CMS
import Foundation

/// The time a signature is judged at (`--validation-time`): the run's time, a given time, or the time
/// the signature was made — an archive's signatures were valid when made, though their certificates
/// have long expired.
public enum ValidationTime: Sendable, Equatable, CustomStringConvertible {
    case now
    case at(Date)
    /// The signer's RFC 3161 time-stamp token when one is present and valid, else its signingTime attribute.
    case signingTime

    /// `now`, `signing-time`, `YYYY-MM-DD` (midnight UTC) or `YYYY-MM-DDTHH:MM:SSZ`.
    public init?(argument: String) {
        switch argument {
        case "now": self = .now
        case "signing-time": self = .signingTime
        default:
            // ASCII digits only, and a date that reads back as written: no 2016-02-30, no 24:00:00.
            guard argument.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }
            let formatter = ISO8601DateFormatter()
            if argument.count == 10 { formatter.formatOptions = [.withFullDate] }
            guard let date = formatter.date(from: argument), formatter.string(from: date) == argument,
                date >= Date(timeIntervalSince1970: 0)
            else { return nil }
            self = .at(date)
        }
    }

    public var description: String {
        switch self {
        case .now: return "now"
        case .signingTime: return "signing-time"
        case .at(let date): return ValidationMoment.format(date)
        }
    }
}

/// The time one signature was judged at, and where it came from (the result field and the manifest say).
public struct ValidationMoment: Sendable, Equatable, CustomStringConvertible {
    public enum Source: String, Sendable {
        case now, given
        case signingTime = "signing-time"
        case timestamp
    }

    public let time: Date
    public let source: Source
    /// The time-stamping authority, or why a time-stamp token the signature carries was not used.
    public let note: String?

    public init(time: Date, source: Source, note: String? = nil) {
        self.time = time
        self.source = source
        self.note = note
    }

    /// "2016-06-01T12:00:00Z, signing time" (no parentheses: it goes into header comments).
    public var description: String {
        let from: String
        switch source {
        case .now: from = "now"
        case .given: from = "given"
        case .signingTime: from = "signing time"
        case .timestamp: from = "time-stamp token"
        }
        return "\(Self.format(time)), \(from)" + (note.map { "; \($0)" } ?? "")
    }

    static func format(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
}

extension SignerValidation {
    /// How far a claimed time may lie ahead of this machine's clock.
    static let clockSkew: TimeInterval = 300

    /// The time to judge a signature by `signer` at. For `signingTime`: a time-stamp token that verifies,
    /// whose authority is for time-stamping only and has a valid path at the token's time, wins; else the
    /// signed signingTime attribute, which must lie inside the signer certificate's validity (it is the
    /// signer's own claim: a stolen key can backdate it; a token cannot be backdated).
    public func moment(signingTime: Date?, timestamp: TimestampEvidence?, signer: Certificate) -> Result<
        ValidationMoment, SignerProblem
    > {
        switch validationTime {
        case .now: return .success(ValidationMoment(time: time, source: .now))
        case .at(let date):
            if let signingTime, signingTime > date.addingTimeInterval(Self.clockSkew) {
                let reason =
                    "signingTime \(ValidationMoment.format(signingTime)) lies after the validation time "
                    + ValidationMoment.format(date)
                return .failure(SignerProblem(.signingTime, reason))
            }
            return .success(ValidationMoment(time: date, source: .given))
        case .signingTime: break
        }
        var unused: String? = nil
        if let timestamp {
            switch timestampTime(timestamp) {
            case .success(let moment): return .success(moment)
            case .failure(let problem): unused = "time-stamp token not used: \(problem.reason)"
            }
        }
        let suffix = unused.map { "; \($0)" } ?? ""
        guard let signingTime else {
            return .failure(SignerProblem(.signingTime, "no signingTime attribute to validate at\(suffix)"))
        }
        let claimed = ValidationMoment.format(signingTime)
        if signingTime > time.addingTimeInterval(Self.clockSkew) {
            return .failure(SignerProblem(.signingTime, "signingTime \(claimed) lies in the future\(suffix)"))
        }
        guard signingTime >= signer.notBefore && signingTime <= signer.notAfter else {
            let validity = "\(ValidationMoment.format(signer.notBefore)) to \(ValidationMoment.format(signer.notAfter))"
            return .failure(
                SignerProblem(
                    .signingTime,
                    "signingTime \(claimed) lies outside the signer certificate's validity (\(validity))\(suffix)"))
        }
        return .success(ValidationMoment(time: signingTime, source: .signingTime, note: unused))
    }

    /// A time-stamp token's time, once the token and its authority are trusted.
    private func timestampTime(_ evidence: TimestampEvidence) -> Result<ValidationMoment, TimestampInvalid> {
        let token: TimestampToken
        do {
            token = try CMS.verifyTimestamp(evidence)
        } catch let invalid as TimestampInvalid {
            return .failure(invalid)
        } catch {
            return .failure(TimestampInvalid("\(error)"))
        }
        let authority = token.authority.subject
        guard token.authority.timeStampingOnly else {
            return .failure(TimestampInvalid("\(authority) is not a time-stamping authority (extendedKeyUsage)"))
        }
        if token.time > time.addingTimeInterval(Self.clockSkew) {
            return .failure(TimestampInvalid("its time \(ValidationMoment.format(token.time)) lies in the future"))
        }
        let verdict = trust.validate(
            token.authority, untrusted: token.certificates, at: token.time, floor: allowWeak ? .legacy : .standard)
        switch verdict {
        case .valid:
            return .success(ValidationMoment(time: token.time, source: .timestamp, note: "authority \(authority)"))
        case .invalid(let reason): return .failure(TimestampInvalid("authority \(authority) untrusted: \(reason)"))
        case .weakAlgorithms: return .failure(TimestampInvalid("authority \(authority) below the algorithm floor"))
        case .revoked(let revocation): return .failure(TimestampInvalid("authority \(revocation)"))
        case .revocationUnknown: return .failure(TimestampInvalid("authority \(authority): revocation unknown"))
        }
    }
}
