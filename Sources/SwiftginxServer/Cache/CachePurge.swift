// proxy_cache_purge / uwsgi_cache_purge, with NGINX Plus's semantics (open-source nginx
// has no purge): a request for which one of the directive's values is not empty and not
// "0" removes the entry of its own cache key and answers 204; a key ending with "*"
// removes every entry whose key starts with what comes before it. Which requests may
// purge is the configuration's choice (a `map` of the method and a `geo` of the
// client's address, docs/caching.md). An exact key's variants (Vary) go with it. A
// wildcard purge reads the key of every stored entry: it takes time on a large cache.

import SwiftginxPosix

enum CachePurge {
    static func purge(_ zone: CacheZone, key: [UInt8], request: Request) {
        let removed: Int
        if key.last == UInt8(ascii: "*") {
            removed = purgeMatching(zone) { $0.starts(with: key.dropLast()) }
        } else {
            let hash = CacheKeyHash(md5: ProxyExchange.md5(key))
            let node = zone.lookup(hash, now: Int64(request.worker.clock.seconds))
            var n = 0
            if node.exists || node.errorStatus != 0 {
                zone.remove(hash)
                FileSystem.unlink(zone.path(hash))
                n += 1
            }
            if node.vary != nil { n += purgeMatching(zone) { $0 == key } }
            zone.remove(hash)
            removed = n
        }
        if removed == 0 {
            request.respondError(404)
            return
        }
        request.beginHead(204)
        request.finishHead(settings: request.location?.settings)
        request.flushResponse()
    }

    /// Removes every stored entry whose key `matches`; returns how many.
    private static func purgeMatching(_ zone: CacheZone, _ matches: ([UInt8]) -> Bool) -> Int {
        var n = 0
        for hash in zone.storedKeys() {
            let path = zone.path(hash)
            guard let e = CacheEntry.load(path) else { continue }
            FileSystem.close(e.fd)
            if matches(e.key) {
                zone.remove(hash)
                FileSystem.unlink(path)
                n += 1
            }
        }
        return n
    }
}
