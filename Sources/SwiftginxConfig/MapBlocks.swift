// The `map` and `split_clients` blocks as compiled: a variable whose value is looked up
// from another value (exact keys, hostnames, regexes in order, a default), or chosen by
// nginx's MurmurHash2 percentage bands. The server evaluates them when a value uses the
// variable (Request/Variables.swift).

import SwiftginxRouting

/// A `map` block: the value of a variable chosen by another value.
public final class VariableMap: Sendable {
    public let source: ComplexValue
    /// Exact keys, lowercased (matching is case-insensitive, as nginx's hash lookup).
    public let exact: [String: ComplexValue]
    /// `hostnames`: ".example.com" (also matches "example.com") and "*.example.com"
    /// keys match subdomains; the longest suffix wins.
    public let wildcards: [(suffix: String, matchesBare: Bool, value: ComplexValue)]
    /// `hostnames`: "example.*" keys, stored as "example." (longest prefix wins).
    public let tailWildcards: [(prefix: String, value: ComplexValue)]
    /// `~` / `~*` keys in configuration order.
    public let regexes: [(Regex, ComplexValue)]
    public let defaultValue: ComplexValue?
    /// `hostnames`: a trailing dot of the source value is ignored.
    public let hostnames: Bool
    /// `volatile`: the value is not cached for the rest of the request.
    public let volatile: Bool

    public init(
        source: ComplexValue, exact: [String: ComplexValue],
        wildcards: [(suffix: String, matchesBare: Bool, value: ComplexValue)] = [],
        tailWildcards: [(prefix: String, value: ComplexValue)] = [],
        regexes: [(Regex, ComplexValue)], defaultValue: ComplexValue?, hostnames: Bool = false,
        volatile: Bool = false
    ) {
        self.source = source
        self.exact = exact
        self.wildcards = wildcards.sorted { $0.suffix.count > $1.suffix.count }
        self.tailWildcards = tailWildcards.sorted { $0.prefix.count > $1.prefix.count }
        self.regexes = regexes
        self.defaultValue = defaultValue
        self.hostnames = hostnames
        self.volatile = volatile
    }

    /// The value for `key` (the evaluated source), or the default.
    public func lookup(_ key: [UInt8]) -> ComplexValue? { lookupWithCaptures(key)?.0 }

    /// The same, with the regex and its captures when a `~` key decided (the value may
    /// use them: `$1`, named groups). nginx's order: exact key (".x" keys also match "x"),
    /// then the longest leading wildcard, the longest trailing wildcard, regexes in order, the default.
    public func lookupWithCaptures(_ key: [UInt8]) -> (ComplexValue, Regex?, [Range<Int>])? {
        var key = key
        if hostnames, key.last == UInt8(ascii: ".") { key.removeLast() }
        let lower = String(decoding: key, as: UTF8.self).lowercased()
        if let v = exact[lower] { return (v, nil, []) }
        for w in wildcards where w.matchesBare && "." + lower == w.suffix { return (w.value, nil, []) }
        for w in wildcards where lower.hasSuffix(w.suffix) && lower.count > w.suffix.count {
            return (w.value, nil, [])
        }
        for w in tailWildcards where lower.hasPrefix(w.prefix) && lower.count > w.prefix.count {
            return (w.value, nil, [])
        }
        for (regex, value) in regexes {
            if let captures = key.withUnsafeBytes({ regex.match($0) }) { return (value, regex, captures) }
        }
        return defaultValue.map { ($0, nil, []) }
    }
}

/// A `split_clients` block: a value chosen by the MurmurHash2 of a string, in
/// percentage bands, exactly as nginx splits (same client, same band).
public final class SplitClients: Sendable {
    public let source: ComplexValue
    /// Upper hash bound of each band (exclusive) and its value; `*` is UInt32.max + 1.
    public let bands: [(bound: UInt64, value: ComplexValue)]

    public init(source: ComplexValue, bands: [(bound: UInt64, value: ComplexValue)]) {
        self.source = source
        self.bands = bands
    }

    public func lookup(_ key: [UInt8]) -> ComplexValue? {
        let h = UInt64(SplitClients.murmurHash2(key))
        for b in bands where h < b.bound { return b.value }
        return nil
    }

    /// nginx's ngx_murmur_hash2.
    public static func murmurHash2(_ data: [UInt8]) -> UInt32 {
        let m: UInt32 = 0x5bd1_e995
        var h = UInt32(truncatingIfNeeded: data.count)
        var i = 0
        while data.count - i >= 4 {
            var k = UInt32(data[i]) | UInt32(data[i + 1]) << 8 | UInt32(data[i + 2]) << 16 | UInt32(data[i + 3]) << 24
            k = k &* m
            k ^= k >> 24
            k = k &* m
            h = h &* m
            h ^= k
            i += 4
        }
        let rest = data.count - i
        if rest == 3 { h ^= UInt32(data[i + 2]) << 16 }
        if rest >= 2 { h ^= UInt32(data[i + 1]) << 8 }
        if rest >= 1 {
            h ^= UInt32(data[i])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return h
    }
}
