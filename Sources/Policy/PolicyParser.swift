/// Reads a policy file (DESIGN.md "Policy"; SPEC F8, F9, F12, F14): sections like the
/// profile export format, filters in the appliance's syntax so that an operator can
/// paste one from the appliance.
///
///     [message filters]              filters (FilterParser) over the whole message
///     [content filters]              filters a policy names, per copy
///     [outgoing policy NAME]         senders, recipients, content-filters
///     [incoming policy NAME]         senders, decrypt, verify, signature, ...
///
/// `#` starts a comment (outside strings). Every problem is reported with its line and
/// column, as many as one reading finds: a policy is loaded whole or not at all, so the
/// operator should fix them in one go, not one per `policy check`.
public enum PolicyParser {
    /// The document, or nil when there is any problem; the problems in file order.
    /// With `knownProfiles`, an action naming a sending profile not in it is a problem.
    public static func parse(_ text: String, knownProfiles: Set<String>? = nil)
        -> (document: PolicyDocument?, problems: [PolicyProblem])
    {
        var reader = Reader(knownProfiles: knownProfiles)
        reader.read(PolicyLexer.lines(text))
        let problems = reader.problems.enumerated().sorted {
            ($0.element.line, $0.element.column, $0.offset) < ($1.element.line, $1.element.column, $1.offset)
        }.map(\.element)
        guard problems.isEmpty else { return (nil, problems) }
        let document = PolicyDocument(
            messageFilters: reader.messageFilters, contentFilters: reader.contentFilters, outgoing: reader.outgoing,
            incoming: reader.incoming)
        return (document, [])
    }
}

/// The sections a policy file can have.
private enum SectionKind {
    case messageFilters, contentFilters
    case outgoing(String), incoming(String)
    /// A header with a problem: its lines are passed over.
    case ignored
}

/// One `key = value` line of a policy section, with the columns of its parts.
private struct Setting {
    let key: String
    let value: String
    let line: Int
    let keyColumn: Int
    let valueColumn: Int
}

/// Reads the sections in order, collecting what they define and every problem.
private struct Reader {
    let knownProfiles: Set<String>?
    var problems: [PolicyProblem] = []
    var messageFilters: [Filter] = []
    var contentFilters: [Filter] = []
    var outgoing: [OutgoingPolicy] = []
    var incoming: [IncomingPolicy] = []
    /// Filter names per section kind ("message" / "content"), broken filters included.
    var filterNames: [String: Set<String>] = [:]
    /// Policy names per direction ("outgoing" / "incoming").
    var policyNames: [String: Set<String>] = [:]
    /// Content filters named by outgoing policies, checked once the whole file is read
    /// (a policy may name a filter defined further down).
    var references: [(name: String, line: Int, column: Int)] = []

    init(knownProfiles: Set<String>?) { self.knownProfiles = knownProfiles }

    mutating func read(_ lines: [PolicyLexer.Line]) {
        var section: (kind: SectionKind, line: Int)? = nil
        var body: [PolicyLexer.Line] = []
        for line in lines {
            guard let first = line.characters.firstIndex(where: { $0 != " " && $0 != "\t" }) else { continue }
            if line.characters[first] == "[" {
                if let section { readSection(section.kind, line: section.line, body) }
                section = (header(line, at: first), line.number)
                body = []
            } else if section != nil {
                body.append(line)
            } else if line.characters[first] != "#" {
                add(
                    line.number, first + 1,
                    "text outside any section: start with a header such as \"[message filters]\"")
            }
        }
        if let section { readSection(section.kind, line: section.line, body) }
        let known = filterNames["content", default: []]
        for reference in references where !known.contains(reference.name) {
            add(reference.line, reference.column, "no content filter named \"\(reference.name)\"")
        }
    }

    mutating func add(_ line: Int, _ column: Int, _ reason: String) {
        problems.append(PolicyProblem(line: line, column: column, reason))
    }

    // MARK: Section headers

