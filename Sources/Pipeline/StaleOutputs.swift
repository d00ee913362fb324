import Foundation
import Locking

/// Outputs a killed run delivered but never recorded. Output names begin with a hash of
/// the input's identity and bytes, so when an unrecorded input is processed again its
/// earlier outputs are found by that prefix — whatever folder the earlier decision sent
/// them to (a policy or a keystore changed in between sends the same message elsewhere) —
/// and removed once the new ones are delivered: no copy is delivered twice, none is lost.
/// Found once, at the start of a run, and only after a run that did not end cleanly.
final class StaleOutputs: Sendable {
    private let byPrefix: Locked<[String: [String]]>

    init(_ byPrefix: [String: [String]] = [:]) { self.byPrefix = Locked(byPrefix) }

    /// Every file in the `new/` of every maildir under `directory` (outcome folders, quarantines,
    /// notifications), by the name's hash prefix.
    static func scan(_ directory: String) -> StaleOutputs {
        var found: [String: [String]] = [:]
        let fm = FileManager.default
        var folders: [String] = []
        for entry in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + entry
            if fm.fileExists(atPath: path + "/new") { folders.append(path) }
            if entry == "quarantined" {
                for name in (try? fm.contentsOfDirectory(atPath: path)) ?? [] { folders.append(path + "/" + name) }
            }
        }
        for folder in folders {
            for file in (try? fm.contentsOfDirectory(atPath: folder + "/new")) ?? [] {
                // Only our output names (24 hex digits, a dot, ...): a spool or a --consumed-into maildir
                // kept under DIR holds other names, which are never touched.
                guard let dot = file.firstIndex(of: "."), file.distance(from: file.startIndex, to: dot) == 24,
                    file[..<dot].allSatisfy({ $0.isHexDigit && !$0.isUppercase })
                else { continue }
                found[String(file[..<dot]), default: []].append(folder + "/new/" + file)
            }
        }
        return StaleOutputs(found)
    }

    /// Removes the earlier outputs of the input whose names begin with `prefix`, except `keep`
    /// (the paths just delivered for it, which replaced any of the same name).
    func remove(prefix: String, keeping keep: Set<String>) {
        guard let paths = byPrefix.withLock({ $0.removeValue(forKey: prefix) }) else { return }
        for path in paths where !keep.contains(path) { unlink(path) }
    }
}
