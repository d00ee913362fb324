/// Byte-level helpers: messages are bytes, never Strings, until a value is read.
public enum LineEnding: Sendable, Equatable {
    case crlf, lf

    public var bytes: [UInt8] { self == .crlf ? [13, 10] : [10] }

    /// The style of the first line of `bytes` (LF files stay LF).
    public static func detect(_ bytes: [UInt8]) -> LineEnding {
        guard let newline = bytes.firstIndex(of: 10) else { return .crlf }
        return newline > 0 && bytes[newline - 1] == 13 ? .crlf : .lf
    }
}

extension Array where Element == UInt8 {
    /// Every line ending (CRLF, bare LF) written as CRLF. Bare CRs are left alone.
    public func toCRLF() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count + count / 32)
        for (i, byte) in enumerated() {
            if byte == 10 && (i == 0 || self[i - 1] != 13) { out.append(13) }
            out.append(byte)
        }
        return out
    }

    /// Every CRLF written as LF.
    public func toLF() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(count)
        var i = 0
        while i < count {
            if self[i] == 13 && i + 1 < count && self[i + 1] == 10 {
                i += 1
                continue
            }
            out.append(self[i])
            i += 1
        }
        return out
    }

    public func converted(to ending: LineEnding) -> [UInt8] { ending == .crlf ? toCRLF() : toLF() }
}

/// One physical line: `start..<contentEnd` is the text, `contentEnd..<end` its terminator.
struct Line {
    let start: Int
    let contentEnd: Int
    let end: Int
}

/// Splits `bytes[from...]` into lines ending in LF or CRLF; the last line may have no terminator.
struct Lines: Sequence, IteratorProtocol {
    let bytes: [UInt8]
    var position: Int

    init(_ bytes: [UInt8], from: Int = 0) {
        self.bytes = bytes
        self.position = from
    }

    mutating func next() -> Line? {
        guard position < bytes.count else { return nil }
        let start = position
        var i = start
        while i < bytes.count && bytes[i] != 10 { i += 1 }
        if i == bytes.count {
            position = i
            return Line(start: start, contentEnd: i, end: i)
        }
        let contentEnd = i > start && bytes[i - 1] == 13 ? i - 1 : i
        position = i + 1
        return Line(start: start, contentEnd: contentEnd, end: i + 1)
    }
}

func ascii(_ s: String) -> [UInt8] { Array(s.utf8) }

func hasPrefixCaseInsensitive(_ bytes: ArraySlice<UInt8>, _ prefix: [UInt8]) -> Bool {
    guard bytes.count >= prefix.count else { return false }
    for (a, b) in zip(bytes, prefix) where lower(a) != lower(b) { return false }
    return true
}

@inline(__always) func lower(_ b: UInt8) -> UInt8 { (b >= 65 && b <= 90) ? b + 32 : b }
