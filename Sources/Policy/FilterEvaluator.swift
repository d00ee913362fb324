import MIME

/// Runs filters in order over one copy of a message (SPEC F8, F14):
/// header actions change the message the later conditions read; `skip-filters()`
/// stops the later filters, a final action (`smime-gateway`, `quarantine`, `drop`,
/// `bounce`, `deliver`) also stops the rest of its own filter's actions;
/// `smime-gateway-deferred` only marks (the last mark wins, a final action wins over it).
///
/// A condition that cannot be decided (`ConditionFailure`) ends the run with a `FilterError`
/// naming the filter: the message then fails instead of passing a filter meant to stop it.
public enum FilterEvaluator {
    /// The processor time the regular expressions of one run (one copy of one message) may
    /// take together. PCRE2's match limit stops one pathological match in milliseconds, but
    /// a message of a thousand text parts would pay it a thousand times; ordinary filters on
    /// ordinary mail take microseconds, so two seconds fail only a message built to stall.
    public static let matchingBudget: Duration = .seconds(2)

    /// `body`: pass the same cache to every run over one message (its message filters, each
    /// copy's content filters) and its body is walked once.
    public static func run(
        _ filters: [Filter], on message: inout Entity, context: FilterContext,
        matchingBudget: Duration = matchingBudget,
        body: MessageFacts.BodyCache = MessageFacts.BodyCache()
    ) throws(FilterError) -> FilterDecision {
        var decision = FilterDecision()
        decision.steps.reserveCapacity(filters.count)
        let facts = MessageFacts(message: message, context: context, matchingBudget: matchingBudget, body: body)
        filters: for filter in filters {
            let matched: Bool
            do {
                matched = try facts.holds(filter.condition)
            } catch {
                throw FilterError(filter: filter.name, reason: error.description)
            }
            var taken: [FilterAction] = []
            var stop = false
            for action in matched ? filter.actions : filter.otherwise {
                taken.append(action)
                switch action {
                case .smimeGateway(let profile):
                    decision.profile = profile
                    decision.finalTransform = true
                case .smimeGatewayDeferred(let profile):
                    decision.profile = profile
                case .quarantine(let name): decision.disposition = .quarantine(name)
                case .drop: decision.disposition = .drop
                case .bounce: decision.disposition = .bounce
                case .deliver: decision.disposition = .deliver
                case .skipFilters: stop = true
                case .insertHeader(let name, let value):
                    // After the existing fields: trace fields (Return-Path, Received) stay on top (RFC 5321 §4.4).
                    message.fields.append(HeaderField(name: name, value: value))
                    facts.headersChanged(message)
                case .stripHeader(let name):
                    message.removeFields(named: name)
                    facts.headersChanged(message)
                case .notify(let address): decision.notifications.append(address)
                }
                if action.isFinal {
                    decision.steps.append(FilterDecision.Step(filter: filter.name, matched: matched, actions: taken))
                    break filters
                }
            }
            decision.steps.append(FilterDecision.Step(filter: filter.name, matched: matched, actions: taken))
            if stop { break }
        }
        return decision
    }
}
