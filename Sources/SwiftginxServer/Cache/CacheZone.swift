// One `proxy_cache_path` zone at run time: the keys zone (an index from the md5 of a
// cache key to what is known of its entry: on disk or not, valid until when, its size,
// how often it was asked for, whether a request is fetching it now — the lock), shared
// by every worker thread behind one mutex held only for those small updates, and the
// entry files' names under `levels` as nginx lays them out. Files are never touched
// under the mutex: the caller unlinks what an update returns. The zone is built (and
// its index loaded from disk, CacheLoader.swift) when a configuration first names it,
// and kept by later generations while its path and name stay the same.

import SwiftginxConfig
import SwiftginxPosix
import Synchronization

/// The md5 of a cache key, as two words (the dictionary key) and as nginx's hex name.
struct CacheKeyHash: Hashable, Sendable {
    let high: UInt64
    let low: UInt64

    init(high: UInt64 = 0, low: UInt64 = 0) {
        self.high = high
        self.low = low
    }

    init(md5 d: [UInt8]) {
        var h: UInt64 = 0
        var l: UInt64 = 0
        for i in 0..<8 { h = h << 8 | UInt64(d[i]) }
        for i in 8..<16 { l = l << 8 | UInt64(d[i]) }
        high = h
        low = l
    }

    /// 32 lowercase hex digits.
    var hex: [UInt8] {
        let digits: StaticString = "0123456789abcdef"
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 {
            out[15 - i] = digits.utf8Start[Int(high >> (UInt64(i) * 4) & 15)]
            out[31 - i] = digits.utf8Start[Int(low >> (UInt64(i) * 4) & 15)]
        }
        return out
    }

    /// Parses a 32-digit hex file name.
    init?(hex name: [UInt8]) {
        guard name.count == 32 else { return nil }
        var h: UInt64 = 0
        var l: UInt64 = 0
        for (i, c) in name.enumerated() {
            let v: UInt64
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = UInt64(c - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): v = UInt64(c - UInt8(ascii: "a") + 10)
            default: return nil
            }
            if i < 16 { h = h << 4 | v } else { l = l << 4 | v }
        }
        high = h
        low = l
    }
}

/// What the index knows of one key.
struct CacheNode {
    /// A complete entry is on disk.
    var exists = false
    /// Wall-clock seconds until which the entry is fresh.
    var validUntil: Int64 = 0
    /// Bytes the entry's file takes.
    var size: Int64 = 0
    /// Requests for the key while it was not stored (`proxy_cache_min_uses`).
    var uses = 0
    /// Wall-clock seconds of the last request (`inactive`).
    var lastUsed: Int64 = 0
    /// A request fetches the key now (the lock and `updating`), since when (monotonic ms).
    var updating = false
    var updatingSince: Int64 = 0
    /// `Vary` of the stored response: the entry of a request is the variant of its values.
    var vary: [UInt8]? = nil
    /// Cache-Control's stale-while-revalidate / stale-if-error windows (seconds after validUntil).
    var updatingSeconds: Int64 = 0
    var errorSeconds: Int64 = 0
    /// Changes whenever the entry's file or validity changes (workers' open entries check it).
    var version: UInt64 = 0
    /// An intercepted error status cached without a file (answered by error_page), or 0.
    var errorStatus = 0
}

final class CacheZone: Sendable {
    let config: CachePathConfig
    /// The zone's `metrics` series (cells: MISS … HIT by CacheStatus), -1: not counted.
    /// Set when a configuration that counts takes the zone; the same for its name.
    nonisolated(unsafe) var metricsID = -1
    /// The index (kept by a reload that keeps the zone's path and levels).
    let store: Store
    /// The largest number of keys the keys zone holds (nginx: about 8,000 per megabyte).
    let capacity: Int
    /// `config.path` as bytes.
    let pathPrefix: [UInt8]

    struct Index {
        var nodes: [CacheKeyHash: CacheNode] = [:]
        var totalSize: Int64 = 0
        var lastSweep: Int64 = 0
        /// After the keys zone filled up: the manager brings it down to this many keys.
        var watermark = Int.max
        /// The last pass stopped at manager_files with more to remove.
        var pending = false
        /// The last version given to a node.
        var versions: UInt64 = 0
    }

