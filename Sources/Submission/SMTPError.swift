/// Why a submission could not be made. `usage` is a configuration error (exit 2);
/// `connection` is anything on the way to a server that can accept mail — it cannot be
/// reached, it refuses us at the greeting, TLS or AUTH fails, the connection drops — so
/// the mail waits for the next run (deferred), never bounces.
public enum SMTPError: Error, CustomStringConvertible, Sendable, Equatable {
    case usage(String)
    case connection(String)

    public var description: String {
        switch self {
        case .usage(let reason), .connection(let reason): return reason
        }
    }
}