    /// `[message filters]`, `[content filters]`, `[outgoing policy NAME]`, `[incoming policy NAME]`.
    mutating func header(_ line: PolicyLexer.Line, at open: Int) -> SectionKind {
        let chars = line.characters
        guard let close = chars[open...].firstIndex(of: "]") else {
            add(line.number, chars.count + 1, "expected \"]\" at the end of the section header")
            return .ignored
        }
        if let extra = chars[(close + 1)...].firstIndex(where: { $0 != " " && $0 != "\t" }), chars[extra] != "#" {
            add(line.number, extra + 1, "unexpected text after the section header")
        }
        let words = Self.words(chars, from: open + 1, to: close)
        let kinds = words.map { $0.text.lowercased() }
        if kinds == ["message", "filters"] { return .messageFilters }
        if kinds == ["content", "filters"] { return .contentFilters }
        guard (2...3).contains(kinds.count), kinds[0] == "outgoing" || kinds[0] == "incoming", kinds[1] == "policy"
        else {
            add(
                line.number, open + 1,
                "unknown section \"\(String(chars[open...close]))\": expected [message filters], [content filters], "
                    + "[outgoing policy NAME] or [incoming policy NAME]")
            return .ignored
        }
        guard words.count == 3 else {
            add(line.number, open + 1, "a policy needs a name: [\(kinds[0]) policy NAME]")
            return .ignored
        }
        let name = words[2]
        guard name.text.allSatisfy(PolicyLexer.isWordCharacter) else {
            add(line.number, name.column, "\"\(name.text)\" is not a policy name: use letters, digits, _ - .")
            return .ignored
        }
        // Keywords ignore case, and `default` acts as one (it goes last, covers everyone):
        // `[outgoing policy Default]` is that policy, not one more tried in file order.
        let text = name.text.lowercased() == "default" ? "default" : name.text
        if !policyNames[kinds[0], default: []].insert(text).inserted {
            add(line.number, name.column, "\(kinds[0]) policy \"\(text)\" is defined twice")
        }
        return kinds[0] == "outgoing" ? .outgoing(text) : .incoming(text)
    }

    /// The words of `chars[from..<to]` split at blanks, with their 1-based columns.
    static func words(_ chars: [Character], from: Int, to: Int) -> [(text: String, column: Int)] {
        var words: [(text: String, column: Int)] = []
        var i = from
        while i < to {
            if chars[i] == " " || chars[i] == "\t" {
                i += 1
                continue
            }
            let start = i
            while i < to, chars[i] != " ", chars[i] != "\t" { i += 1 }
            words.append((String(chars[start..<i]), start + 1))
        }
        return words
    }

    // MARK: Sections

    mutating func readSection(_ kind: SectionKind, line: Int, _ body: [PolicyLexer.Line]) {
        switch kind {
        case .messageFilters: readFilters(body, .message)
        case .contentFilters: readFilters(body, .content)
        case .outgoing(let name): readOutgoing(name, line: line, settings(body))
        case .incoming(let name): readIncoming(name, line: line, settings(body))
        case .ignored: break
        }
    }

    mutating func readFilters(_ body: [PolicyLexer.Line], _ section: FilterParser.Section) {
        var parser = FilterParser(tokens: PolicyLexer.tokens(body), section: section, knownProfiles: knownProfiles)
        parser.parse()
        problems += parser.problems
        let kind = section == .message ? "message" : "content"
        for declaration in parser.declarations where !filterNames[kind, default: []].insert(declaration.name).inserted {
            let token = declaration.token
            add(token.line, token.column, "\(kind) filter \"\(declaration.name)\" is defined twice")
        }
        if section == .message { messageFilters += parser.filters } else { contentFilters += parser.filters }
    }

    /// The `key = value` lines of a policy section; a key given twice is a problem (the first counts).
    mutating func settings(_ body: [PolicyLexer.Line]) -> [String: Setting] {
        var settings: [String: Setting] = [:]
        for line in body {
            var chars = line.characters
            if let hash = chars.firstIndex(of: "#") { chars = Array(chars[..<hash]) }
            guard let first = chars.firstIndex(where: { $0 != " " && $0 != "\t" }) else { continue }
            guard let equals = chars.firstIndex(of: "=") else {
                add(line.number, first + 1, "expected \"key = value\", found \"\(String(chars[first...]))\"")
                continue
            }
            let key = Self.trimmed(chars, first, equals)
            guard !key.text.isEmpty else {
                add(line.number, equals + 1, "expected a key before \"=\"")
                continue
            }
            let value = Self.trimmed(chars, equals + 1, chars.count)
            let setting = Setting(
                key: key.text.lowercased(), value: value.text, line: line.number, keyColumn: key.column,
                valueColumn: value.column)
            if settings[setting.key] != nil {
                add(line.number, key.column, "\"\(key.text)\" is given twice")
            } else {
                settings[setting.key] = setting
            }
        }
        return settings
    }

