#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// RFC 2045 §6.8 base64. Decoding skips line breaks and white space but rejects
/// any other character and a truncated final group, so broken input is an error
/// rather than silently different bytes.
public enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
    private static let table: [UInt8] = {
        var t = [UInt8](repeating: 0xFF, count: 256)
        for (i, c) in alphabet.enumerated() { t[Int(c)] = UInt8(i) }
        return t
    }()

    /// Per position in a group of four characters, each character's six bits shifted to their place
    /// in the group's 24 bits, or `invalid` for a byte outside the alphabet: a whole group decodes
    /// with four look-ups and one comparison (index: position × 256 + byte).
    private static let invalid: UInt32 = 1 << 24
    private static let placed: [UInt32] = {
        var t = [UInt32](repeating: invalid, count: 4 * 256)
        for (i, c) in alphabet.enumerated() {
            for position in 0..<4 { t[position * 256 + Int(c)] = UInt32(i) << (18 - 6 * UInt32(position)) }
        }
        return t
    }()

    /// Twelve bits to their two characters, the first in the low byte: a group of three bytes
    /// encodes with two look-ups.
    private static let pairs: [UInt16] = (0..<4096).map { UInt16(alphabet[$0 >> 6]) | UInt16(alphabet[$0 & 63]) << 8 }

    /// Encodes with lines of `lineLength` characters (a multiple of 4), each ended by `ending`.
    public static func encode(_ bytes: [UInt8], lineLength: Int = 76, ending: LineEnding = .crlf) -> [UInt8] {
        let groups = (bytes.count + 2) / 3
        let characters = groups * 4
        let perLine = max(4, lineLength / 4 * 4)
        let lines = characters / perLine + (characters % perLine == 0 ? 0 : 1)  // no overflow for any lineLength
        let bytesPerLine = perLine / 4 * 3
        let eol = ending.bytes
        let capacity = characters + lines * eol.count
        return [UInt8](unsafeUninitializedCapacity: capacity) { out, initialized in
            alphabet.withUnsafeBufferPointer { table in
                pairs.withUnsafeBufferPointer { pairs in
                    bytes.withUnsafeBufferPointer { input in
                        var o = 0
                        var i = 0
                        // Line by line, so the inner loop has no column to count; only the last line
                        // can end in an incomplete group.
                        while i < input.count {
                            let end = input.count - i > bytesPerLine ? i + bytesPerLine : input.count
                            let whole = end - (end - i) % 3
                            while i < whole {
                                let n = Int(input[i]) << 16 | Int(input[i + 1]) << 8 | Int(input[i + 2])
                                let high = pairs[n >> 12]
                                let low = pairs[n & 4095]
                                out[o] = UInt8(truncatingIfNeeded: high)
                                out[o + 1] = UInt8(truncatingIfNeeded: high >> 8)
                                out[o + 2] = UInt8(truncatingIfNeeded: low)
                                out[o + 3] = UInt8(truncatingIfNeeded: low >> 8)
                                o += 4
                                i += 3
                            }
                            if i < end {
                                let two = end - i == 2
                                let n = UInt32(input[i]) << 16 | (two ? UInt32(input[i + 1]) << 8 : 0)
                                out[o] = table[Int(n >> 18)]
                                out[o + 1] = table[Int(n >> 12 & 63)]
                                out[o + 2] = two ? table[Int(n >> 6 & 63)] : 61
                                out[o + 3] = 61
                                o += 4
                                i = end
                            }
                            for b in eol { out[o] = b; o += 1 }
                        }
                        initialized = o
                    }
                }
            }
        }
    }

    public static func decode(_ bytes: [UInt8]) throws -> [UInt8] {
        var failure: MIMEError? = nil
        let out = [UInt8](unsafeUninitializedCapacity: bytes.count / 4 * 3 + 3) { out, initialized in
            table.withUnsafeBufferPointer { table in
                placed.withUnsafeBufferPointer { placed in
                    bytes.withUnsafeBufferPointer { input in
                        var o = 0
                        var quad: UInt32 = 0
                        var count = 0
                        var padding = 0
                        var i = 0
                        while i < input.count {
                            // The fast way: four characters of the alphabet at the start of a group.
                            if count == 0, padding == 0, input.count - i >= 4 {
                                let last = input.count - 4
                                while i <= last {
                                    let n =
                                        placed[Int(input[i])] | placed[256 + Int(input[i + 1])]
                                        | placed[512 + Int(input[i + 2])] | placed[768 + Int(input[i + 3])]
                                    if n >= invalid { break }
                                    out[o] = UInt8(truncatingIfNeeded: n >> 16)
                                    out[o + 1] = UInt8(truncatingIfNeeded: n >> 8)
                                    out[o + 2] = UInt8(truncatingIfNeeded: n)
                                    o += 3
                                    i += 4
                                }
                            }
                            guard i < input.count else { break }
                            // One character the slow way: a line break, padding, a group split by
                            // white space, or an error.
                            let b = input[i]
                            i += 1
                            let v = table[Int(b)]
                            if v < 64 {
                                if padding > 0 {
                                    failure = MIMEError("broken base64: data after padding")
                                    break
                                }
                                quad = quad << 6 | UInt32(v)
                                count += 1
                                if count == 4 {
                                    out[o] = UInt8(quad >> 16 & 0xFF)
                                    out[o + 1] = UInt8(quad >> 8 & 0xFF)
                                    out[o + 2] = UInt8(quad & 0xFF)
                                    o += 3
                                    quad = 0
                                    count = 0
                                }
                            } else if b == 61 {
                                padding += 1
                            } else if b != 13 && b != 10 && b != 32 && b != 9 {
                                failure = MIMEError("broken base64: invalid character 0x\(String(b, radix: 16))")
                                break
                            }
                        }
                        if failure == nil {
                            switch (count, padding) {
                            case (0, 0): break
                            case (2, 2):
                                out[o] = UInt8(quad >> 4 & 0xFF)
                                o += 1
                            case (3, 1):
                                out[o] = UInt8(quad >> 10 & 0xFF)
                                out[o + 1] = UInt8(quad >> 2 & 0xFF)
                                o += 2
                            case (0, _): failure = MIMEError("broken base64: stray padding")
                            case (_, 0): failure = MIMEError("truncated base64: the final group is incomplete")
                            default: failure = MIMEError("broken base64: bad padding")
                            }
                        }
                        initialized = o
                    }
                }
            }
        }
        if let failure { throw failure }
        return out
    }

    /// The bytes a forgiving reader gets from broken base64: every character outside the
    /// alphabet is skipped, and `=` ends the group it is in (so two encodings run together
    /// both decode). For scanning content, where rejecting the part would hide its text
    /// from the scanner while a mail client still shows it; never for bytes to verify.
    public static func decodeLeniently(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count / 4 * 3 + 3)
        var quad: UInt32 = 0
        var count = 0
        func flush() {
            // Two characters carry one byte, three carry two; one alone carries none.
            if count >= 2 { out.append(UInt8(truncatingIfNeeded: quad >> (count == 2 ? 4 : 10))) }
            if count == 3 { out.append(UInt8(truncatingIfNeeded: quad >> 2)) }
            quad = 0
            count = 0
        }
        for b in bytes {
            let v = table[Int(b)]
            if v < 64 {
                quad = quad << 6 | UInt32(v)
                count += 1
                if count == 4 {
                    out.append(UInt8(quad >> 16 & 0xFF))
                    out.append(UInt8(quad >> 8 & 0xFF))
                    out.append(UInt8(quad & 0xFF))
                    quad = 0
                    count = 0
                }
            } else if b == 61 {
                flush()
            }
        }
        flush()
        return out
    }
}

