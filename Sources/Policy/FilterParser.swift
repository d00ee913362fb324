/// Parses the filters of one filter section in the appliance's syntax (SPEC F8, F14):
///
///     name: if (condition) { action; ... } [else { action; ... }] [.]
///
/// `not` binds tighter than `and`, which binds tighter than `or`. A syntax error ends the
/// filter it is in; parsing goes on at the next `name:`, so one run reports every broken
/// filter. Problems that leave the structure readable (a bad regular expression, an
/// unknown profile, a wrong argument) are collected without stopping.
struct FilterParser {
    typealias Token = PolicyLexer.Token

    /// Which kind of section the filters are in: only content filters may transform.
    enum Section {
        case message, content
    }

    /// A filter's name where it is written, recorded as soon as `name:` is read: a name
    /// defined twice, or named by a policy, is then known even when its filter is broken,
    /// and a broken filter does not bring a second, misleading problem elsewhere.
    struct Declaration {
        let name: String
        let token: Token
    }

    private let tokens: [Token]
    private var index = 0
    /// How deep the condition being read is in `not`s and parentheses.
    private var nesting = 0
    private let section: Section
    private let knownProfiles: Set<String>?
    private(set) var filters: [Filter] = []
    private(set) var declarations: [Declaration] = []
    private(set) var problems: [PolicyProblem] = []

    init(tokens: [Token], section: Section, knownProfiles: Set<String>?) {
        self.tokens = tokens
        self.section = section
        self.knownProfiles = knownProfiles
    }

    /// Reads every filter of the section.
    mutating func parse() {
        while peek.kind != .end {
            let start = index
            do {
                filters.append(try filter())
            } catch {
                problems.append(error)
                index = nextFilter(from: max(index, start + 1))
            }
        }
    }

    // MARK: Tokens

    private var peek: Token { tokens[index] }
    private func peek(_ offset: Int) -> Token { tokens[min(index + offset, tokens.count - 1)] }

    @discardableResult
    private mutating func advance() -> Token {
        let token = tokens[index]
        if index < tokens.count - 1 { index += 1 }
        return token
    }

    /// The index of the next `name:` at or after `from` (or of the end).
    private func nextFilter(from: Int) -> Int {
        var i = min(from, tokens.count - 1)
        while tokens[i].kind != .end && !(tokens[i].word != nil && tokens[i + 1].isSymbol(":")) { i += 1 }
        return i
    }

    private func problem(_ token: Token, _ reason: String) -> PolicyProblem {
        PolicyProblem(line: token.line, column: token.column, reason)
    }

    /// `expected X <context>, found Y` at the token found.
    private func expected(_ what: String, _ context: String = "") -> PolicyProblem {
        problem(peek, "expected \(what)\(context.isEmpty ? "" : " " + context), found \(peek.described)")
    }

    /// Takes the symbol if it comes next.
    private mutating func consume(_ symbol: String) -> Bool {
        guard peek.isSymbol(symbol) else { return false }
        advance()
        return true
    }

    private mutating func expect(_ symbol: String, _ context: String) throws(PolicyProblem) {
        guard consume(symbol) else { throw expected("\"\(symbol)\"", context) }
    }

    private mutating func string(_ context: String) throws(PolicyProblem) -> Token {
        guard case .string = peek.kind else { throw expected("a string", context) }
        return advance()
    }

    // MARK: Filters

    private mutating func filter() throws(PolicyProblem) -> Filter {
        guard let name = peek.word else { throw expected("a filter name", "(\"name: if (...) { ... }\")") }
        let nameToken = advance()
        try expect(":", "after the filter name \"\(name)\"")
        declarations.append(Declaration(name: name, token: nameToken))
        guard peek.isKeyword("if") else { throw expected("\"if\"", "after \"\(name):\"") }
        advance()
        try expect("(", "after \"if\"")
        let test = try condition()
        try expect(")", "after the condition")
        let actions = try block("after the condition's \")\"")
        var otherwise: [FilterAction] = []
        // `else:` names the next filter (a name may be any word); any other `else` is a branch.
        if peek.isKeyword("else") && !peek(1).isSymbol(":") {
            advance()
            otherwise = try block("after \"else\"")
        }
        if peek.word == "." { advance() }
        return Filter(name: name, condition: test, actions: actions, otherwise: otherwise, line: nameToken.line)
    }

