/// What became of an input message (DESIGN.md): the manifest's `outcome`, and the
/// folder under the run's output directory its outputs go to. `dropped` has no
/// folder; `quarantined(name)` goes to `quarantined/NAME/`, one maildir per
/// quarantine a filter names. A job's outputs may go to several folders (a split:
/// `encrypted` and `split`).
public enum Outcome: Hashable, Sendable, CustomStringConvertible {
    // Outgoing.
    case signed, encrypted, split, bounced
    // Incoming.
    case verified, decrypted, unverified
    // Archives (`process resign`, `process rekey`).
    case resigned, rekeyed
    // Both.
    case passed, failed, dropped
    case quarantined(String)

    /// The manifest's `outcome` (a quarantine's name is in its own field).
    public var name: String {
        switch self {
        case .signed: return "signed"
        case .encrypted: return "encrypted"
        case .split: return "split"
        case .bounced: return "bounced"
        case .verified: return "verified"
        case .decrypted: return "decrypted"
        case .unverified: return "unverified"
        case .resigned: return "resigned"
        case .rekeyed: return "rekeyed"
        case .passed: return "passed"
        case .failed: return "failed"
        case .dropped: return "dropped"
        case .quarantined: return "quarantined"
        }
    }

    /// The maildir under DIR, or nil (dropped).
    public var folder: String? {
        switch self {
        case .dropped: return nil
        case .quarantined(let name): return "quarantined/" + name
        default: return name
        }
    }

    /// The quarantine's name, for `quarantined`.
    public var quarantine: String? {
        if case .quarantined(let name) = self { return name }
        return nil
    }

    /// `quarantined/NAME` for a quarantine, the name otherwise (summaries).
    public var description: String { folder ?? name }

    /// One outcome for a message whose recipients got several copies: `failed` when one
    /// failed, else the first quarantine, else `bounced` when one bounced (each of these needs
    /// someone's attention); theirs when they agree; otherwise `split` (different copies).
    public static func combined(_ outcomes: [Outcome]) -> Outcome {
        guard let first = outcomes.first else { return .dropped }
        if outcomes.contains(.failed) { return .failed }
        if let held = outcomes.first(where: { $0.quarantine != nil }) { return held }
        if outcomes.contains(.bounced) { return .bounced }
        return outcomes.allSatisfy({ $0 == first }) ? first : .split
    }
}

/// Where one output file goes: an outcome's maildir, or DIR/notifications/ (notices
/// that filters send about a message, besides its own outcome).
public enum Folder: Hashable, Sendable {
    case outcome(Outcome)
    case notifications

    /// Messages the gateway wrote itself (DSNs, notices): sent with the null reverse-path `<>`
    /// (RFC 5321 §4.5.5, RFC 3834), so nothing answers them.
    public var generated: Bool { self == .outcome(.bounced) || self == .notifications }

    /// `--out-format mbox`: the mbox file under DIR ("signed.mbox", "quarantined/NAME.mbox").
    public var mboxFile: String? { path.map { $0 + ".mbox" } }

    /// The path under DIR; nil for an outcome without a folder.
    public var path: String? {
        switch self {
        case .outcome(let outcome): return outcome.folder
        case .notifications: return "notifications"
        }
    }
}
