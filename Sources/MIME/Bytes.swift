#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Byte-level helpers: messages are bytes, never Strings, until a value is read.
public enum LineEnding: Sendable, Equatable {
    case crlf, lf

    public var bytes: [UInt8] { self == .crlf ? [13, 10] : [10] }

    /// The style of the first line of `bytes` (LF files stay LF).
    public static func detect(_ bytes: [UInt8]) -> LineEnding { detect(bytes, from: 0) }

    /// The style of the first line of `bytes[start...]`.
    static func detect(_ bytes: [UInt8], from start: Int) -> LineEnding {
        guard start < bytes.count, let newline = bytes[start...].firstIndex(of: 10) else { return .crlf }
        return newline > start && bytes[newline - 1] == 13 ? .crlf : .lf
    }
}

extension Array where Element == UInt8 {
    /// Every line ending (CRLF, bare LF) written as CRLF. Bare CRs are left alone.
    public func toCRLF() -> [UInt8] {
        if isAllCRLF { return self }  // the common case: no copy
        var out: [UInt8] = []
        out.reserveCapacity(count + count / 32)
        for (i, byte) in enumerated() {
            if byte == 10 && (i == 0 || self[i - 1] != 13) { out.append(13) }
            out.append(byte)
        }
        return out
    }

    /// True when every LF is preceded by CR (memchr hops from line to line).
    public var isAllCRLF: Bool {
        withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return true }
            var position = 0
            while position < buffer.count {
                guard let found = memchr(base + position, 10, buffer.count - position) else { return true }
                let index = base.distance(to: found.assumingMemoryBound(to: UInt8.self))
                if index == 0 || base[index - 1] != 13 { return false }
                position = index + 1
            }
            return true
        }
    }

    /// Every CRLF written as LF.
    public func toLF() -> [UInt8] {
        if !contains(13) { return self }
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
        let newline: Int? = bytes.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress, let found = memchr(base + start, 10, buffer.count - start) else { return nil }
            return base.distance(to: found.assumingMemoryBound(to: UInt8.self))
        }
        guard let i = newline else {
            position = bytes.count
            return Line(start: start, contentEnd: bytes.count, end: bytes.count)
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
