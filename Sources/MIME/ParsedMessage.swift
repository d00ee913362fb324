/// A whole message read the way real mailers and delivery agents write it
/// (`Entity.parseMessage`): what was read, and how it departs from RFC 5322.
public struct ParsedMessage: Sendable {
    public var entity: Entity
    /// Where the message begins in the input: after an mbox "From " envelope
    /// line that a delivery agent left at the top of a maildir file, else 0.
    public var messageStart: Int
    /// Set when the header runs into the body without its blank line.
    public var irregularity: Irregularity?
}

extension Entity {
    /// Parses a whole message, tolerating what sloppy mailers write:
    /// - a leading mbox "From " line (RFC 4155) is the envelope, not the message: it is left out;
    /// - a header that runs into the body ends at the first line that is no field, which
    ///   begins the body (`Irregularity.headerRunsIntoBody`).
    /// Input without any header field is still an error, and so is anything over `limits`.
    public static func parseMessage(_ bytes: [UInt8], limits: MIMELimits = .standard) throws -> ParsedMessage {
        let start = envelopeLineEnd(bytes)
        if start == bytes.count { throw MIMEError("empty message") }
        let (entity, end) = try parseHeader(bytes, from: start, limits: limits)
        if entity.fields.isEmpty { throw noHeader(bytes, from: start, end) }
        var irregularity: Irregularity? = nil
        if case .fieldlessLine(let line) = end { irregularity = .headerRunsIntoBody(line: line) }
        return ParsedMessage(entity: entity, messageStart: start, irregularity: irregularity)
    }

    /// The end of a first line "From " that is an mbox envelope line (0 when there is none).
    /// "From:" or the obsolete "From :" (RFC 5322 §4.5.5) is the From field, not an envelope line.
    static func envelopeLineEnd(_ bytes: [UInt8]) -> Int {
        guard bytes.starts(with: envelopePrefix) else { return 0 }
        var lines = Lines(bytes)
        guard let line = lines.next() else { return 0 }
        let rest = bytes[(line.start + envelopePrefix.count)..<line.contentEnd].drop { $0 == 32 || $0 == 9 }
        if rest.first == UInt8(ascii: ":") { return 0 }
        return line.end
    }

    private static let envelopePrefix = Array("From ".utf8)
}
