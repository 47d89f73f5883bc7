// The cache entries a worker answered from lately, kept open with their head parsed:
// a hit on a hot key then costs no open, stat, read or parse — only the keys zone's
// lookup, whose version says whether the entry is still the one on disk (a new answer,
// a revalidation or a removal gives the key a new version). A body up to 32 KiB is kept
// in memory too, as the open-file cache keeps small files. At most 64 per worker; the
// least recently used is closed when a new one comes (a response still sending from it
// keeps its descriptor until it ends, as the open-file cache does).
//
// The hottest keys are also found by their key's bytes (`hot`: a small table indexed by
// a cheap hash of the key, checked by comparing the key): no md5, no dictionary. Such an
// entry checked in the keys zone this second, at the zone's current change count, is
// still fresh without taking the zone's lock; and it keeps the client head its last
// hit wrote for a location (`HeadMemo`), so the next hit copies it instead of filtering
// the stored head field by field (ProxyExchange+CacheFastHit.swift).

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

final class CacheOpenEntries {
    final class Item {
        let zone: CacheZone
        let hash: CacheKeyHash
        let version: UInt64
        let entry: CacheEntry
        let file: OpenFileCache.Entry
        let head: ResponseHead
        /// Where the body is in the entry's file.
        let bodyOffset: Int64
        let bodyLength: Int64
        /// The body itself when it is small (as the open-file cache keeps small files):
        /// a hit sends head and body in one write, as a small static file.
        let body: [UInt8]?
        var lastUsed: Int64
        /// The key (set when the item is in the hot table) and its table hash.
        var key: [UInt8] = []
        var keyHash: UInt64 = 0
        /// The keys zone's validity of the entry, the zone's change count and the second
        /// (wall clock) when it was read.
        var validUntil: Int64 = 0
        var checkedChanges: UInt64 = 0
        var checkedSecond: Int64 = -1
        var isHot = false
        /// The client head the last hit wrote for a location, when it may be reused.
        var memo: HeadMemo? = nil

        init(
            zone: CacheZone, hash: CacheKeyHash, version: UInt64, entry: CacheEntry, file: OpenFileCache.Entry,
            head: ResponseHead, now: Int64
        ) {
            self.zone = zone
            self.hash = hash
            self.version = version
            self.entry = entry
            self.file = file
            self.head = head
            bodyOffset = entry.header.bodyOffset
            bodyLength = entry.header.bodyLength
            var body: [UInt8]? = nil
            let (offset, length) = (entry.header.bodyOffset, entry.header.bodyLength)
            if length <= OpenFileCache.smallFileLimit {
                var bytes = [UInt8](repeating: 0, count: Int(length))
                let ok =
                    bytes.isEmpty
                    || bytes.withUnsafeMutableBytes {
                        FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: $0.count, offset: offset)
                    }
                if ok { body = bytes }
            }
            self.body = body
            lastUsed = now
        }
    }

    /// A hit's client head for one location, up to its framing fields: the bytes before
    /// the Date line and after it (the Date is the worker's current one).
    final class HeadMemo {
        let location: Location
        let status: Int
        let beforeDate: [UInt8]
        let afterDate: [UInt8]
        let hasDate: Bool
        let contentType: [UInt8]

        init(
            location: Location, status: Int, beforeDate: [UInt8], afterDate: [UInt8], hasDate: Bool,
            contentType: [UInt8]
        ) {
            self.location = location
            self.status = status
            self.beforeDate = beforeDate
            self.afterDate = afterDate
            self.hasDate = hasDate
            self.contentType = contentType
        }
    }

    private var items: [CacheKeyHash: Item] = [:]
    static let capacity = 64
    /// Items by key bytes: slot `keyHash & hotMask`, the key compared.
    private var hot: [Item?] = Array(repeating: nil, count: 256)
    private static let hotMask: UInt64 = 255
    /// The cache key of the request being looked up (evaluated here, not allocated).
    let keyBuffer = ByteBuffer(capacity: 256)
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
        guard item.zone === zone, item.version == version else {
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
        let item = Item(zone: zone, hash: hash, version: version, entry: entry, file: file, head: head, now: now)
        items[hash] = item
        return item
    }

    private func drop(_ hash: CacheKeyHash, _ item: Item) {
        items[hash] = nil
        if item.isHot {
            let slot = Int(item.keyHash & Self.hotMask)
            if hot[slot] === item { hot[slot] = nil }
        }
        item.file.retired = true
        if item.file.users == 0 { FileSystem.close(item.file.fd) }
    }

    // MARK: the hot table

    /// A 64-bit hash of the key's bytes (eight at a time; not cryptographic: the key is
    /// compared on a match).
    static func keyHash(_ b: UnsafeRawBufferPointer) -> UInt64 {
        var h: UInt64 = 0x9E37_79B9_7F4A_7C15 ^ UInt64(b.count)
        var i = 0
        while i + 8 <= b.count {
            h = (h ^ b.loadUnaligned(fromByteOffset: i, as: UInt64.self)) &* 0x100_0000_01B3
            h ^= h >> 29
            i += 8
        }
        while i < b.count {
            h = (h ^ UInt64(b[i])) &* 0x100_0000_01B3
            i += 1
        }
        return h ^ h >> 32
    }

    /// The fresh open entry of `key` in `zone`, if this worker has one in its hot table.
    /// Checked in the keys zone (counting a use) once a second, or when the zone changed.
    func hotItem(_ zone: CacheZone, key: UnsafeRawBufferPointer, keyHash: UInt64, now: Int64, nowMs: Int64) -> Item? {
        guard let item = hot[Int(keyHash & Self.hotMask)], item.keyHash == keyHash, item.zone === zone,
            item.key.count == key.count,
            item.key.withUnsafeBytes({ memcmpEqual($0, key) })
        else { return nil }
        let changes = zone.store.changes.load(ordering: .acquiring)
        if changes != item.checkedChanges || now != item.checkedSecond {
            guard let node = zone.touch(item.hash, version: item.version, now: now) else {
                drop(item.hash, item)
                return nil
            }
            item.validUntil = node.validUntil
            item.checkedChanges = changes
            item.checkedSecond = now
        }
        guard item.validUntil >= now else { return nil }
        item.lastUsed = nowMs
        return item
    }

    /// Makes `item` (the key's own entry: no Vary) findable by its key; its first hit
    /// that way checks it in the keys zone.
    func makeHot(_ item: Item, key: [UInt8]) {
        guard !item.isHot else { return }
        item.key = key
        item.keyHash = key.withUnsafeBytes { Self.keyHash($0) }
        item.checkedSecond = -1
        item.isHot = true
        let slot = Int(item.keyHash & Self.hotMask)
        if let old = hot[slot] { old.isHot = false }
        hot[slot] = item
    }
}

/// Whether two buffers of the same length hold the same bytes.
@inline(__always) private func memcmpEqual(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    var i = 0
    let n = a.count
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a[i] != b[i] { return false }
        i += 1
    }
    return true
}
