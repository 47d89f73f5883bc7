// Host → server lookup in nginx's order: the exact name; the longest leading
// wildcard ("*.example.com", or ".example.com" which also matches "example.com");
// the longest trailing wildcard ("www.example.*"); the first matching regular
// expression ("~^www\d+\.") in configuration order; else nil (the default server).
// Built once per listen address; a lookup on a non-regex name allocates nothing.

/// Maps Host header values to server indexes.
public final class ServerNameIndex: Sendable {
    let exact: ByteTable
    /// Keys are ".example.com" for both "*.example.com" and ".example.com".
    let leading: ByteTable
    /// Keys are "example.com" for ".example.com" (which also matches the bare name).
    let dotBare: ByteTable
    /// Keys are "www.example." for "www.example.*".
    let trailing: ByteTable
    let regexes: [(Regex, Int)]
    /// Some server_name is a regular expression (its captures become variables).
    public var hasRegexes: Bool { !regexes.isEmpty }

    /// `names`: each server's server_name list with its index. The first server that
    /// declares a name keeps it (nginx warns about the later ones and ignores them).
    /// Names starting with '~' are regular expressions (compiled caseless); one that does
    /// not compile is skipped (the configuration loader reports it first).
    public init(_ names: [([String], Int)]) {
        var exact: [([UInt8], Int)] = []
        var leading: [([UInt8], Int)] = []
        var dotBare: [([UInt8], Int)] = []
        var trailing: [([UInt8], Int)] = []
        var regexes: [(Regex, Int)] = []
        for (list, index) in names {
            for name in list {
                if name.hasPrefix("~") {
                    if let re = try? Regex(String(name.dropFirst()), caseless: true) { regexes.append((re, index)) }
                    continue
                }
                let bytes = Array(name.lowercased().utf8)
                if bytes.count > 2 && bytes[0] == UInt8(ascii: "*") && bytes[1] == UInt8(ascii: ".") {
                    leading.append((Array(bytes.dropFirst()), index))
                } else if bytes.count > 1 && bytes[0] == UInt8(ascii: ".") {
                    leading.append((bytes, index))
                    dotBare.append((Array(bytes.dropFirst()), index))
                } else if bytes.count > 2 && bytes[bytes.count - 1] == UInt8(ascii: "*")
                    && bytes[bytes.count - 2] == UInt8(ascii: ".")
                {
                    trailing.append((Array(bytes.dropLast()), index))
                } else {
                    exact.append((bytes, index))
                }
            }
        }
        self.exact = ByteTable(exact, caseInsensitive: true)
        self.leading = ByteTable(leading, caseInsensitive: true)
        self.dotBare = ByteTable(dotBare, caseInsensitive: true)
        self.trailing = ByteTable(trailing, caseInsensitive: true)
        self.regexes = regexes
    }

    /// Index of the server for a lowercased host without port, or nil for "use the default".
    public func match(_ host: UnsafeRawBufferPointer) -> Int? {
        var unused: (Regex, [Range<Int>])? = nil
        return match(host, captures: &unused)
    }

    /// The same lookup; when a `~regex` name decides, `captures` receives the regex and
    /// its capture ranges in `host` (nginx makes them variables: $1, named groups).
    public func match(_ host: UnsafeRawBufferPointer, captures: inout (Regex, [Range<Int>])?) -> Int? {
        if let i = exact.lookup(host) { return i }
        if host.isEmpty { return nil }
        // Leading wildcards: the longest suffix starts at the leftmost dot.
        if let i = dotBare.lookup(host) { return i }
        if leading.count > 0 {
            var p = 0
            while p < host.count {
                if host[p] == UInt8(ascii: "."), p > 0 {
                    if let i = leading.lookup(UnsafeRawBufferPointer(rebasing: host[p...])) { return i }
                }
                p += 1
            }
        }
        // Trailing wildcards: the longest prefix ends at the rightmost dot.
        if trailing.count > 0 {
            var p = host.count - 2
            while p >= 0 {
                if host[p] == UInt8(ascii: ".") {
                    if let i = trailing.lookup(UnsafeRawBufferPointer(rebasing: host[...p])) { return i }
                }
                p -= 1
            }
        }
        for (re, i) in regexes {
            if let c = re.match(host) {
                captures = (re, c)
                return i
            }
        }
        return nil
    }
}
