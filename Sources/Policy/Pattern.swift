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

    /// At most this many backtracking steps per match: a pathological pattern on hostile
    /// text stops (as no match) instead of stalling a worker.
    static let matchLimit: UInt32 = 5_000_000

    public let source: String
    private let code: OpaquePointer
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
        context = pcre2_match_context_create_8(nil)
        if let context { pcre2_set_match_limit_8(context, Self.matchLimit) }
    }

    deinit {
        pcre2_code_free_8(code)
        if let context { pcre2_match_context_free_8(context) }
    }

    /// Whether the pattern matches anywhere in `text`.
    public func matches(_ text: String) -> Bool {
        guard let data = pcre2_match_data_create_8(1, nil) else { return false }
        defer { pcre2_match_data_free_8(data) }
        var text = text
        return text.withUTF8 { utf8 in
            pcre2_match_8(code, utf8.baseAddress, utf8.count, 0, 0, data, context) >= 0
        }
    }

    public var description: String { source }
}