    final class Store: Sendable {
        let state = Mutex(Index())
        /// Counts the changes that may end an entry's freshness (stored, refreshed, removed,
        /// expired for inactivity, given an error or a Vary): a worker's open entry checked
        /// at the current count this second is still the one in the index, without the lock.
        let changes = Atomic<UInt64>(0)

        @inline(__always) func changed() { changes.add(1, ordering: .releasing) }
    }

    /// `store`: the index of the previous generation's zone of the same path and levels.
    init(_ config: CachePathConfig, store: Store? = nil) {
        self.config = config
        // nginx's nodes take 128 bytes of its slab allocator, after the zone's own pages.
        capacity = max(16, (config.size - 8192) / 128)
        self.store = store ?? Store()
        pathPrefix = Array(config.path.utf8)
    }

    /// The zones of a configuration, keeping the previous generation's index where the
    /// name, path and levels are the same (its files stay valid; the new inactive,
    /// max_size and the other limits apply); new zones load their index.
    /// `load` false: the zones start empty and touch no file (the route explainer, `-x`).
    static func zones(_ config: RuntimeConfig, previous: [String: CacheZone], load: Bool = true)
        -> [String: CacheZone]
    {
        var out: [String: CacheZone] = [:]
        for (name, c) in config.cachePaths {
            if let old = previous[name], old.config.path == c.path, old.config.levels == c.levels {
                out[name] = old.config == c ? old : CacheZone(c, store: old.store)
            } else {
                let zone = CacheZone(c)
                if load { CacheLoader.load(zone) }
                out[name] = zone
            }
        }
        return out
    }

    // MARK: file names

    /// The entry's path: the cache directory, the levels' directories (taken from the
    /// end of the hex name, as nginx does), the hex name.
    func path(_ hash: CacheKeyHash) -> String {
        let hex = hash.hex
        var p = config.path
        var end = 32
        for n in config.levels {
            p += "/" + String(decoding: hex[(end - n)..<end], as: UTF8.self)
            end -= n
        }
        return p + "/" + String(decoding: hex, as: UTF8.self)
    }

    /// The entry's path as NUL-terminated bytes (the hit path: no String is built).
    func pathBytes(_ hash: CacheKeyHash) -> [UInt8] {
        let hex = hash.hex
        var p = pathPrefix
        p.reserveCapacity(p.count + config.levels.count * 3 + 34)
        var end = 32
        for n in config.levels {
            p.append(UInt8(ascii: "/"))
            p += hex[(end - n)..<end]
            end -= n
        }
        p.append(UInt8(ascii: "/"))
        p += hex
        p.append(0)
        return p
    }

    /// The directory of the entry's path.
    func directory(_ hash: CacheKeyHash) -> String {
        let p = path(hash)
        return String(p[..<p.lastIndex(of: "/")!])
    }

    // MARK: index

    /// Reads (and counts a use of) the key's node; a node unused for `inactive` counts as absent.
    func lookup(_ hash: CacheKeyHash, now: Int64) -> CacheNode {
        store.state.withLock { ix in
            var node = ix.nodes[hash] ?? CacheNode()
            if node.exists && node.lastUsed + Int64(config.inactive) < now && !node.updating {
                // Left for the sweep to unlink; a new entry replaces it.
                ix.totalSize -= node.size
                node = CacheNode()
                store.changed()
            }
            node.uses += 1
            node.lastUsed = now
            ix.nodes[hash] = node
            return node
        }
    }

    /// A worker's open entry of `hash` at `version`: its node, used now, when it is still
    /// that entry's and fresh enough to be looked at (else nil, and nothing is counted).
    func touch(_ hash: CacheKeyHash, version: UInt64, now: Int64) -> CacheNode? {
        store.state.withLock { ix in
            guard var node = ix.nodes[hash], node.exists, node.version == version, node.vary == nil,
                node.errorStatus == 0, node.lastUsed + Int64(config.inactive) >= now || node.updating
            else { return nil }
            node.uses += 1
            node.lastUsed = now
            ix.nodes[hash] = node
            return node
        }
    }

