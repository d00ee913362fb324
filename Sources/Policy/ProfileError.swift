/// Why `ProfileBook` refused, as a value the caller can switch on (the command
/// line maps each case to its exit code; nothing matches on the words).
public enum ProfileError: Error, Sendable, Equatable, CustomStringConvertible {
    /// There is no profile of that name.
    case notFound(String)
    /// A profile of that name exists and replacing was not asked for.
    case alreadyExists(String)
    /// The profile breaks its own rules or names a certificate that is missing or cannot sign.
    case invalid(String, problems: [String])
    /// The stored definition no longer decodes (written by another version, or edited by hand).
    case unreadable(String)
    /// A profile file was refused as a whole: every problem, each naming its profile or line.
    case rejected(problems: [String])
    /// The policy in force names the profile: deleting it would stop every run.
    case inUse(String)

    public var description: String {
        switch self {
        case .notFound(let name): "no profile named \"\(name)\" (see 'smimegate profile list')"
        case .alreadyExists(let name): "a profile named \"\(name)\" already exists"
        case .invalid(let name, let problems): "profile \(name): \(problems.joined(separator: "; "))"
        case .unreadable(let name): "profile \(name): the stored definition cannot be read"
        case .rejected(let problems): problems.joined(separator: "; ")
        case .inUse(let name):
            "profile \(name) is named by the loaded policy: load a policy without it first (see 'smimegate policy')"
        }
    }
}
