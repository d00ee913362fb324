/// A sender or recipient pattern of a mail policy, as the appliance writes them
/// (SPEC F9): `user@domain` (that address), `@domain` (that domain),
/// `@.domain` (any subdomain of it, not the domain itself), `user@` (that local
/// part at any domain), `*` (anyone). Matching ignores case.
public struct AddressPattern: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case address(String)
        case domain(String)
        case subdomains(of: String)
        case localPart(String)
        case anyone
    }

    public let kind: Kind

    /// nil when `text` is none of the five forms.
    public init?(_ text: String) {
        let pattern = text.lowercased()
        if pattern == "*" {
            kind = .anyone
            return
        }
        // A "*" is a pattern alone; inside one ("*@example.test") it would be taken literally.
        guard let at = pattern.firstIndex(of: "@"), pattern.lastIndex(of: "@") == at,
            !pattern.contains(where: { $0 == " " || $0 == "\t" || $0 == "," || $0 == "*" })
        else { return nil }
        let local = String(pattern[..<at])
        let domain = String(pattern[pattern.index(after: at)...])
        switch (local.isEmpty, domain.isEmpty) {
        case (true, true): return nil
        case (false, true): kind = .localPart(local)
        case (true, false):
            if domain.hasPrefix(".") {
                let parent = String(domain.dropFirst())
                guard !parent.isEmpty, !parent.hasPrefix(".") else { return nil }
                kind = .subdomains(of: parent)
            } else {
                kind = .domain(domain)
            }
        case (false, false):
            if domain.hasPrefix(".") { return nil }
            kind = .address(pattern)
        }
    }

    public func matches(_ address: String) -> Bool {
        let address = address.lowercased()
        guard let at = address.lastIndex(of: "@") else { return kind == .anyone }
        let local = address[..<at]
        let domain = address[address.index(after: at)...]
        switch kind {
        case .anyone: return true
        case .address(let exact): return address == exact
        case .domain(let name): return domain == name
        case .subdomains(let parent): return domain.hasSuffix("." + parent)
        case .localPart(let name): return local == name
        }
    }

    public var description: String {
        switch kind {
        case .anyone: return "*"
        case .address(let exact): return exact
        case .domain(let name): return "@" + name
        case .subdomains(let parent): return "@." + parent
        case .localPart(let name): return name + "@"
        }
    }
}