    /// Takes the key's lock (true), unless another request holds one younger than `age` ms.
    func tryLock(_ hash: CacheKeyHash, nowMs: Int64, age: Int) -> Bool {
        store.state.withLock { ix in
            var node = ix.nodes[hash] ?? CacheNode()
            if node.updating && nowMs - node.updatingSince < Int64(age) { return false }
            node.updating = true
            node.updatingSince = nowMs
            ix.nodes[hash] = node
            return true
        }
    }

    /// Whether a request fetches the key now (for `updating` and lock waiters).
    func isUpdating(_ hash: CacheKeyHash, nowMs: Int64, age: Int) -> Bool {
        store.state.withLock { ix in
            guard let node = ix.nodes[hash] else { return false }
            return node.updating && nowMs - node.updatingSince < Int64(age)
        }
    }

    func unlock(_ hash: CacheKeyHash) {
        store.state.withLock { ix in ix.nodes[hash]?.updating = false }
    }

    /// The entry for `hash` is on disk now (its file renamed into place): returns the
    /// files to unlink so the zone keeps within `max_size`, `inactive` and its keys.
    func commit(
        _ hash: CacheKeyHash, validUntil: Int64, size: Int64, now: Int64, windows: (updating: Int64, error: Int64)
    ) -> [CacheKeyHash] {
        store.state.withLock { ix in
            var node = ix.nodes[hash] ?? CacheNode()
            if node.exists { ix.totalSize -= node.size }
            node.exists = true
            node.validUntil = validUntil
            node.size = size
            node.lastUsed = now
            node.updating = false
            node.errorStatus = 0
            node.updatingSeconds = windows.updating
            node.errorSeconds = windows.error
            ix.versions += 1
            node.version = ix.versions
            ix.nodes[hash] = node
            ix.totalSize += size
            store.changed()
            // A full keys zone makes room at once (nginx's forced expiry) and leaves the
            // manager a watermark of 7/8; max_size is the manager's (as in nginx).
            guard ix.nodes.count > capacity else { return [] }
            ix.watermark = capacity * 7 / 8
            return sweep(&ix, now: now, keep: hash, freeBytes: 0, most: .max)
        }
    }

    /// The manager's pass (on the housekeeping thread): entries unused for `inactive`,
    /// then the least recently used beyond max_size, the keys' capacity, or until
    /// `min_free` bytes are free on the file system. Returns the files to unlink.
    /// As nginx's manager, a pass removes at most `manager_files` entries over the limits
    /// and then sleeps `manager_sleep`; `next` is when the zone wants its next pass (ms).
    func manage(now: Int64) -> (victims: [CacheKeyHash], next: Int64) {
        var shortOfSpace: Int64 = 0
        if config.minFree > 0, let free = FileSystem.availableSpace(config.path), free < config.minFree {
            shortOfSpace = config.minFree - free
        }
        return store.state.withLock { ix in
            let victims = sweep(&ix, now: now, keep: nil, freeBytes: shortOfSpace, most: config.managerFiles)
            if ix.pending { return (victims, Int64(config.managerSleep)) }
            // Nothing over the limits: the next pass when the oldest unused entry goes.
            let inactive = Int64(config.inactive)
            let oldest = ix.nodes.values.lazy.filter { !$0.updating }.map { $0.lastUsed }.min()
            guard let oldest else { return (victims, 10_000) }
            return (victims, min(10_000, max(1000, (oldest + inactive - now) * 1000)))
        }
    }

    /// Remembers an intercepted error (proxy_intercept_errors) for `validUntil`.
    func setError(_ hash: CacheKeyHash, status: Int, validUntil: Int64) -> [CacheKeyHash] {
        store.state.withLock { ix in
            var node = ix.nodes[hash] ?? CacheNode()
            var victims: [CacheKeyHash] = []
            if node.exists {
                ix.totalSize -= node.size
                victims.append(hash)
            }
            node.exists = false
            ix.versions += 1
            node.version = ix.versions
            node.errorStatus = status
            node.validUntil = validUntil
            node.updating = false
            ix.nodes[hash] = node
            store.changed()
            return victims
        }
    }

