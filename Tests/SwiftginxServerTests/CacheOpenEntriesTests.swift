// What lets a hot cache key be answered without the keys zone's lock: the zone's change
// count moves with every change that may end an entry's freshness, `touch` answers only
// for the entry a worker holds open (same version, not removed, no Vary), and the key
// hash of the worker's hot table tells keys apart.

import Foundation
import SwiftginxConfig
import Testing

@testable import SwiftginxServer

@Suite struct CacheOpenEntriesTests {
    func zone() -> CacheZone {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("cache-\(UUID().uuidString)").path
        return CacheZone(CachePathConfig(name: "z", size: 1 << 20, path: dir))
    }

    @Test func changesCountWhatEndsFreshness() {
        let z = zone()
        let h = CacheKeyHash(high: 1, low: 2)
        func changes() -> UInt64 { z.store.changes.load(ordering: .acquiring) }
        let c0 = changes()
        _ = z.lookup(h, now: 10)
        #expect(changes() == c0)  // a use is not a change
        _ = z.commit(h, validUntil: 100, size: 10, now: 10, windows: (0, 0))
        let c1 = changes()
        #expect(c1 > c0)
        let node = z.lookup(h, now: 11)
        #expect(z.touch(h, version: node.version, now: 12)?.validUntil == 100)
        #expect(changes() == c1)
        #expect(z.touch(h, version: node.version + 1, now: 12) == nil)
        z.refresh(h, validUntil: 200)
        #expect(changes() > c1)
        #expect(z.touch(h, version: node.version, now: 12) == nil)  // a new version
        let v2 = z.lookup(h, now: 12).version
        z.setVary(h, Array("accept".utf8), now: 12)
        #expect(z.touch(h, version: v2, now: 13) == nil)  // its answers vary now
        z.setVary(h, nil, now: 12)
        let c2 = changes()
        z.remove(h)
        #expect(changes() > c2)
        #expect(z.touch(h, version: v2, now: 13) == nil)
    }

    @Test func anInactiveEntryIsNotTouched() {
        let z = zone()
        let h = CacheKeyHash(high: 3, low: 4)
        _ = z.commit(h, validUntil: 10_000, size: 10, now: 10, windows: (0, 0))
        let v = z.lookup(h, now: 10).version
        // inactive defaults to 10 minutes.
        #expect(z.touch(h, version: v, now: 10 + 600) != nil)
        #expect(z.touch(h, version: v, now: 10 + 600 + 601) == nil)
    }

    @Test func keyHashesTellKeysApart() {
        let keys = ["", "a", "b", "http://app/", "http://app/x", "http://app/y", "http://app/x?1", "http://app/x?2"]
        let hashes = Set(keys.map { k in Array(k.utf8).withUnsafeBytes { CacheOpenEntries.keyHash($0) } })
        #expect(hashes.count == keys.count)
        let again = Array("http://app/x".utf8).withUnsafeBytes { CacheOpenEntries.keyHash($0) }
        #expect(again == Array("http://app/x".utf8).withUnsafeBytes { CacheOpenEntries.keyHash($0) })
    }
}
