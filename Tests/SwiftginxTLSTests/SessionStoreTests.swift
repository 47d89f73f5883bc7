// SessionStore, the sessions of a `shared:NAME` cache (the encodings OpenSSL's
// callbacks hand it): found by id, expired ones not resumed, removed ones gone, the
// oldest dropped first when the store is full. The OpenSSL side is tested over real
// sockets (TLSTests: resumption across workers and across reloads).

import Testing

@testable import SwiftginxTLS

@Suite struct SessionStoreTests {
    func id(_ n: Int) -> [UInt8] { (0..<32).map { UInt8(truncatingIfNeeded: n >> ($0 % 4 * 8)) } }

    @Test func findsByIdAndForgetsExpiredAndRemoved() {
        let store = SessionStore(size: 1 << 20)
        #expect(store.capacity == 4096)
        for n in 1...3 { store.add(id: id(n), der: [UInt8(n)], expires: n == 1 ? 1050 : 2000) }
        #expect(store.find(id: id(2), now: 1000) == [2])
        #expect(store.find(id: id(4), now: 1000) == nil)
        #expect(store.find(id: id(1), now: 1000) == [1])
        #expect(store.find(id: id(1), now: 1050) == nil)  // expired: dropped
        #expect(store.count == 2)
        store.remove(id: id(2))
        #expect(store.find(id: id(2), now: 1000) == nil)
        #expect(store.find(id: id(3), now: 1000) == [3])
        // A session stored again under its id is replaced, not duplicated.
        store.add(id: id(3), der: [9], expires: 2000)
        #expect(store.find(id: id(3), now: 1000) == [9])
        #expect(store.count == 1)
    }

    @Test func theOldestGoesFirstWhenFull() {
        let store = SessionStore(size: 3 * 256)
        #expect(store.capacity == 3)
        for n in 1...5 { store.add(id: id(n), der: [UInt8(n)], expires: 2000) }
        #expect(store.count == 3)
        #expect(store.find(id: id(1), now: 0) == nil && store.find(id: id(2), now: 0) == nil)
        #expect(store.find(id: id(5), now: 0) == [5])
        for n in 10..<5000 { store.add(id: id(n), der: [1], expires: 2000) }
        #expect(store.count == 3)
        #expect(store.find(id: id(4999), now: 0) == [1])
        #expect(store.find(id: id(4996), now: 0) == nil)
    }

    @Test func sessionsRemovedAndAddedAgainKeepTheOrderBounded() {
        let store = SessionStore(size: 4 * 256)
        for round in 0..<10_000 {
            store.add(id: id(round % 3), der: [1], expires: 2000)
            if round % 2 == 0 { store.remove(id: id(round % 3)) }
        }
        #expect(store.count <= 3)
        #expect(store.tracked <= 2 * store.capacity)
        // A session added again is not dropped by its earlier, stale place in the order.
        let fresh = SessionStore(size: 2 * 256)
        fresh.add(id: id(1), der: [1], expires: 2000)
        fresh.add(id: id(2), der: [2], expires: 2000)
        fresh.add(id: id(1), der: [3], expires: 2000)
        fresh.add(id: id(3), der: [4], expires: 2000)
        #expect(fresh.find(id: id(1), now: 0) == [3])
        #expect(fresh.find(id: id(2), now: 0) == nil)
        #expect(fresh.find(id: id(3), now: 0) == [4])
    }
}
