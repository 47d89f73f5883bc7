// The pure parts of the limits: a limit_req zone's accounting (nginx's excess in
// thousandths, the burst, held states, expiry and a full zone) and the limit_rate
// arithmetic (what a write may take in a second, the pause after it).

import Testing

@testable import SwiftginxServer

@Suite struct LimitsUnitTests {
    let key: [UInt8] = [127, 0, 0, 1]

    @Test func excessGrowsByOneRequestAndDrainsAtTheRate() {
        var z = ZoneState(size: 1 << 20)
        var excess = 0
        // 2r/s = 2000 thousandths per second; burst 1 request.
        #expect(z.lookup(key, now: 1000, rate: 2000, burst: 1000, account: true, excess: &excess) == .ok)
        #expect(excess == 0)
        #expect(z.lookup(key, now: 1000, rate: 2000, burst: 1000, account: true, excess: &excess) == .ok)
        #expect(excess == 1000)
        // A third request at once is over the burst: refused and not counted.
        #expect(z.lookup(key, now: 1000, rate: 2000, burst: 1000, account: true, excess: &excess) == .busy)
        #expect(excess == 2000)
        // Half a second later one request has drained.
        #expect(z.lookup(key, now: 1500, rate: 2000, burst: 1000, account: true, excess: &excess) == .ok)
        #expect(excess == 1000)
    }

    @Test func heldStatesAreAccountedOrGivenBack() {
        var z = ZoneState(size: 1 << 20)
        var excess = 0
        guard case .again(let node) = z.lookup(key, now: 0, rate: 1000, burst: 0, account: false, excess: &excess)
        else {
            Issue.record("a first lookup that does not account is held")
            return
        }
        // In use: never expired, even by force.
        z.expire(now: 10_000_000, rate: 1000, force: true)
        #expect(z.node(for: key) == node)
        #expect(z.account(node, now: 0, rate: 1000) == 1000)
        #expect(z.nodes[Int(node)].count == 0)
    }

    @Test func aFullZoneDropsItsOldestStateAndRefusesWhenNoneCanGo() {
        // Two states fit (the zone's own pages aside).
        var z = ZoneState(size: 8 * 4096 + 2 * 128)
        var excess = 0
        #expect(z.lookup([1], now: 0, rate: 1000, burst: 0, account: true, excess: &excess) == .ok)
        #expect(z.lookup([2], now: 0, rate: 1000, burst: 0, account: true, excess: &excess) == .ok)
        #expect(z.lookup([3], now: 0, rate: 1000, burst: 0, account: true, excess: &excess) == .ok)
        #expect(z.node(for: [1]) == nil)
        #expect(z.index.count == 2)
        // With every state in use, a new key has no room.
        var held = ZoneState(size: 8 * 4096 + 128)
        _ = held.lookup([1], now: 0, rate: 1000, burst: 0, account: false, excess: &excess)
        #expect(held.lookup([2], now: 0, rate: 1000, burst: 0, account: true, excess: &excess) == .full)
    }

    @Test func staleStatesExpireAfterAMinute() {
        var z = ZoneState(size: 1 << 20)
        var excess = 0
        _ = z.lookup([1], now: 0, rate: 1000, burst: 0, account: true, excess: &excess)
        _ = z.lookup([2], now: 70_000, rate: 1000, burst: 0, account: true, excess: &excess)
        #expect(z.node(for: [1]) == nil)
        #expect(z.node(for: [2]) != nil)
    }

    @Test func theKeyIndexFindsEveryKeyThroughCollisionsAndRemovals() {
        // Hashes from a narrow range collide in long probe runs; removals shift entries
        // back. A dictionary is the model.
        var index = ZoneKeyIndex(seed: 1)
        var model: [Int32: UInt64] = [:]
        var rng = SystemRandomNumberGenerator()
        for step in 0..<20_000 {
            let node = Int32.random(in: 0..<400, using: &rng)
            if let h = model[node] {
                index.remove(h, node: node)
                model[node] = nil
            } else {
                let h = UInt64.random(in: 0..<64, using: &rng) &* (step % 3 == 0 ? 1 : 1 << 20)
                index.insert(h, node: node)
                model[node] = h
            }
            if step % 97 == 0 {
                for (n, h) in model { #expect(index.find(h) { $0 == n } == n) }
                #expect(index.count == model.count)
            }
        }
        // The seeded hash: equal bytes hash alike, a different seed differently.
        let a: [UInt8] = [10, 0, 0, 1]
        let h1 = a.withUnsafeBytes { ZoneKeyIndex(seed: 7).hash($0) }
        #expect(h1 == a.withUnsafeBytes { ZoneKeyIndex(seed: 7).hash($0) })
        #expect(h1 != a.withUnsafeBytes { ZoneKeyIndex(seed: 8).hash($0) })
        #expect(h1 != [UInt8]([10, 0, 0, 2]).withUnsafeBytes { ZoneKeyIndex(seed: 7).hash($0) })
    }

    @Test func manyKeysAreEachFoundAgain() {
        var z = ZoneState(size: 1 << 24)
        var excess = 0
        for i in 0..<5000 {
            let k: [UInt8] = [UInt8(i & 255), UInt8(i >> 8), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
            #expect(z.lookup(k, now: 0, rate: 1000, burst: 5000, account: true, excess: &excess) == .ok)
        }
        for i in 0..<5000 {
            let k: [UInt8] = [UInt8(i & 255), UInt8(i >> 8), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
            #expect(z.node(for: k) != nil)
        }
        #expect(z.index.count == 5000)
    }

    @Test func excessIsPrintedAsNginxDoes() {
        #expect(LimitReqHandler.format(1000) == "1.000")
        #expect(LimitReqHandler.format(1500) == "1.500")
        #expect(LimitReqHandler.format(7) == "0.007")
        #expect(LimitReqHandler.format(12040) == "12.040")
    }

    @Test func limitRateAllowsWhatTheSecondsSinceTheStartCover() {
        var r = SendRate()
        r.rate = 1000
        r.after = 100
        r.startSecond = 50
        // First second: the rate plus what goes before the limit.
        #expect(r.allowance(second: 50, now: 50_000) == 1100)
        r.account(1100, now: 50_000)
        // 1000 limited bytes went: a one-second pause.
        #expect(r.wakeAt == 51_000)
        #expect(r.allowance(second: 50, now: 50_500) == 0)
        #expect(r.allowance(second: 51, now: 51_000) == 1000)
        // Unlimited.
        var u = SendRate()
        #expect(u.allowance(second: 0, now: 0) == Int.max)
    }

    @Test func absurdValuesSaturateInsteadOfTrapping() {
        var r = SendRate()
        r.rate = Int.max
        r.after = Int64.max
        r.startSecond = 0
        #expect(r.allowance(second: 1_000_000, now: 0) == Int.max)
        r.account(1 << 30, now: 0)
        var z = ZoneState(size: 1 << 20)
        var excess = 0
        _ = z.lookup(key, now: 0, rate: 1 << 42, burst: 0, account: true, excess: &excess)
        #expect(z.lookup(key, now: Int64.max / 2, rate: 1 << 42, burst: 0, account: true, excess: &excess) == .ok)
        #expect(LimitReqHandler.delay(Int.max / 2, 1) == 86_400_000)
    }
}
