/// What became of an input message (DESIGN.md): the name of the outcome folder its
/// outputs go to, and of the manifest's `outcome`. `dropped` has no folder. A job's
/// outputs may go to several folders (a split: `encrypted` and `split`).
public enum Outcome: String, Sendable, CaseIterable {
    // Outgoing.
    case signed, encrypted, split, bounced, dropped
    // Incoming.
    case verified, decrypted, unverified
    // Both.
    case passed, failed
}
