import COpenSSL

/// An OpenSSL failure: the operation we attempted and the reason strings that
/// OpenSSL left on this thread's error queue (swift-nio-ssl's `SSLErrors` shape).
public struct OpenSSLError: Error, CustomStringConvertible, Sendable, Equatable {
    public let operation: String
    public let reasons: [String]

    public init(operation: String, reasons: [String]) {
        self.operation = operation
        self.reasons = reasons
    }

    public var description: String {
        reasons.isEmpty ? operation : "\(operation): \(reasons.joined(separator: "; "))"
    }

    /// Takes every queued error off this thread's queue.
    static func drain(_ operation: String) -> OpenSSLError {
        var reasons: [String] = []
        while true {
            let code = ERR_get_error()
            if code == 0 { break }
            let text: String
            if let reason = ERR_reason_error_string(code) {
                text = String(cString: reason)
            } else {
                var buffer = [CChar](repeating: 0, count: 256)
                ERR_error_string_n(code, &buffer, buffer.count)
                text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            if !reasons.contains(text) { reasons.append(text) }
        }
        return OpenSSLError(operation: operation, reasons: reasons)
    }

    /// Clears stale errors before an operation so its failure reports only its own reasons.
    static func clear() { ERR_clear_error() }
}
