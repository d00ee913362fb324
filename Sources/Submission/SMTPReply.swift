/// A server's reply (RFC 5321 §4.2): a three-digit code, one or more lines of text, and
/// the enhanced status code (RFC 3463) when the text starts with one.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public let code: Int
    public let lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines.isEmpty ? [""] : lines
    }

    public var isPositive: Bool { (200..<400).contains(code) }
    public var isTransient: Bool { (400..<500).contains(code) }
    public var isPermanent: Bool { code >= 500 }

    /// "5.1.1" in "550 5.1.1 User unknown", else the class the code implies ("5.0.0").
    public var status: String {
        let first = lines[0].split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let parts = first.split(separator: ".")
        if parts.count == 3, let head = parts.first, ["2", "4", "5"].contains(head),
            parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) && $0.count <= 3 })
        {
            return first
        }
        return "\(code / 100).0.0"
    }

    /// The reply as one line: "550 5.1.1 <bob@x>: User unknown" (continuation lines joined with " / ").
    public var description: String {
        let text = lines.map { $0.filter { !$0.isASCII || $0 >= " " } }.joined(separator: " / ")
        return text.isEmpty ? "\(code)" : "\(code) \(text)"
    }
}