    /// `{ action; ... }`, the `;` after the last action optional.
    private mutating func block(_ context: String) throws(PolicyProblem) -> [FilterAction] {
        try expect("{", context)
        var actions: [FilterAction] = []
        while !peek.isSymbol("}") {
            // A `name:` here is the next filter: this one lacks its "}".
            if peek.kind == .end || (peek.word != nil && peek(1).isSymbol(":")) {
                throw expected("\"}\"", "to close the actions")
            }
            if let action = try action() { actions.append(action) }
            if !consume(";") && !peek.isSymbol("}") { throw expected("\";\" or \"}\"", "after the action") }
        }
        advance()
        return actions
    }

    // MARK: Conditions

    /// The binary operators, loosest first: `a or b and c` is `a or (b and c)`.
    private static let binaryOperators: [(keyword: String, combine: @Sendable ([Condition]) -> Condition)] = [
        ("or", Condition.or), ("and", Condition.and),
    ]

    /// The conditions joined by the operators from `level` on (precedence climbing). A chain
    /// of one operator becomes one node with every term, read in a loop: only `not` and
    /// parentheses deepen the tree, and `maxNesting` bounds them.
    private mutating func condition(level: Int = 0) throws(PolicyProblem) -> Condition {
        guard level < Self.binaryOperators.count else { return try unaryCondition() }
        let (keyword, combine) = Self.binaryOperators[level]
        var terms = [try condition(level: level + 1)]
        while peek.isKeyword(keyword) {
            advance()
            terms.append(try condition(level: level + 1))
        }
        return terms.count == 1 ? terms[0] : combine(terms)
    }

    /// `not` and parentheses nest by recursion: a limit keeps a hostile file from exhausting the stack.
    static let maxNesting = 100

    private mutating func unaryCondition() throws(PolicyProblem) -> Condition {
        guard peek.isKeyword("not") || peek.isSymbol("(") else { return try atom() }
        guard nesting < Self.maxNesting else {
            throw problem(peek, "conditions nested deeper than \(Self.maxNesting) levels")
        }
        nesting += 1
        defer { nesting -= 1 }
        if advance().isSymbol("(") {
            let inner = try condition()
            try expect(")", "to close the parenthesis")
            return inner
        }
        return .not(try unaryCondition())
    }

    private mutating func atom() throws(PolicyProblem) -> Condition {
        guard let word = peek.word else { throw expected("a condition") }
        let token = advance()
        let name = word.lowercased()
        switch name {
        case "true": return .constant(true)
        case "false": return .constant(false)
        case "encrypted": return .encrypted
        case "smime-gateway-message": return .smimeGatewayMessage
        case "smime-gateway-verified": return .smimeGatewayVerified
        case "smime-gateway-authenticated": return .smimeGatewayAuthenticated
        case "subject": return try textTest(after: name).map(Condition.subject) ?? .constant(false)
        case "attachment-filename":
            return try textTest(after: name).map(Condition.attachmentFilename) ?? .constant(false)
        case "mail-from": return try textTest(after: name).map(Condition.mailFrom) ?? .constant(false)
        case "rcpt-to": return try textTest(after: name).map(Condition.rcptTo) ?? .constant(false)
        case "attachment-type":
            let negated = try equality(after: name)
            let glob = try string("after \"\(negated ? "!=" : "==")\"")
            guard case .string(let text) = glob.kind else { return .constant(false) }
            return .attachmentType(TypeTest(glob: text, negated: negated))
        case "header":
            let field = try argument(of: name)
            guard case .string(let fieldName) = field.kind else { return .constant(false) }
            if !HeaderRules.isFieldName(fieldName) { problems.append(problem(field, HeaderRules.badName(fieldName))) }
            guard peek.isSymbol("==") || peek.isSymbol("!=") else { return .header(name: fieldName, test: nil) }
            return try textTest(after: "header(\"\(fieldName)\")").map { .header(name: fieldName, test: $0) }
                ?? .constant(false)
        case "body-contains":
            return regex(try argument(of: name)).map(Condition.bodyContains) ?? .constant(false)
        case "body-size":
            guard case .symbol(let symbol) = peek.kind, let comparison = Comparison(rawValue: symbol) else {
                throw expected("a comparison (< <= > >= == !=)", "after \"body-size\"")
            }
            advance()
            guard peek.word != nil else { throw expected("a size", "after \"\(symbol)\"") }
            let size = advance()
            guard let bytes = Self.size(size.word ?? "") else {
                problems.append(problem(size, "expected a size such as 512, 100K, 1M or 2G, found \(size.described)"))
                return .constant(false)
            }
            return .bodySize(comparison, bytes)
        default:
            throw problem(token, "unknown condition \(token.described)")
        }
    }

