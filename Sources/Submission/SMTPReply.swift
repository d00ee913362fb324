/// A server's reply (RFC 5321 §4.2): a three-digit code, one or more lines of text, and
/// the enhanced status code (RFC 3463) when the text starts with one.
public struct SMTPReply: Sendable, Equatable, CustomStringConvertible {
    public let code: Int
    public let lines: [String]

    public init(code: Int, lines: [String]) {
        self.code = code
        self.lines = lines.isEmpty ? [""] : lines
    }

    /// 2xx: done. Only this accepts a command (or, after the content, the message).
    public var isSuccess: Bool { (200..<300).contains(code) }
    public var isTransient: Bool { (400..<500).contains(code) }
    public var isPermanent: Bool { (500..<600).contains(code) }

    /// "5.1.1" in "550 5.1.1 User unknown", else the class the code implies ("5.0.0").
    public var status: String {
        let first = lines[0].split(separator: " ", maxSplits: 1).first.map(String.init) ?? ""
        let parts = first.split(separator: ".")
        if parts.count == 3, let head = parts.first, ["2", "4", "5"].contains(head),
            parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) && $0.count <= 3 })
        {
            return first
        }
        return isPermanent ? "5.0.0" : "4.0.0"  // anything not a refusal is worth another try
    }

    /// The reply as one line of printable ASCII: "550 5.1.1 <bob@x>: User unknown" (continuation
    /// lines joined with " / "; control characters and anything not ASCII become "?"), fit for
    /// a log, a terminal and a DSN's Diagnostic-Code.
    public var description: String {
        let text = Self.printable(lines.joined(separator: " / "))
        let number = String(format: "%03d", code)
        return text.isEmpty ? number : "\(number) \(text)"
    }

    /// `text` with every scalar outside printable ASCII made "?".
    public static func printable(_ text: String) -> String {
        String(String.UnicodeScalarView(text.unicodeScalars.map { (32..<127).contains($0.value) ? $0 : "?" }))
    }
}
