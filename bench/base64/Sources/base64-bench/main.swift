// Times smimegate's base64 against swift-extras-base64 on what smimegate does with base64:
// encoding CMS output into 76-character CRLF lines (RFC 2045 §6.8) and decoding such lines, plus
// the same without line breaks (what the other package is built for). Thread CPU time, best of
// seven alternating rounds of at least 0.1 s; MB/s of raw (decoded) bytes. Checks both give the same bytes.
import ExtrasBase64
import OurBase64

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

func cpuSeconds() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

/// MB/s of `ours` and `theirs` over `bytes` raw bytes: each the best of seven rounds of at least
/// 0.1 s, the two alternating so that the machine's drift hits both alike.
func rates(bytes: Int, _ ours: () -> Int, _ theirs: () -> Int) -> (Double, Double) {
    var best = (0.0, 0.0)
    var sink = 0
    func round(_ body: () -> Int) -> Double {
        var runs = 0
        let start = cpuSeconds()
        var elapsed = 0.0
        repeat {
            sink &+= body()
            runs += 1
            elapsed = cpuSeconds() - start
        } while elapsed < 0.1
        return Double(runs * bytes) / elapsed / 1e6
    }
    for _ in 0..<7 {
        best.0 = max(best.0, round(ours))
        best.1 = max(best.1, round(theirs))
    }
    if sink == 42 { print("") }  // keeps the work from being optimised away
    return best
}

/// swift-extras-base64 has no line breaks: a MIME encoder built on it encodes 57 bytes at a time
/// straight into the output and ends each line there (no second pass, no extra copy).
func extrasLines(_ raw: [UInt8]) -> [UInt8] {
    let lines = (raw.count + 56) / 57
    return [UInt8](capacity: ExtrasBase64.Base64.encodedLength(bytesCount: raw.count) + 2 * lines) { out in
        let span = raw.span
        var i = 0
        while i < raw.count {
            let end = min(i + 57, raw.count)
            ExtrasBase64.Base64.encode(bytes: span.extracting(i..<end), into: &out)
            out.append(13)
            out.append(10)
            i = end
        }
    }
}

/// And it accepts no line breaks: a MIME decoder built on it decodes line by line into the output
/// (which works only where every line holds whole groups, as 76-character lines do).
func extrasUnlines(_ text: [UInt8]) throws -> [UInt8] {
    try [UInt8](capacity: text.count / 4 * 3 + 3) { out in
        let span = text.span
        var start = 0
        while start < text.count {
            var end = start
            while end < text.count, text[end] != 10 { end += 1 }
            let stop = end > start && text[end - 1] == 13 ? end - 1 : end
            if stop > start { try ExtrasBase64.Base64.decode(bytes: span.extracting(start..<stop), into: &out) }
            start = end + 1
        }
    }
}

var generator = SystemRandomNumberGenerator()
print("| case | size | smimegate MB/s | swift-extras-base64 MB/s | smimegate ÷ extras |")
print("| --- | ---: | ---: | ---: | ---: |")
for size in [4096, 1 << 20] {
    let raw = (0..<size).map { _ in UInt8.random(in: 0...255, using: &generator) }
    let lines = OurBase64.Base64.encode(raw)
    let flat = ExtrasBase64.Base64.encodeToBytes(bytes: raw)
    guard extrasLines(raw) == lines, (try? extrasUnlines(lines)) == raw,
        (try? OurBase64.Base64.decode(lines)) == raw, (try? ExtrasBase64.Base64.decode(bytes: flat)) == raw
    else {
        print("the two disagree on \(size) bytes")
        exit(1)
    }
    let label = size < 1 << 20 ? "4 KiB" : "1 MiB"
    func row(_ name: String, ours: () -> Int, theirs: () -> Int) {
        let (a, b) = rates(bytes: size, ours, theirs)
        print("| \(name) | \(label) | \(Int(a)) | \(Int(b)) | \((a / b * 100).rounded() / 100) |")
    }
    row(
        "encode, 76-column CRLF lines", ours: { OurBase64.Base64.encode(raw).count },
        theirs: { extrasLines(raw).count })
    row(
        "encode, one line", ours: { OurBase64.Base64.encode(raw, lineLength: Int.max).count },
        theirs: { ExtrasBase64.Base64.encodeToBytes(bytes: raw).count })
    row(
        "decode, 76-column CRLF lines", ours: { (try? OurBase64.Base64.decode(lines))?.count ?? 0 },
        theirs: { (try? extrasUnlines(lines))?.count ?? 0 })
    row(
        "decode, one line", ours: { (try? OurBase64.Base64.decode(flat))?.count ?? 0 },
        theirs: { (try? ExtrasBase64.Base64.decode(bytes: flat))?.count ?? 0 })
}
