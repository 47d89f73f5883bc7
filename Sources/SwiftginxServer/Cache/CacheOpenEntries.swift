// The cache entries a worker answered from lately, kept open with their head parsed:
// a hit on a hot key then costs no open, stat, read or parse — only the keys zone's
// lookup, whose version says whether the entry is still the one on disk (a new answer,
// a revalidation or a removal gives the key a new version). At most 64 per worker; the
// least recently used is closed when a new one comes (a response still sending from it
// keeps its descriptor until it ends, as the open-file cache does).

import SwiftginxHTTP
import SwiftginxPosix

final class CacheOpenEntries {
    final class Item {
        let zone: ObjectIdentifier
        let version: UInt64
        let entry: CacheEntry
        let file: OpenFileCache.Entry
        let head: ResponseHead
        var lastUsed: Int64

        init(
            zone: ObjectIdentifier, version: UInt64, entry: CacheEntry, file: OpenFileCache.Entry, head: ResponseHead,
            now: Int64
        ) {
            self.zone = zone
            self.version = version
            self.entry = entry
            self.file = file
            self.head = head
            lastUsed = now
        }
    }

    private var items: [CacheKeyHash: Item] = [:]
    static let capacity = 64
    /// The zone last named by a `proxy_cache` in this generation (no dictionary lookup
    /// while the same location keeps asking).
    private var lastZone: (generation: Generation, name: String, zone: CacheZone?)? = nil

    /// The generation's zone called `name`.
    func zone(named name: String, in g: Generation) -> CacheZone? {
        if let last = lastZone, last.generation === g, last.name == name { return last.zone }
        let zone = g.cacheZones[name]
        lastZone = (g, name, zone)
        return zone
    }

    /// The open entry of `hash` in `zone` at `version`, if this worker has it.
    func get(_ zone: CacheZone, _ hash: CacheKeyHash, version: UInt64, now: Int64) -> Item? {
        guard let item = items[hash] else { return nil }
        guard item.zone == ObjectIdentifier(zone), item.version == version else {
            drop(hash, item)
            return nil
        }
        item.lastUsed = now
        return item
    }

    /// Keeps `entry` open for later hits (its descriptor is owned from here on).
    func put(
        _ zone: CacheZone, _ hash: CacheKeyHash, version: UInt64, entry: CacheEntry, head: ResponseHead,
        files: OpenFileCache, now: Int64
    ) -> Item {
        if let old = items[hash] { drop(hash, old) }
        if items.count >= Self.capacity, let oldest = items.min(by: { $0.value.lastUsed < $1.value.lastUsed }) {
            drop(oldest.key, oldest.value)
        }
        let file = OpenFileCache.Entry(fd: entry.fd, info: entry.fileInfo, contents: nil, now: now)
        let item = Item(zone: ObjectIdentifier(zone), version: version, entry: entry, file: file, head: head, now: now)
        items[hash] = item
        return item
    }

    private func drop(_ hash: CacheKeyHash, _ item: Item) {
        items[hash] = nil
        item.file.retired = true
        if item.file.users == 0 { FileSystem.close(item.file.fd) }
    }
}
