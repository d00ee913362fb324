/// Which way mail goes through the gateway: outgoing mail is signed and encrypted
/// (SPEC F1–F9), incoming mail decrypted and verified (F10–F14).
public enum Direction: String, Sendable, CaseIterable {
    case outgoing, incoming
}
