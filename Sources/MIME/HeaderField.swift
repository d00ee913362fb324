/// One header field (RFC 5322 §2.2), kept as written — folding, duplicates and
/// RFC 2047 encoded-words untouched — so an unchanged message serialises back
/// byte for byte.
public struct HeaderField: Sendable, Equatable {
    /// The field name as written.
    public let name: String
    /// The field as written, folded lines included, without the final line terminator.
    public private(set) var raw: [UInt8]
    /// The final line terminator as written ([] for a field built in code: the
    /// serialiser writes the entity's line ending).
    public private(set) var terminator: [UInt8]

    init(name: String, raw: [UInt8], terminator: [UInt8]) {
        self.name = name
        self.raw = raw
        self.terminator = terminator
    }

    /// A new field "Name: value".
    public init(name: String, value: String) {
        self.init(name: name, raw: ascii("\(name): \(value)"), terminator: [])
    }

    /// The field with every CR that does not begin a CRLF, and every NUL, made a space;
    /// nil when it has none. RFC 5322 allows neither inside a field, and a reader that
    /// takes a lone CR for a line break would see more fields in it than we do
    /// (`Subject: hi<CR>From: ceo@...`): after this, every reader sees the same fields.
    public var withoutStrayLineBreaks: HeaderField? {
        var copy = raw
        var changed = false
        for index in copy.indices where copy[index] == 0 || (copy[index] == 13 && copy.at(index + 1) != 10) {
            copy[index] = 32
            changed = true
        }
        return changed ? HeaderField(name: name, raw: copy, terminator: terminator) : nil
    }

    /// The unfolded value (RFC 5322 §2.2.3), leading white space removed.
    /// Works on the bytes, making one String: every filter condition and MIME lookup reads it.
    public var value: String {
        var start = min(raw.count, name.utf8.count + 1)
        var end = raw.count
        func isSpace(_ byte: UInt8) -> Bool { byte == 32 || byte == 9 || byte == 13 || byte == 10 }
        while start < end, isSpace(raw[start]) { start += 1 }
        while end > start, isSpace(raw[end - 1]) { end -= 1 }
        let slice = raw[start..<end]
        guard slice.contains(where: { $0 == 13 || $0 == 10 }) else { return String(decoding: slice, as: UTF8.self) }
        return String(decoding: slice.filter { $0 != 13 && $0 != 10 }, as: UTF8.self)  // unfolded
    }

    /// ASCII case-insensitive comparison of field names, without allocating.
    public func hasName(_ other: String) -> Bool {
        // Most names asked about differ in length: no byte need be compared (a count is O(1) for native strings).
        guard name.utf8.count == other.utf8.count else { return false }
        var a = name.utf8.makeIterator()
        var b = other.utf8.makeIterator()
        while true {
            switch (a.next(), b.next()) {
            case (nil, nil): return true
            case (let x?, let y?) where lower(x) == lower(y): continue
            default: return false
            }
        }
    }

    /// True for Content-* fields, which belong to the MIME entity (RFC 2045 §9)
    /// and travel inside the signature or the envelope.
    public var isContentField: Bool {
        name.utf8.count > 8 && hasPrefixCaseInsensitive(ArraySlice(name.utf8.prefix(8)), HeaderField.contentPrefix)
    }
    static let contentPrefix = Array("content-".utf8)

    /// The field written with `ending` on every line (folded lines included); as written when nil.
    public func serialized(_ ending: LineEnding?) -> [UInt8] {
        guard let ending else { return raw + (terminator.isEmpty ? LineEnding.crlf.bytes : terminator) }
        return raw.converted(to: ending) + ending.bytes
    }
}

extension String {
    func trimmingTrailingWhitespace() -> String {
        var s = Substring(self)
        while let last = s.last, last == " " || last == "\t" { s = s.dropLast() }
        return String(s)
    }
}

extension Array where Element == UInt8 {
    /// The byte at `index`, or nil past the end.
    fileprivate func at(_ index: Int) -> UInt8? { index < count ? self[index] : nil }
}
