/// A filter whose condition could not be decided on this message: a regular expression
/// that PCRE2 gave up on, the matching budget spent, text nested too deep to search.
/// A filter is a policy decision, so the message fails (closed) rather than passing as
/// if the condition were false, and the reason names the filter an operator has to look at.
public struct FilterError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The filter's name in the policy file.
    public let filter: String
    /// Why its condition could not be decided.
    public let reason: String

    public init(filter: String, reason: String) {
        self.filter = filter
        self.reason = reason
    }

    public var description: String { "filter \(filter): \(reason)" }
}
