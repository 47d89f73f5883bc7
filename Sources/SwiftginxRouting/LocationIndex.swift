// Location lookup with nginx's precedence, precomputed once per server.
// At each level (the server, then inside the chosen location): an exact `=` match
// wins at once; otherwise the longest prefix (`^~` or plain) is chosen and its nested
// locations are searched first; then, unless that prefix is `^~`, this level's regex
// locations are tried in configuration order (the first match wins, and its own nested
// locations are searched); else the longest prefix stands. Named `@x` locations are
// only reachable through `named(_:)`. Lookups on exact and prefix locations allocate
// nothing; a regex match allocates its capture array.

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
    /// An already compiled regex for `.regex` entries (the index compiles `pattern` when nil).
    public let regex: Regex?
    public init(
        kind: LocationKind, pattern: String, payload: L, children: [LocationEntry<L>] = [], regex: Regex? = nil
    ) {
        self.kind = kind
        self.pattern = pattern
        self.payload = payload
        self.children = children
        self.regex = regex
    }
}

/// The result of a lookup: the location and the regex captures (byte ranges into the path).
public struct LocationMatch<L: Sendable> {
    public let location: L
    /// Empty unless a regex location took part: then index 0 is the whole match and
    /// index n is `$n` (a group that did not participate is `0..<0`).
    public let captures: [Range<Int>]
    /// The regex whose captures these are (for named groups), if any.
    public let regex: Regex?
    public init(location: L, captures: [Range<Int>], regex: Regex? = nil) {
        self.location = location
        self.captures = captures
        self.regex = regex
    }
}

/// The compiled locations of one server.
public final class LocationIndex<L: Sendable>: Sendable {
    // Nodes and levels are objects: reading one out of its array costs one reference
    // count, where a struct's copy counted each of its fields (seven per lookup).
    final class Node: Sendable {
        let payload: L
        let noRegex: Bool
        let regex: Regex?
        /// Index into `levels` of the nested locations, or -1.
        let children: Int
        /// How it was written ("= /x", "^~ /static/", "~* \\.jpg$"), for explanations.
        let written: String

        init(payload: L, noRegex: Bool, regex: Regex?, children: Int, written: String) {
            self.payload = payload
            self.noRegex = noRegex
            self.regex = regex
            self.children = children
            self.written = written
        }
    }

    final class Level: Sendable {
        let exact: ByteTable
        let prefix: ByteTable
        /// Distinct prefix lengths, longest first.
        let prefixLengths: [Int]
        /// Node indexes of regex locations in configuration order.
        let regexes: [Int]

        init(exact: ByteTable, prefix: ByteTable, prefixLengths: [Int], regexes: [Int]) {
            self.exact = exact
            self.prefix = prefix
            self.prefixLengths = prefixLengths
            self.regexes = regexes
        }

        // Lookups as methods of the level: the tables are read in place through `self`
        // (`level.exact.lookup(...)` from outside copied each table's arrays per call).
        @inline(never) func exactMatch(_ path: UnsafeRawBufferPointer) -> Int? { exact.lookup(path) }
        @inline(never) func prefixMatch(_ path: UnsafeRawBufferPointer) -> Int? { prefix.lookup(path) }
    }

    let nodes: [Node]
    /// Every location of the index (nested and named ones included), in written order.
    public var payloads: [L] { nodes.map(\.payload) }
    let levels: [Level]
    let namedLocations: [String: Int]
    /// The server-level locations (built last, after their nested levels).
    let rootLevel: Int

    /// Compiles the entries; throws RegexError for an invalid regular expression.
    public init(_ entries: [LocationEntry<L>]) throws(RegexError) {
        var nodes: [Node] = []
        var levels: [Level] = []
        var named: [String: Int] = [:]

        func build(_ entries: [LocationEntry<L>], top: Bool) throws(RegexError) -> Int {
            var exact: [([UInt8], Int)] = []
            var prefix: [([UInt8], Int)] = []
            var regexes: [Int] = []
            for entry in entries {
                var regex: Regex? = nil
                var noRegex = false
                switch entry.kind {
                case .regex(let caseless):
                    if let compiled = entry.regex {
                        regex = compiled
                    } else {
                        regex = try Regex(entry.pattern, caseless: caseless)
                    }
                case .prefixNoRegex: noRegex = true
                default: break
                }
                var children = -1
                if !entry.children.isEmpty { children = try build(entry.children, top: false) }
                let index = nodes.count
                let written: String
                switch entry.kind {
                case .exact: written = "= " + entry.pattern
                case .prefix: written = entry.pattern
                case .prefixNoRegex: written = "^~ " + entry.pattern
                case .regex(let caseless): written = (caseless ? "~* " : "~ ") + entry.pattern
                case .named: written = "@" + entry.pattern
                }
                nodes.append(
                    Node(payload: entry.payload, noRegex: noRegex, regex: regex, children: children, written: written))
                switch entry.kind {
                case .exact: exact.append((Array(entry.pattern.utf8), index))
                case .prefix, .prefixNoRegex: prefix.append((Array(entry.pattern.utf8), index))
                case .regex: regexes.append(index)
                case .named: if top && named[entry.pattern] == nil { named[entry.pattern] = index }
                }
            }
            let lengths = Set(prefix.map { $0.0.count }).sorted(by: >)
            levels.append(
                Level(exact: ByteTable(exact), prefix: ByteTable(prefix), prefixLengths: lengths, regexes: regexes))
            return levels.count - 1
        }
        self.rootLevel = try build(entries, top: true)
        self.nodes = nodes
        self.levels = levels
        self.namedLocations = named
    }