    /// `== "re"` or `!= "re"`; nil when the expression does not compile (a problem is recorded).
    private mutating func textTest(after subject: String) throws(PolicyProblem) -> TextTest? {
        let negated = try equality(after: subject)
        let pattern = regex(try string("after \"\(negated ? "!=" : "==")\""))
        return pattern.map { TextTest(pattern: $0, negated: negated) }
    }

    /// Whether the comparison is `!=` (it must be `==` or `!=`).
    private mutating func equality(after subject: String) throws(PolicyProblem) -> Bool {
        guard peek.isSymbol("==") || peek.isSymbol("!=") else { throw expected("== or !=", "after \"\(subject)\"") }
        return advance().isSymbol("!=")
    }

    /// `("text")` after a condition such as `header` or `body-contains`.
    private mutating func argument(of name: String) throws(PolicyProblem) -> Token {
        try expect("(", "after \"\(name)\"")
        let token = try string("in \"\(name)(...)\"")
        try expect(")", "after the string of \"\(name)(...)\"")
        return token
    }

    /// The string compiled by PCRE2 now, so that a bad expression fails the check, not a run.
    /// A compile error points at the character PCRE2 names.
    private mutating func regex(_ token: Token) -> Pattern? {
        guard case .string(let source) = token.kind else { return nil }
        do {
            return try Pattern(source)
        } catch {
            // PCRE2's offset counts UTF-8 bytes; the columns count characters.
            var bytes = 0
            var character = 0
            for c in source where bytes < error.offset {
                bytes += c.utf8.count
                character += 1
            }
            let column = token.valueColumns.isEmpty ? token.column : token.valueColumns[min(character, source.count)]
            problems.append(
                PolicyProblem(line: token.line, column: column, "bad regular expression \"\(source)\": \(error.reason)")
            )
            return nil
        }
    }

    /// `512`, `100K`, `1M`, `2G` (K, M, G are powers of 1024, in either case); nil for anything else.
    static func size(_ text: String) -> Int? {
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        var digits = Substring(text)
        var unit = 1
        if let last = text.last?.lowercased().first, let value = units[last] {
            unit = value
            digits = digits.dropLast()
        }
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(digits) else {
            return nil
        }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: unit)
        return overflow ? nil : bytes
    }

    // MARK: Actions

    /// One `name(arguments)`; nil when it is readable but wrong (a problem is recorded).
    private mutating func action() throws(PolicyProblem) -> FilterAction? {
        guard let word = peek.word else { throw expected("an action") }
        let name = word.lowercased()
        guard let rule = ActionRule(rawValue: name) else { throw problem(peek, "unknown action \(peek.described)") }
        let nameToken = advance()
        try expect("(", "after \"\(word)\"")
        var arguments: [(text: String, token: Token)] = []
        if !peek.isSymbol(")") {
            repeat {
                let token = try string("as an argument of \"\(name)\"")
                if case .string(let text) = token.kind { arguments.append((text, token)) }
            } while consume(",")
        }
        let close = peek
        try expect(")", "after the arguments of \"\(name)\"")
        guard arguments.count == rule.arguments.count else {
            let at = arguments.count > rule.arguments.count ? arguments[rule.arguments.count].token : close
            problems.append(problem(at, rule.arity))
            return nil
        }
        if section == .message && rule.transforms {
            problems.append(problem(nameToken, "smime-gateway actions belong in content filters"))
            return nil
        }
        let args = arguments.map(\.text)
        if let (index, reason) = rule.problem(args, knownProfiles: knownProfiles) {
            problems.append(problem(arguments[index].token, reason))
            return nil
        }
        return rule.action(args)
    }
}

/// The actions of the language: their arguments, and what makes an argument wrong.
private enum ActionRule: String {
    case smimeGateway = "smime-gateway"
    case smimeGatewayDeferred = "smime-gateway-deferred"
    case quarantine, drop, bounce, deliver
    case skipFilters = "skip-filters"
    case insertHeader = "insert-header"
    case stripHeader = "strip-header"
    case notify

