// Vary, as nginx's cache honours it: an answer with `Vary` is stored as a variant of
// its key, under the md5 of the key and the request's values of the listed fields
// (whitespace normalized: "foo, bar" and "foo,,bar " are the same), and the key's node
// remembers the field names, so the next request looks up its own variant. An answer
// without Vary goes back under the key itself and replaces the variants; `Vary: *`
// is never stored.

import SwiftginxHTTP

enum CacheVary {
    /// The lowercased field names of the upstream's Vary fields, comma-joined; nil when
    /// there are none; `["*"]` when any is "*".
    static func names(_ response: UpstreamResponse) -> [UInt8]? {
        let out = ByteBuffer(capacity: 64)
        response.appendHeaderValues(named: "vary", to: out)
        guard out.readableCount > 0 else { return nil }
        let items = normalizedItems(Array(out.readable)).map { $0.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } }
        if items.isEmpty { return nil }
        if items.contains([UInt8(ascii: "*")]) { return [UInt8(ascii: "*")] }
        return Array(items.joined(separator: [UInt8(ascii: ",")]))
    }

    /// The comma-separated items of a value, trimmed, the empty ones dropped.
    static func normalizedItems(_ v: [UInt8]) -> [[UInt8]] {
        v.split(separator: UInt8(ascii: ","), omittingEmptySubsequences: true).compactMap { item in
            let t = item.drop { $0 == 32 || $0 == 9 }.reversed().drop { $0 == 32 || $0 == 9 }.reversed()
            return t.isEmpty ? nil : Array(t)
        }
    }

    /// The variant's hash: the key, then each named field's normalized request values.
    static func variant(key: [UInt8], names: [UInt8], request: Request) -> CacheKeyHash {
        var material = key
        material.append(0)
        let buf = request.headBytes
        for name in names.split(separator: UInt8(ascii: ",")) {
            material += name
            material.append(UInt8(ascii: ":"))
            var values: [UInt8] = []
            for h in request.head.headers where asciiCaseEqual(buf[h.name], Array(name)) {
                if !values.isEmpty { values.append(UInt8(ascii: ",")) }
                values += buf[h.value]
            }
            material += Array(normalizedItems(values).joined(separator: [UInt8(ascii: ",")]))
            material.append(0)
        }
        return CacheKeyHash(md5: ProxyExchange.md5(material))
    }
}
