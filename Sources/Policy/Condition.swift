/// A filter's condition, in the appliance's filter language (SPEC F8, F14).
/// Regular expressions search (they are not anchored unless they say so).
public indirect enum Condition: Sendable {
    /// `true` / `false`.
    case constant(Bool)
    /// `subject == "re"`: the decoded Subject.
    case subject(TextTest)
    /// `header("X") == "re"` (any instance matches; `!=`: none does), or `header("X")` (present).
    case header(name: String, test: TextTest?)
    /// `body-contains("re")`: a text part, decoded as far as it decodes (`Charset.scannableText`), matches.
    case bodyContains(Pattern)
    /// `attachment-filename == "re"`: any name of any attachment matches (every name a reader may show).
    case attachmentFilename(TextTest)
    /// `attachment-type == "type/*"`: the media type of any attachment (a glob, `*` for any part).
    case attachmentType(TypeTest)
    /// `mail-from == "re"`: the envelope sender (Return-Path, else Sender, else From).
    case mailFrom(TextTest)
    /// `rcpt-to == "re"`: any recipient of this copy matches (`!=`: none does).
    case rcptTo(TextTest)
    /// `body-size > 1M`: the message's size in bytes (K, M, G are powers of 1024).
    case bodySize(Comparison, Int)
    /// `encrypted`: the message is S/MIME-encrypted (as it stands now).
    case encrypted
    /// `smime-gateway-message`: incoming processing found S/MIME in the message.
    case smimeGatewayMessage
    /// `smime-gateway-verified`: incoming processing verified a signature (or decrypted and verified).
    case smimeGatewayVerified
    /// `smime-gateway-authenticated`: the delivered content is covered by a valid signature or by
    /// authenticated encryption (AES-GCM); CBC-decrypted, unsigned content is not.
    case smimeGatewayAuthenticated
    case not(Condition)
    /// `a and b and c`: every term holds. A chain is one node, not a tree as deep as the
    /// chain is long, so neither evaluating nor freeing a long chain recurses down it.
    case and([Condition])
    /// `a or b or c`: some term holds (one node per chain, as for `and`).
    case or([Condition])
}

/// `== "re"` or `!= "re"`.
public struct TextTest: Sendable {
    public let pattern: Pattern
    public let negated: Bool
    public init(pattern: Pattern, negated: Bool) {
        self.pattern = pattern
        self.negated = negated
    }
}

/// `attachment-type == "image/*"`: a case-insensitive glob over `type/subtype`.
public struct TypeTest: Sendable {
    public let glob: String
    public let negated: Bool
    public init(glob: String, negated: Bool) {
        self.glob = glob.lowercased()
        self.negated = negated
    }
}

public enum Comparison: String, Sendable, CaseIterable {
    case less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">=", equal = "==", notEqual = "!="

    public func holds(_ value: Int, _ limit: Int) -> Bool {
        switch self {
        case .less: return value < limit
        case .lessOrEqual: return value <= limit
        case .greater: return value > limit
        case .greaterOrEqual: return value >= limit
        case .equal: return value == limit
        case .notEqual: return value != limit
        }
    }
}
