/// A small JSON reader (RFC 8259) for the lines of our own logs, where Foundation's
/// JSONDecoder costs ~50 µs a line: `deliver` reads every line of the manifest and of the
/// delivery log on each run, and a cron DIR grows to millions of lines.
enum JSONValue: Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    var strings: [String]? {
        guard case .array(let values) = self else { return nil }
        var out: [String] = []
        for value in values {
            guard let text = value.string else { return nil }
            out.append(text)
        }
        return out
    }

    /// A whole number that fits an Int.
    var integer: Int? {
        guard case .number(let value) = self, value.rounded() == value, abs(value) < 9e15 else { return nil }
        return Int(value)
    }

    var array: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    /// One JSON text (surrounding white space allowed), or nil when it is not one.
    static func parse(_ bytes: ArraySlice<UInt8>) -> JSONValue? {
        var reader = JSONReader(bytes: bytes)
        guard let value = reader.value(depth: 0) else { return nil }
        reader.skipSpace()
        return reader.index == bytes.endIndex ? value : nil
    }
}

private struct JSONReader {
    let bytes: ArraySlice<UInt8>
    var index: Int

    init(bytes: ArraySlice<UInt8>) {
        self.bytes = bytes
        index = bytes.startIndex
    }

    mutating func skipSpace() {
        while index < bytes.endIndex, [32, 9, 10, 13].contains(bytes[index]) { index += 1 }
    }

    mutating func value(depth: Int) -> JSONValue? {
        guard depth < 64 else { return nil }
        skipSpace()
        guard index < bytes.endIndex else { return nil }
        switch bytes[index] {
        case UInt8(ascii: "{"):
            index += 1
            var members: [String: JSONValue] = [:]
            skipSpace()
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: "}") {
                index += 1
                return .object(members)
            }
            while true {
                skipSpace()
                guard let key = string() else { return nil }
                skipSpace()
                guard expect(":"), let member = value(depth: depth + 1) else { return nil }
                members[key] = member
                skipSpace()
                if expect(",") { continue }
                return expect("}") ? .object(members) : nil
            }
        case UInt8(ascii: "["):
            index += 1
            var values: [JSONValue] = []
            skipSpace()
            if index < bytes.endIndex, bytes[index] == UInt8(ascii: "]") {
                index += 1
                return .array(values)
            }
            while true {
                guard let element = value(depth: depth + 1) else { return nil }
                values.append(element)
                skipSpace()
                if expect(",") { continue }
                return expect("]") ? .array(values) : nil
            }
        case UInt8(ascii: "\""):
            return string().map(JSONValue.string)
        case UInt8(ascii: "t"): return literal("true") ? .bool(true) : nil
        case UInt8(ascii: "f"): return literal("false") ? .bool(false) : nil
        case UInt8(ascii: "n"): return literal("null") ? .null : nil
        default: return number()
        }
    }

    private mutating func expect(_ character: Unicode.Scalar) -> Bool {
        guard index < bytes.endIndex, bytes[index] == UInt8(character.value) else { return false }
        index += 1
        return true
    }

    private mutating func literal(_ word: String) -> Bool {
        let expected = Array(word.utf8)
        guard bytes.endIndex - index >= expected.count, bytes[index..<(index + expected.count)].elementsEqual(expected)
        else { return false }
        index += expected.count
        return true
    }

    private mutating func number() -> JSONValue? {
        let start = index
        while index < bytes.endIndex, "+-0123456789.eE".utf8.contains(bytes[index]) { index += 1 }
        guard index > start, let value = Double(String(decoding: bytes[start..<index], as: UTF8.self)) else {
            return nil
        }
        return .number(value)
    }

    /// A string at `index` (its opening quote), unescaped; nil when malformed.
    private mutating func string() -> String? {
        guard expect("\"") else { return nil }
        var out: [UInt8] = []
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(validating: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard index < bytes.endIndex else { return nil }
                let escape = bytes[index]
                index += 1
                switch escape {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(escape)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "u"):
                    guard var scalar = hex4() else { return nil }
                    if (0xD800..<0xDC00).contains(scalar) {
                        guard expect("\\"), expect("u"), let low = hex4(), (0xDC00..<0xE000).contains(low) else {
                            return nil
                        }
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    guard let character = Unicode.Scalar(scalar) else { return nil }
                    out += Array(String(character).utf8)
                default: return nil
                }
            case 0..<32: return nil
            default: out.append(byte)
            }
        }
        return nil
    }

    private mutating func hex4() -> UInt32? {
        guard bytes.endIndex - index >= 4 else { return nil }
        var value: UInt32 = 0
        for _ in 0..<4 {
            guard let digit = Character(UnicodeScalar(bytes[index])).hexDigitValue else { return nil }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }
}
