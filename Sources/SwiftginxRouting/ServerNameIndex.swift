// Host → server lookup. PLACEHOLDER API — the routing work replaces the body with
// nginx's order: exact, longest "*.x" / ".x" wildcard, longest "x.*", regex "~".

/// Maps Host header values to server indexes.
public final class ServerNameIndex: Sendable {
    let exact: [String: Int]

    /// `names`: each server's server_name list with its index.
    public init(_ names: [([String], Int)]) {
        var exact: [String: Int] = [:]
        for (list, i) in names { for n in list where exact[n] == nil { exact[n.lowercased()] = i } }
        self.exact = exact
    }

    /// Index of the server for a lowercased host without port, or nil for "use the default".
    public func match(_ host: UnsafeRawBufferPointer) -> Int? {
        exact[String(decoding: host, as: UTF8.self)]
    }
}
