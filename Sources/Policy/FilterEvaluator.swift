import MIME

/// Runs filters in order over one copy of a message (SPEC F8, F14):
/// header actions change the message the later conditions read; `skip-filters()`
/// stops the later filters, a final action (`smime-gateway`, `quarantine`, `drop`,
/// `bounce`, `deliver`) also stops the rest of its own filter's actions;
/// `smime-gateway-deferred` only marks (the last mark wins, a final action wins over it).
public enum FilterEvaluator {
    public static func run(_ filters: [Filter], on message: inout Entity, context: FilterContext) -> FilterDecision {
        var decision = FilterDecision()
        let facts = MessageFacts(message: message, context: context)
        filters: for filter in filters {
            let matched = facts.holds(filter.condition)
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