    /// Records whether the key's answers vary (and by which fields).
    func setVary(_ hash: CacheKeyHash, _ names: [UInt8]?, now: Int64) {
        store.state.withLock { ix in
            var node = ix.nodes[hash] ?? CacheNode()
            node.vary = names
            node.lastUsed = max(node.lastUsed, now)
            ix.nodes[hash] = node
            store.changed()
        }
    }

    /// Sets a stored entry's validity (a revalidated or refreshed entry).
    func refresh(_ hash: CacheKeyHash, validUntil: Int64) {
        store.state.withLock { ix in
            ix.nodes[hash]?.validUntil = validUntil
            ix.nodes[hash]?.updating = false
            ix.versions += 1
            ix.nodes[hash]?.version = ix.versions
            store.changed()
        }
    }

    /// The entry is gone (purged, or its file unreadable).
    func remove(_ hash: CacheKeyHash) {
        store.state.withLock { ix in
            if let node = ix.nodes.removeValue(forKey: hash), node.exists { ix.totalSize -= node.size }
            store.changed()
        }
    }

    /// Every stored key (for purging by wildcard, which then reads each file's key).
    func storedKeys() -> [CacheKeyHash] {
        store.state.withLock { ix in ix.nodes.compactMap { $0.value.exists ? $0.key : nil } }
    }

    /// The manager's work, done when an entry is stored: entries unused for `inactive`
    /// go, then the least recently used until the zone is within `max_size` and its
    /// keys' capacity. Returns the hashes whose files the caller unlinks.
    private func sweep(_ ix: inout Index, now: Int64, keep: CacheKeyHash?, freeBytes: Int64, most: Int)
        -> [CacheKeyHash]
    {
        var victims: [CacheKeyHash] = []
        ix.pending = false
        store.changed()
        var toFree = freeBytes
        ix.lastSweep = now
        let inactive = Int64(config.inactive)
        for (h, n) in ix.nodes where !n.updating && n.lastUsed + inactive < now && h != keep {
            if n.exists {
                ix.totalSize -= n.size
                toFree -= n.size
                victims.append(h)
            }
            ix.nodes[h] = nil
        }
        let limit = keep == nil ? min(capacity, ix.watermark) : capacity
        func over(_ ix: Index) -> Bool {
            ix.totalSize > config.maxSize || ix.nodes.count > limit || toFree > 0
        }
        if over(ix) {
            let order = ix.nodes.filter { $0.key != keep && !$0.value.updating }.sorted {
                $0.value.lastUsed < $1.value.lastUsed
            }
            for (h, n) in order {
                guard over(ix) else { break }
                if victims.count >= most {
                    ix.pending = true
                    break
                }
                if n.exists {
                    ix.totalSize -= n.size
                    toFree -= n.size
                    victims.append(h)
                }
                ix.nodes[h] = nil
            }
        }
        if keep == nil && !ix.pending { ix.watermark = .max }
        return victims
    }

    /// Unlinks the files of `victims` (outside the zone's lock).
    func unlinkAll(_ victims: [CacheKeyHash]) {
        for h in victims { FileSystem.unlink(path(h)) }
    }

    /// Registers an entry found on disk (the loader).
    func loaded(_ hash: CacheKeyHash, header h: CacheEntryHeader, size: Int64, now: Int64) {
        store.state.withLock { ix in
            var node = ix.nodes[hash] ?? CacheNode()
            if node.exists { ix.totalSize -= node.size }
            node.exists = true
            node.validUntil = h.validUntil
            ix.versions += 1
            node.version = ix.versions
            node.updatingSeconds = h.updatingSeconds
            node.errorSeconds = h.errorSeconds
            node.size = size
            node.lastUsed = now
            node.uses = 1
            ix.nodes[hash] = node
            ix.totalSize += size
            store.changed()
        }
    }
}
