// Location lookup with nginx's precedence. PLACEHOLDER API — the routing work
// replaces the body with the real matcher (exact, longest prefix, ^~, regex in
// order, nested locations, named locations).

/// How a location was declared.
public enum LocationKind: Sendable {
    case exact  // location = /x
    case prefix  // location /x
    case prefixNoRegex  // location ^~ /x
    case regex(caseless: Bool)  // location ~ re / ~* re
    case named  // location @name
}

/// A location's match specification and its payload, with nested locations.
public struct LocationEntry<L: Sendable>: Sendable {
    public let kind: LocationKind
    /// The literal path (exact/prefix), the regex source, or the name (without '@').
    public let pattern: String
    public let payload: L
    public let children: [LocationEntry<L>]
    public init(kind: LocationKind, pattern: String, payload: L, children: [LocationEntry<L>] = []) {
        self.kind = kind
        self.pattern = pattern
        self.payload = payload
        self.children = children
    }
}

/// The result of a lookup: the location and the regex captures (byte ranges into the path).
public struct LocationMatch<L: Sendable> {
    public let location: L
    public let captures: [Range<Int>]
    public init(location: L, captures: [Range<Int>]) {
        self.location = location
        self.captures = captures
    }
}

/// The compiled locations of one server.
public final class LocationIndex<L: Sendable>: Sendable {
    let entries: [LocationEntry<L>]

    /// Compiles the entries; throws RegexError for an invalid regular expression.
    public init(_ entries: [LocationEntry<L>]) throws {
        self.entries = entries
    }

    /// The location for a normalized URI path, or nil when nothing matches.
    public func match(_ path: UnsafeRawBufferPointer) -> LocationMatch<L>? {
        var best: LocationEntry<L>? = nil
        var bestLen = -1
        for e in entries {
            let p = Array(e.pattern.utf8)
            switch e.kind {
            case .exact:
                if p.elementsEqual(path) { return LocationMatch(location: e.payload, captures: []) }
            case .prefix, .prefixNoRegex:
                if path.count >= p.count && path.prefix(p.count).elementsEqual(p) && p.count > bestLen {
                    best = e
                    bestLen = p.count
                }
            default: break
            }
        }
        return best.map { LocationMatch(location: $0.payload, captures: []) }
    }

    /// A named location (`@name`, given without '@').
    public func named(_ name: String) -> L? {
        entries.first { if case .named = $0.kind { return $0.pattern == name } else { return false } }?.payload
    }
}
