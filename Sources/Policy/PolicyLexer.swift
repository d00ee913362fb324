/// Splits a policy file into its lines and the lines of its filter sections into
/// tokens, each with the 1-based line and column where it starts, so that every
/// problem the parser finds can point at the text an operator has to change.
struct PolicyLexer {
    /// One line of the file: its 1-based number and its characters (no line end).
    struct Line {
        let number: Int
        let characters: [Character]
    }

    struct Token {
        enum Kind: Equatable {
            /// A name or keyword: letters, digits, `_ - .` (`sign-later`, `body-size`, `1M`).
            case word(String)
            /// A quoted string, its escapes resolved.
            case string(String)
            /// `( ) { } , ; :` and the comparisons `== != < <= > >=`.
            case symbol(String)
            /// Text that is no token; the reason says why.
            case invalid(String)
            /// The end of the section.
            case end
        }

        let kind: Kind
        let line: Int
        let column: Int
        /// For a string, the column of each of its value's characters and of its closing quote,
        /// so that a regular expression's error can point inside the string.
        var valueColumns: [Int] = []

        /// The token as a problem names it: `found "{"`.
        var described: String {
            switch kind {
            case .word(let text), .symbol(let text): return "\"\(text)\""
            case .string(let text): return "the string \"\(text)\""
            case .invalid(let reason): return reason
            case .end: return "the end of the section"
            }
        }

        var word: String? { if case .word(let text) = kind { text } else { nil } }
        func isSymbol(_ text: String) -> Bool { kind == .symbol(text) }
        /// Keywords of the language ignore case, as the appliance's do.
        func isKeyword(_ text: String) -> Bool { word?.lowercased() == text }
    }

    /// The lines of `text`, split at LF or CRLF (which Swift counts as one character).
    /// A byte order mark at the start (Windows editors write one) is read as nothing: the
    /// stored text keeps it byte for byte, but it is no text outside a section, and the
    /// columns of the first line count from after it, as an editor shows them.
    static func lines(_ text: String) -> [Line] {
        let text = text.first == "\u{FEFF}" ? text.dropFirst() : Substring(text)
        return text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }.enumerated().map {
            Line(number: $0.offset + 1, characters: Array($0.element))
        }
    }

    /// Letters, digits, `_`, `-` and `.`: the characters of names and keywords.
    static func isWordCharacter(_ c: Character) -> Bool {
        c.isASCII && (c.isLetter || c.isNumber || c == "_" || c == "-" || c == ".")
    }

    /// The tokens of filter-section lines, ending in one `.end` just past the last token.
    static func tokens(_ lines: [Line]) -> [Token] {
        var tokens: [Token] = []
        var end = (line: lines.first?.number ?? 1, column: 1)
        for line in lines {
            let chars = line.characters
            var i = 0
            while i < chars.count {
                let c = chars[i]
                let start = i
                if c == " " || c == "\t" {
                    i += 1
                    continue
                }
                if c == "#" { break }
                var token = Token(kind: .invalid(""), line: line.number, column: i + 1)
                if isWordCharacter(c) {
                    while i < chars.count, isWordCharacter(chars[i]) { i += 1 }
                    token = Token(kind: .word(String(chars[start..<i])), line: line.number, column: start + 1)
                } else if c == "\"" || c == "'" {
                    (token, i) = string(chars, from: i, line: line.number)
                } else if let symbol = symbol(chars, at: i) {
                    i += symbol.count
                    token = Token(kind: .symbol(symbol), line: line.number, column: start + 1)
                } else {
                    i += 1
                    let reason = c == "=" || c == "!" ? "\"\(c)\" (compare with == or !=)" : "the character \"\(c)\""
                    token = Token(kind: .invalid(reason), line: line.number, column: start + 1)
                }
                tokens.append(token)
                end = (line.number, i + 1)
            }
        }
        tokens.append(Token(kind: .end, line: end.line, column: end.column))
        return tokens
    }

    private static let symbols = ["==", "!=", "<=", ">=", "<", ">", "(", ")", "{", "}", ",", ";", ":"]

    private static func symbol(_ chars: [Character], at i: Int) -> String? {
        symbols.first { symbol in
            symbol.enumerated().allSatisfy { offset, c in i + offset < chars.count && chars[i + offset] == c }
        }
    }

    /// A string in '...' or "...": a backslash before the quote character or another backslash
    /// yields that character; any other backslash stays, so `"\d+"` reaches PCRE2 as `\d+`.
    /// A string ends on its line; one that does not is an invalid token.
    private static func string(_ chars: [Character], from start: Int, line: Int) -> (Token, Int) {
        let quote = chars[start]
        var value = ""
        var columns: [Int] = []
        var i = start + 1
        while i < chars.count, chars[i] != quote {
            if chars[i] == "\\", i + 1 < chars.count, chars[i + 1] == quote || chars[i + 1] == "\\" {
                i += 1
            }
            value.append(chars[i])
            columns.append(i + 1)
            i += 1
        }
        guard i < chars.count else {
            return (Token(kind: .invalid("a string without its closing \(quote)"), line: line, column: start + 1), i)
        }
        columns.append(i + 1)
        return (Token(kind: .string(value), line: line, column: start + 1, valueColumns: columns), i + 1)
    }
}
