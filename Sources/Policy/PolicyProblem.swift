/// A problem in a policy file, where it is: `LINE:COLUMN: reason` (1-based; the
/// command line puts the file name in front).
public struct PolicyProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int
    public let reason: String

    /// Control characters in `reason` (it quotes the file) are written as `\u{1B}`: an escape
    /// sequence in a policy file must not reach the operator's terminal, nor a CR or an LF
    /// break the one-line `FILE:LINE:COLUMN: reason` that editors and CI annotators read.
    public init(line: Int, column: Int, _ reason: String) {
        self.line = line
        self.column = column
        self.reason = Self.printable(reason)
    }

    /// `text` with every C0 and C1 control and DEL, every line or paragraph separator and
    /// every invisible format character (byte order marks, zero widths, the bidirectional
    /// controls that reorder what a terminal shows) as a `\u{...}` escape.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.properties.generalCategory {
            case .control, .format, .lineSeparator, .paragraphSeparator:
                out += "\\u{\(String(scalar.value, radix: 16, uppercase: true))}"
            default:
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    public var description: String { "\(line):\(column): \(reason)" }
}
