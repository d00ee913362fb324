/// Why a certificate path was not accepted.
public enum ChainVerificationError: Error, Equatable, Sendable, CustomStringConvertible {
    /// OpenSSL found no valid path (its reason, such as "unable to get local issuer certificate").
    case untrusted(String)
    /// The path is valid but a key or a signature in it is below the `AlgorithmFloor`.
    case weakAlgorithms([AlgorithmWeakness])

    public var description: String {
        switch self {
        case .untrusted(let reason): reason
        case .weakAlgorithms(let weaknesses):
            "weak algorithms: \(weaknesses.map(\.description).joined(separator: ", "))"
        }
    }
}