    /// Every location (nested ones included), in no particular order.
    public var all: [L] { nodes.map(\.payload) }

    /// The location for a normalized URI path, or nil when nothing matches.
    public func match(_ path: UnsafeRawBufferPointer) -> LocationMatch<L>? {
        var state = SearchState()
        var noTrace: [String]? = nil
        _ = find(level: rootLevel, path, &state, &noTrace)
        guard state.current >= 0 else { return nil }
        return LocationMatch(location: nodes[state.current].payload, captures: state.captures, regex: state.regex)
    }

    /// Convenience for tests and tools: matches a String path.
    public func match(_ path: String) -> LocationMatch<L>? {
        var s = path
        return s.withUTF8 { match(UnsafeRawBufferPointer($0)) }
    }

    /// The same search with a line for every decision nginx's precedence makes, for the
    /// route explainer (`swiftginx -x`).
    public func explain(_ path: String) -> (match: LocationMatch<L>?, trace: [String]) {
        var state = SearchState()
        var trace: [String]? = []
        var s = path
        _ = s.withUTF8 { find(level: rootLevel, UnsafeRawBufferPointer($0), &state, &trace) }
        let match =
            state.current >= 0
            ? LocationMatch(location: nodes[state.current].payload, captures: state.captures, regex: state.regex) : nil
        if state.current < 0 { trace?.append("no location matches: the server level's settings apply") }
        return (match, trace ?? [])
    }

    /// A named location (`@name`, given without '@').
    public func named(_ name: String) -> L? {
        namedLocations[name].map { nodes[$0].payload }
    }

    struct SearchState {
        var current = -1
        var captures: [Range<Int>] = []
        var regex: Regex? = nil
    }

    enum Found { case matched, inclusive, declined }

    /// One level of nginx's ngx_http_core_find_location recursion. `trace`, when not nil,
    /// collects the reasons (only the explainer passes one).
    private func find(
        level index: Int, _ path: UnsafeRawBufferPointer, _ state: inout SearchState, _ trace: inout [String]?
    ) -> Found {
        let level = levels[index]
        if let e = level.exactMatch(path) {
            state.current = e
            trace?.append("location \(nodes[e].written): exact match, search stops")
            return .matched
        }
        var result = Found.declined
        var noRegex = false
        for length in level.prefixLengths where length <= path.count {
            guard let p = level.prefixMatch(UnsafeRawBufferPointer(rebasing: path[0..<length])) else { continue }
            state.current = p
            result = .inclusive
            noRegex = nodes[p].noRegex
            trace?.append(
                "location \(nodes[p].written): longest matching prefix (\(length) bytes)"
                    + (noRegex ? ", ^~ so regular expressions are not checked" : ", remembered; regexes come next"))
            if nodes[p].children >= 0 {
                trace?.append("  looking inside \(nodes[p].written) first")
                if find(level: nodes[p].children, path, &state, &trace) == .matched { return .matched }
            }
            break
        }
        if !noRegex {
            for r in level.regexes {
                let node = nodes[r]
                guard let regex = node.regex, let captures = regex.match(path) else {
                    trace?.append("location \(node.written): regex does not match")
                    continue
                }
                state.current = r
                state.captures = captures
                state.regex = regex
                trace?.append("location \(node.written): first matching regex, it wins")
                if node.children >= 0 { _ = find(level: node.children, path, &state, &trace) }
                return .matched
            }
        }
        if result == .inclusive && !noRegex { trace?.append("no regex matched: the longest prefix wins") }
        return result
    }
}