    /// What each argument is, for the problem of a wrong count.
    var arguments: [String] {
        switch self {
        case .smimeGateway, .smimeGatewayDeferred: ["the sending profile"]
        case .quarantine: ["the quarantine's name"]
        case .drop, .bounce, .deliver, .skipFilters: []
        case .insertHeader: ["the field name", "the value"]
        case .stripHeader: ["the field name"]
        case .notify: ["the address"]
        }
    }

    var transforms: Bool { self == .smimeGateway || self == .smimeGatewayDeferred }

    var arity: String {
        switch arguments.count {
        case 0: "\(rawValue)() takes no arguments"
        case 1: "\(rawValue)() takes one string: \(arguments[0])"
        default: "\(rawValue)() takes \(arguments.count) strings: \(arguments.joined(separator: " and "))"
        }
    }

    /// The index of a wrong argument and why it is wrong, or nil.
    func problem(_ args: [String], knownProfiles: Set<String>?) -> (Int, String)? {
        switch self {
        case .smimeGateway, .smimeGatewayDeferred:
            if let knownProfiles, !knownProfiles.contains(args[0]) {
                return (0, "no sending profile named \"\(args[0])\"")
            }
            if !SendingProfile.validName(args[0]) { return (0, "\"\(args[0])\" is not a sending profile name") }
        case .quarantine:
            if !Self.isFolderName(args[0]) {
                return (0, "\"\(args[0])\" is not a quarantine name: up to 64 letters, digits, _ - . (no . first)")
            }
        case .insertHeader:
            if !HeaderRules.isFieldName(args[0]) { return (0, HeaderRules.badName(args[0])) }
            if args[1].unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) {
                return (1, "a header field's value cannot hold CR, LF or NUL")
            }
            if args[1].utf8.count > 998 {
                return (1, "a header field's value is limited to 998 bytes (RFC 5322 §2.1.1)")
            }
        case .stripHeader:
            if !HeaderRules.isFieldName(args[0]) { return (0, HeaderRules.badName(args[0])) }
        case .notify:
            if !Self.isAddrSpec(args[0]) { return (0, "\"\(args[0])\" is not a plain address (local@domain)") }
        case .drop, .bounce, .deliver, .skipFilters: break
        }
        return nil
    }

    func action(_ args: [String]) -> FilterAction {
        switch self {
        case .smimeGateway: .smimeGateway(profile: args[0])
        case .smimeGatewayDeferred: .smimeGatewayDeferred(profile: args[0])
        case .quarantine: .quarantine(args[0])
        case .drop: .drop
        case .bounce: .bounce
        case .deliver: .deliver
        case .skipFilters: .skipFilters
        case .insertHeader: .insertHeader(name: args[0], value: args[1])
        case .stripHeader: .stripHeader(args[0])
        case .notify: .notify(args[0])
        }
    }

    /// A quarantine becomes the folder DIR/quarantined/NAME/: no path separator, no hidden
    /// or parent directory, nothing a file system or a shell treats specially.
    static func isFolderName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && !name.hasPrefix(".") && name.allSatisfy(PolicyLexer.isWordCharacter)
    }

    /// A plain RFC 5322 addr-spec of dot-atoms (no quoted local part, no domain literal):
    /// a notice goes to it unchanged, so nothing in it may need quoting or parsing.
    static func isAddrSpec(_ address: String) -> Bool {
        let parts = address.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let atext = Set("!#$%&'*+-/=?^_`{|}~")
        func isDotAtom(_ text: Substring, _ allowed: (Character) -> Bool) -> Bool {
            !text.isEmpty
                && text.split(separator: ".", omittingEmptySubsequences: false).allSatisfy {
                    !$0.isEmpty && $0.allSatisfy(allowed)
                }
        }
        return isDotAtom(parts[0]) { $0.isASCII && ($0.isLetter || $0.isNumber || atext.contains($0)) }
            && isDotAtom(parts[1]) { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

/// What a header field name in a filter may be.
private enum HeaderRules {
    /// RFC 5322 §3.6.8: one or more printable ASCII characters other than ":".
    static func isFieldName(_ name: String) -> Bool {
        !name.isEmpty && name.unicodeScalars.allSatisfy { $0.value >= 33 && $0.value <= 126 && $0 != ":" }
    }

    static func badName(_ name: String) -> String {
        "\"\(name)\" is not a header field name (printable ASCII without spaces or \":\")"
    }
}
