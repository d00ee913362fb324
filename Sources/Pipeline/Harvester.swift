import CMS
import Foundation
import Keystore
import Locking

/// The run's one writer of harvested certificates (SPEC F21–F23): workers hand it what they found
/// with each result, and it stores them before that message's record is written, so an alert can
/// be named in the record. A certificate already handled in this run costs no transaction.
///
/// Unchecked Sendable: the keystore is only touched inside `state`'s lock.
public final class Harvester: @unchecked Sendable {
    public struct Summary: Sendable, Equatable {
        public var stored = 0
        public var seen = 0
        public var skipped = 0
        public var evicted = 0
        public var alerts: [String] = []
        public var problems: [String] = []

        public init() {}
    }

    private struct State {
        var summary = Summary()
        /// The latest text of each alert raised in this run, by address or domain, in order.
        var alerts: [(name: String, text: String)] = []
        /// Fingerprint → whether it was handled as verified in this run.
        var handled: [String: Bool] = [:]
    }

    private let keystore: Keystore
    private let state = Locked(State())

    public init(keystore: Keystore) { self.keystore = keystore }

    /// Stores `candidates`; returns the alerts they raised and a problem, if storing failed.
    func store(_ candidates: [HarvestCandidate], rules: HarvestRules) -> (alerts: [String], problem: String?) {
        state.withLock { state in
            var alerts: [String] = []
            var problem: String? = nil
            for candidate in candidates {
                let fingerprint = candidate.certificate.sha256Fingerprint
                if let verified = state.handled[fingerprint], verified || !candidate.verified {
                    state.summary.seen += 1
                    continue
                }
                do {
                    let result = try keystore.harvest(candidate, rules: rules)
                    state.handled[fingerprint] = candidate.verified
                    switch result.action {
                    case .stored: state.summary.stored += 1
                    case .seen: state.summary.seen += 1
                    case .skipped: state.summary.skipped += 1
                    }
                    state.summary.evicted += result.evicted
                    for alert in result.alerts {
                        if let index = state.alerts.firstIndex(where: { $0.name == alert.name }) {
                            state.alerts[index].text = alert.text
                        } else {
                            state.alerts.append((alert.name, alert.text))
                        }
                    }
                    alerts += result.alerts.map(\.text)
                } catch {
                    problem = "harvest: \(error)"
                    state.summary.problems.append("\(candidate.message): \(error)")
                }
            }
            return (alerts, problem)
        }
    }

    /// What the run harvested; `alerts` holds one line per address or domain, its latest.
    public var summary: Summary {
        state.withLock { state in
            var summary = state.summary
            summary.alerts = state.alerts.map(\.text)
            return summary
        }
    }
}
