import CPCRE2

/// A regular expression of the filter language, compiled once per run by PCRE2
/// (the engine mail filters use), with its JIT where the machine has one.
/// Searches, as the appliance's `==` does: `"^DROPME"` anchors, `"confidential"`
/// matches anywhere; `(?i)` makes it ignore case. Subjects are UTF-8 text.
///
/// Sendable: after `init` the compiled code and the match context are only read;
/// PCRE2 documents both (and JIT code) as safe to share between threads, and each
/// `matches` call uses its own match data.
public final class Pattern: @unchecked Sendable, CustomStringConvertible {
    /// A pattern PCRE2 refuses: its message and the 0-based offset in the pattern.
    public struct CompileError: Error, Sendable, Equatable {
        public let offset: Int
        public let reason: String
    }

    /// PCRE2 gave up on a text before it knew whether the pattern matches (its match, depth or
    /// heap limit, or no memory): the text was not searched to its end, so the filter cannot
    /// decide and must not read this as "no match" — a sender could otherwise pad a message
    /// until a filter looks away.
    public struct MatchFailure: Error, Sendable, Equatable, CustomStringConvertible {
        /// The pattern as written in the policy.
        public let pattern: String
        /// PCRE2's (negative) error number, e.g. PCRE2_ERROR_MATCHLIMIT.
        public let code: Int32
        /// PCRE2's message for it ("match limit exceeded").
        public let reason: String

        public var description: String { "regular expression \"\(pattern)\" failed: \(reason)" }
    }

    /// At most this many backtracking steps per match: a pathological pattern on hostile
    /// text stops (as a `MatchFailure`) instead of stalling a worker.
    static let matchLimit: UInt32 = 5_000_000

    public let source: String
    private let code: OpaquePointer
    /// For an ASCII pattern, the same pattern compiled without UTF mode, used on ASCII text.
    /// On ASCII text both give the same answers — no character there is more than one byte,
    /// and the only non-ASCII case partners of ASCII letters (ſ of s, the Kelvin sign of k)
    /// cannot occur — but UTF mode cannot use its fast scan for `(?i)` patterns with an s or
    /// a k in them: six times slower on 4 KB of mail.
    private let asciiCode: OpaquePointer?
    private let context: OpaquePointer?

    public init(_ source: String) throws(CompileError) {
        self.source = source
        var error: Int32 = 0
        var offset = 0
        let bytes = Array(source.utf8)
        let compiled = bytes.withUnsafeBufferPointer {
            pcre2_compile_8($0.baseAddress, $0.count, UInt32(PCRE2_UTF), &error, &offset, nil)
        }
        guard let compiled else {
            var message = [UInt8](repeating: 0, count: 256)
            let n = pcre2_get_error_message_8(error, &message, message.count)
            throw CompileError(offset: offset, reason: String(decoding: message.prefix(max(0, Int(n))), as: UTF8.self))
        }
        code = compiled
        _ = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE))  // without a JIT, PCRE2 interprets
        // \x{100} and above have no byte form: such a pattern keeps UTF mode only.
        asciiCode =
            source.utf8.allSatisfy { $0 < 0x80 }
            ? bytes.withUnsafeBufferPointer { pcre2_compile_8($0.baseAddress, $0.count, 0, &error, &offset, nil) }
            : nil
        if let asciiCode { _ = pcre2_jit_compile_8(asciiCode, UInt32(PCRE2_JIT_COMPLETE)) }
        context = pcre2_match_context_create_8(nil)
        if let context { pcre2_set_match_limit_8(context, Self.matchLimit) }
    }

    deinit {
        pcre2_code_free_8(code)
        if let asciiCode { pcre2_code_free_8(asciiCode) }
        if let context { pcre2_match_context_free_8(context) }
    }

    /// Whether the pattern matches anywhere in `text`.
    ///
    /// The JIT runs on a fixed 32 KiB stack, which a group under repetition such as `(.|\n)*`
    /// exhausts on a few kilobytes of ordinary text; that match is run again by the
    /// interpreter (PCRE2_NO_JIT), which keeps its backtracking frames on the heap. Any other
    /// failure is thrown: only PCRE2_ERROR_NOMATCH means no match.
    public func matches(_ text: String) throws(MatchFailure) -> Bool {
        guard let data = pcre2_match_data_create_8(1, nil) else { throw failure(PCRE2_ERROR_NOMEMORY) }
        defer { pcre2_match_data_free_8(data) }
        var text = text
        let result = text.withUTF8 { utf8 in
            // Byte mode on ASCII text; else UTF mode, whose input (a Swift string) is valid UTF-8 already.
            let (compiled, options) =
                asciiCode.map { Self.isASCII(utf8) ? ($0, UInt32(0)) : (code, UInt32(PCRE2_NO_UTF_CHECK)) }
                ?? (code, UInt32(PCRE2_NO_UTF_CHECK))
            let rc = pcre2_match_8(compiled, utf8.baseAddress, utf8.count, 0, options, data, context)
            guard rc == PCRE2_ERROR_JIT_STACKLIMIT else { return rc }
            return pcre2_match_8(
                compiled, utf8.baseAddress, utf8.count, 0, options | UInt32(PCRE2_NO_JIT), data, context)
        }
        if result >= 0 { return true }
        if result == PCRE2_ERROR_NOMATCH { return false }
        throw failure(result)
    }

    /// Whether every byte is ASCII, eight at a time (this runs before each match on a text).
    static func isASCII(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let base = bytes.baseAddress else { return true }
        var index = 0
        while index + 8 <= bytes.count {
            if UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 != 0 {
                return false
            }
            index += 8
        }
        while index < bytes.count {
            if base[index] >= 0x80 { return false }
            index += 1
        }
        return true
    }

    private func failure(_ code: Int32) -> MatchFailure {
        var message = [UInt8](repeating: 0, count: 256)
        let n = pcre2_get_error_message_8(code, &message, message.count)
        let reason = n > 0 ? String(decoding: message.prefix(Int(n)), as: UTF8.self) : "PCRE2 error \(code)"
        return MatchFailure(pattern: source, code: code, reason: reason)
    }

    public var description: String { source }
}