    /// `chars[from..<to]` without blanks around it, and the column where it starts.
    static func trimmed(_ chars: [Character], _ from: Int, _ to: Int) -> (text: String, column: Int) {
        var start = from
        var end = to
        while start < end, chars[start] == " " || chars[start] == "\t" { start += 1 }
        while end > start, chars[end - 1] == " " || chars[end - 1] == "\t" { end -= 1 }
        return (String(chars[start..<end]), start + 1)
    }

    /// The items of a comma-separated value with their columns; an empty item is a problem.
    mutating func list(_ setting: Setting) -> [(text: String, column: Int)] {
        let chars = Array(setting.value)
        var items: [(text: String, column: Int)] = []
        var start = 0
        for end in chars.indices + [chars.count] where end == chars.count || chars[end] == "," {
            let item = Self.trimmed(chars, start, end)
            let column = setting.valueColumn + item.column - 1
            if item.text.isEmpty {
                add(setting.line, column, "expected an entry in the list of \(setting.key)")
            } else {
                items.append((item.text, column))
            }
            start = end + 1
        }
        return items
    }

    mutating func patterns(_ setting: Setting?, policy: String) -> [AddressPattern] {
        guard let setting else { return [] }
        if policy == "default" {
            add(setting.line, setting.keyColumn, "the default policy covers everyone: it takes no \(setting.key)")
        }
        return list(setting).compactMap { item in
            guard let pattern = AddressPattern(item.text) else {
                add(
                    setting.line, item.column,
                    "\"\(item.text)\" is not an address pattern (user@domain, @domain, @.domain, user@ or *)")
                return nil
            }
            return pattern
        }
    }

    /// The value as one of `type`'s raw values, or nil (a problem is recorded); nil too when the key is absent.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ setting: Setting?, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let setting else { return nil }
        if let value = T(rawValue: setting.value.lowercased()) { return value }
        let names = T.allCases.map(\.rawValue)
        add(
            setting.line, setting.valueColumn,
            "\(setting.key) must be \(names.dropLast().joined(separator: ", ")) or \(names.last ?? ""), "
                + "found \"\(setting.value)\"")
        return nil
    }

    /// Reports every key not among `keys`.
    mutating func unknownKeys(_ settings: [String: Setting], _ keys: [String], in kind: String) {
        for setting in settings.values where !keys.contains(setting.key) {
            add(
                setting.line, setting.keyColumn,
                "unknown key \"\(setting.key)\" in an \(kind) policy (\(keys.joined(separator: ", ")))")
        }
    }

    mutating func readOutgoing(_ name: String, line: Int, _ settings: [String: Setting]) {
        unknownKeys(settings, ["senders", "recipients", "content-filters"], in: "outgoing")
        let senders = patterns(settings["senders"], policy: name)
        let recipients = patterns(settings["recipients"], policy: name)
        var filters: [String] = []
        for item in settings["content-filters"].map({ list($0) }) ?? [] {
            if filters.contains(item.text) {
                add(settings["content-filters"]!.line, item.column, "content filter \"\(item.text)\" is listed twice")
                continue
            }
            filters.append(item.text)
            references.append((item.text, settings["content-filters"]!.line, item.column))
        }
        outgoing.append(
            OutgoingPolicy(name: name, senders: senders, recipients: recipients, contentFilters: filters, line: line))
    }

    mutating func readIncoming(_ name: String, line: Int, _ settings: [String: Setting]) {
        let flags =
            ["decrypt", "verify", "accept-sender-match", "allow-sha1", "allow-weak"] + IncomingPolicy.harvestSettings
        unknownKeys(settings, ["senders", "signature", "unauthenticated-html"] + flags, in: "incoming")
        var values: [String: Bool] = [:]
        for flag in flags { values[flag] = choice(settings[flag], YesNo.self).map { $0 == .yes } }
        var policy = IncomingPolicy(
                name: name, senders: patterns(settings["senders"], policy: name), decrypt: values["decrypt"] ?? true,
                verify: values["verify"] ?? true,
                signature: choice(settings["signature"], IncomingPolicy.Signature.self),
                unauthenticatedHTML: choice(settings["unauthenticated-html"], IncomingPolicy.UnauthenticatedHTML.self),
                acceptSenderMatch: values["accept-sender-match"], allowSHA1: values["allow-sha1"],
                allowWeak: values["allow-weak"], line: line)
        for setting in IncomingPolicy.harvestSettings { policy.harvest[setting] = values[setting] }
        incoming.append(policy)
    }
}

/// The spelling of a switch in a policy file.
private enum YesNo: String, CaseIterable {
    case yes, no
}
