// nginx's cache loader: when a zone is first built (at start, or when a reload adds
// it), its directory tree is walked and every complete entry is put in the index, so
// a restarted server keeps its cache. Temporary files left by a crash or `kill -9`
// in the middle of a write (their names have a '.') and damaged entries are removed.
// It runs before the workers serve from the zone (the index is shared, so the work
// is done once, not per worker); a cache of a few hundred thousand entries loads in
// about a second.

import SwiftginxHTTP
import SwiftginxPosix

enum CacheLoader {
    /// The Vary names of a stored head (lowercased, comma-joined), or nil.
    static func varyNames(_ head: [UInt8]) -> [UInt8]? {
        var p = ResponseParser()
        var h = ResponseHead()
        guard case .complete = head.withUnsafeBytes({ p.parse($0, into: &h) }) else { return nil }
        var items: [[UInt8]] = []
        head.withUnsafeBytes { buf in
            for f in h.headers where asciiCaseEqual(buf[f.name], Array("vary".utf8)) {
                items += CacheVary.normalizedItems(Array(buf[f.value]))
            }
        }
        let lower = items.map { $0.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 } }
        return lower.isEmpty ? nil : Array(lower.joined(separator: [UInt8(ascii: ",")]))
    }

    static func load(_ zone: CacheZone) {
        FileSystem.makeDirectories(zone.config.path)
        let now = Clock.wallMilliseconds() / 1000
        var variants: [CacheKeyHash: (storedAt: Int64, names: [UInt8]?)] = [:]
        walk(zone, Array(zone.config.path.utf8), depth: 0, now: now, variants: &variants)
        // A key's answers vary as its most recently stored answer says.
        for (main, v) in variants { zone.setVary(main, v.names, now: now) }
    }

    private static func walk(
        _ zone: CacheZone, _ dir: [UInt8], depth: Int, now: Int64,
        variants: inout [CacheKeyHash: (storedAt: Int64, names: [UInt8]?)]
    ) {
        guard let entries = try? FileSystem.listDirectory(dir, skipHidden: false) else { return }
        for e in entries {
            let path = dir + [UInt8(ascii: "/")] + e.name
            let text = String(decoding: path, as: UTF8.self)
            if e.info.isDirectory {
                if depth < zone.config.levels.count {
                    walk(zone, path, depth: depth + 1, now: now, variants: &variants)
                }
                continue
            }
            guard e.info.isRegular, depth == zone.config.levels.count else { continue }
            if e.name.contains(UInt8(ascii: ".")) {
                // A write that never finished.
                FileSystem.unlink(text)
                continue
            }
            guard let hash = CacheKeyHash(hex: e.name) else { continue }
            guard let entry = CacheEntry.load(text) else {
                FileSystem.unlink(text)
                continue
            }
            FileSystem.close(entry.fd)
            zone.loaded(hash, header: entry.header, size: e.info.size, now: now)
            let main = CacheKeyHash(md5: ProxyExchange.md5(entry.key))
            if (variants[main]?.storedAt ?? Int64.min) <= entry.header.storedAt {
                variants[main] = (entry.header.storedAt, varyNames(entry.head))
            }
        }
    }
}