/// RFC 2045 §6.7 quoted-printable.
public enum QuotedPrintable {
    private static let hex = Array("0123456789ABCDEF".utf8)

    /// Encodes text whose lines end in LF or CRLF; output lines end in `ending`.
    /// Also protects lines beginning "From " (=46rom) and trailing white space,
    /// so that the text survives mbox delivery and whitespace-stripping relays (RFC 8551 §3.1.1).
    public static func encode(_ bytes: [UInt8], ending: LineEnding = .crlf) -> [UInt8] {
        let eol = ending.bytes
        // At most three characters a byte, a soft break ("=" and a line ending) per 73 characters
        // written, and a line ending for each line.
        let capacity = 3 * bytes.count + (bytes.count / 24 + 2) * (1 + eol.count) + (bytes.count + 1) * eol.count
        return [UInt8](unsafeUninitializedCapacity: capacity) { out, initialized in
            var o = 0
            bytes.withUnsafeBufferPointer { input in
                guard let base = input.baseAddress else { return }
                var start = 0
                while start < input.count {
                    // One line: up to LF (or the end); its CR, if any, is part of the line break.
                    let end =
                        memchr(base + start, 10, input.count - start).map {
                            base.distance(to: $0.assumingMemoryBound(to: UInt8.self))
                        } ?? input.count
                    let hasBreak = end < input.count
                    let contentEnd = hasBreak && end > start && input[end - 1] == 13 ? end - 1 : end
                    var column = 0
                    var i = start
                    while i < contentEnd {
                        let b = input[i]
                        var literal = (b >= 33 && b <= 126 && b != 61) || ((b == 32 || b == 9) && i != contentEnd - 1)
                        if i == start
                            && (b == 46
                                || (b == 70 && contentEnd - start >= 5 && input[start + 1] == 114
                                    && input[start + 2] == 111 && input[start + 3] == 109 && input[start + 4] == 32))
                        {
                            literal = false  // "." alone and "From " at the start of a line
                        }
                        if column + (literal ? 1 : 3) > 75 {
                            out[o] = 61
                            o += 1
                            for e in eol { out[o] = e; o += 1 }
                            column = 0
                        }
                        if literal {
                            out[o] = b
                            o += 1
                            column += 1
                        } else {
                            out[o] = 61
                            out[o + 1] = hex[Int(b >> 4)]
                            out[o + 2] = hex[Int(b & 15)]
                            o += 3
                            column += 3
                        }
                        i += 1
                    }
                    if hasBreak { for e in eol { out[o] = e; o += 1 } }
                    start = end + 1
                }
            }
            initialized = o
        }
    }

    /// Lenient decoding (RFC 2045 §6.7 note 4): malformed escapes are kept literally.
    public static func decode(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        func hexValue(_ b: UInt8) -> UInt8? {
            switch b {
            case 48...57: b - 48
            case 65...70: b - 55
            case 97...102: b - 87
            default: nil
            }
        }
        while i < bytes.count {
            let b = bytes[i]
            if b == 61 {
                if i + 1 < bytes.count, bytes[i + 1] == 10 { i += 2; continue }
                if i + 2 < bytes.count, bytes[i + 1] == 13, bytes[i + 2] == 10 { i += 3; continue }
                if i + 2 < bytes.count, let h = hexValue(bytes[i + 1]), let l = hexValue(bytes[i + 2]) {
                    out.append(h << 4 | l)
                    i += 3
                    continue
                }
            }
            out.append(b)
            i += 1
        }
        return out
    }
}
