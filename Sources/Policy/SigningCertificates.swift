/// The organisation's certificates, as far as a sending profile needs them: is
/// there one of that name, and may it sign now (SPEC F18)? The checks themselves
/// live in PKI, which Policy cannot see, hence this protocol.
public protocol SigningCertificates {
    /// nil when there is no certificate named `name`; else every reason it cannot
    /// sign now (expired, wrong key usage, ...), empty when it can.
    func signingProblems(ofCertificate name: String) throws -> [String]?
}
