/// What a filter does when its condition holds (SPEC F8, F14).
public enum FilterAction: Sendable, Equatable {
    /// Content filters: transform with this sending profile now; no later content filter runs.
    case smimeGateway(profile: String)
    /// Content filters: mark the copy for this profile, run the remaining filters, transform last.
    /// The last mark wins; a final `smimeGateway` wins over any mark.
    case smimeGatewayDeferred(profile: String)
    /// Deliver into DIR/quarantined/NAME/ (final).
    case quarantine(String)
    /// Deliver nowhere (final); the manifest records it.
    case drop
    /// An RFC 3464 DSN to the sender instead of delivery (final).
    case bounce
    /// Deliver now: no later filter of this kind runs.
    case deliver
    /// No later filter of this kind runs; the rest of this filter's actions do.
    case skipFilters
    case insertHeader(name: String, value: String)
    /// Removes every instance.
    case stripHeader(String)
    /// An RFC 5322 notice with the reason to this address, into DIR/notifications/.
    case notify(String)

    /// Whether no later action or filter runs after this one.
    public var isFinal: Bool {
        switch self {
        case .smimeGateway, .quarantine, .drop, .bounce, .deliver: return true
        default: return false
        }
    }
}

extension FilterAction: CustomStringConvertible {
    /// The action as the filter language writes it.
    public var description: String {
        func quoted(_ text: String) -> String {
            "\"" + text.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
        }
        switch self {
        case .smimeGateway(let profile): return "smime-gateway(\(quoted(profile)))"
        case .smimeGatewayDeferred(let profile): return "smime-gateway-deferred(\(quoted(profile)))"
        case .quarantine(let name): return "quarantine(\(quoted(name)))"
        case .drop: return "drop()"
        case .bounce: return "bounce()"
        case .deliver: return "deliver()"
        case .skipFilters: return "skip-filters()"
        case .insertHeader(let name, let value): return "insert-header(\(quoted(name)), \(quoted(value)))"
        case .stripHeader(let name): return "strip-header(\(quoted(name)))"
        case .notify(let address): return "notify(\(quoted(address)))"
        }
    }
}
