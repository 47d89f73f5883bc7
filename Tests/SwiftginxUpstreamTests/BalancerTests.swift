// Distribution tests of nginx's balancing methods over thousands of picks, with a
// manual clock: least_conn, ip_hash, hash (plain and consistent), random (two),
// slow start and active-health exclusion. Compatibility of ip_hash and the consistent
// ring with nginx itself is checked over real sockets in LoadBalancingTests.

import SwiftginxUpstream
import Testing

@Suite struct BalancerTests {
    func peers(_ weights: [Int], slowStart: Int = 0) -> [PeerState] {
        weights.map { PeerState(weight: $0, maxFails: 1, failTimeout: 10_000, slowStart: slowStart) }
    }

    func names(_ n: Int) -> [String] { (0..<n).map { "127.0.0.1:\(8000 + $0)" } }

    @Test func leastConnPrefersTheIdlePeer() {
        var b = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .leastConn)
        // Three requests in flight spread over the three peers, then the freed one wins.
        var held: [Int] = []
        for _ in 0..<3 {
            let r = b.pick(now: 0, tried: { _ in false })
            guard case .peer(let i) = r else {
                Issue.record("no peer")
                return
            }
            held.append(i)
        }
        #expect(Set(held) == [0, 1, 2])
        b.release(1, failed: false, now: 0)
        let next = b.pick(now: 0, tried: { _ in false })
        #expect(next == .peer(1))
    }

    @Test func leastConnWeighsConnections() {
        var b = Balancer(peers: peers([3, 1]), names: names(2), method: .leastConn)
        var counts = [0, 0]
        for _ in 0..<400 {
            guard case .peer(let i) = b.pick(now: 0, tried: { _ in false }) else { return }
            counts[i] += 1
        }
        // Nothing released: load follows weight 3:1.
        #expect(counts == [300, 100])
    }

    @Test func ipHashKeepsAClientOnOnePeerAndUsesThreeOctets() {
        var b = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .ipHash)
        func pick(_ a: [UInt8]) -> Int {
            guard case .peer(let i) = b.pick(now: 0, tried: { _ in false }, key: a) else { return -1 }
            b.release(i, failed: false, now: 0)
            return i
        }
        let first = pick([192, 168, 1, 10])
        for _ in 0..<20 { #expect(pick([192, 168, 1, 10]) == first) }
        // Same /24 → same peer.
        #expect(pick([192, 168, 1, 200]) == first)
        // nginx's arithmetic: hash = 89, then (hash * 113 + octet) % 6271 for 10.0.0.
        var h: UInt32 = 89
        for o: UInt32 in [10, 0, 0] { h = (h * 113 + o) % 6271 }
        #expect(pick([10, 0, 0, 1]) == Int(h % 3))
        // Spread over many /24s.
        var counts = [0, 0, 0]
        for x in 0..<3000 { counts[pick([10, UInt8(x / 256 % 256), UInt8(x % 256), 1])] += 1 }
        #expect(counts.allSatisfy { $0 > 800 })
    }

    @Test func ipHashMovesOnlyTheClientsOfAFailedPeer() {
        var b = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .ipHash)
        var before: [Int] = []
        for x in 0..<300 {
            guard
                case .peer(let i) = b.pick(now: 0, tried: { _ in false }, key: [10, UInt8(x / 256), UInt8(x % 256), 1])
            else { return }
            b.release(i, failed: false, now: 0)
            before.append(i)
        }
        b.release(0, failed: true, now: 1)
        for x in 0..<300 {
            guard
                case .peer(let i) = b.pick(now: 2, tried: { _ in false }, key: [10, UInt8(x / 256), UInt8(x % 256), 1])
            else { return }
            b.release(i, failed: false, now: 2)
            #expect(i != 0)
            if before[x] != 0 { #expect(i == before[x]) }
        }
    }

    @Test func plainHashIsStableAndSpread() {
        var b = Balancer(peers: peers([1, 1, 1, 1]), names: names(4), method: .hash(consistent: false))
        var counts = [0, 0, 0, 0]
        for k in 0..<4000 {
            let key = Array("/item/\(k)".utf8)
            guard case .peer(let i) = b.pick(now: 0, tried: { _ in false }, key: key) else { return }
            b.release(i, failed: false, now: 0)
            counts[i] += 1
            guard case .peer(let again) = b.pick(now: 0, tried: { _ in false }, key: key) else { return }
            b.release(again, failed: false, now: 0)
            #expect(again == i)
        }
        #expect(counts.allSatisfy { $0 > 800 })
    }

    @Test func consistentHashMovesFewKeysWhenAPeerIsAdded() {
        var three = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .hash(consistent: true))
        var four = Balancer(peers: peers([1, 1, 1, 1]), names: names(4), method: .hash(consistent: true))
        var moved = 0
        var counts = [0, 0, 0, 0]
        for k in 0..<3000 {
            let key = Array("user-\(k)".utf8)
            guard case .peer(let a) = three.pick(now: 0, tried: { _ in false }, key: key),
                case .peer(let b) = four.pick(now: 0, tried: { _ in false }, key: key)
            else { return }
            three.release(a, failed: false, now: 0)
            four.release(b, failed: false, now: 0)
            counts[b] += 1
            if a != b {
                moved += 1
                #expect(b == 3)  // a key only ever moves to the new peer
            }
        }
        #expect(moved > 450 && moved < 1050)  // about a quarter
        #expect(counts.allSatisfy { $0 > 500 })
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        var c = CRC32()
        c.update(Array("123456789".utf8))
        #expect(c.value == 0xCBF4_3926)
    }

    @Test func randomFollowsWeightsAndTwoPrefersTheLessLoaded() {
        var b = Balancer(peers: peers([3, 1]), names: names(2), method: .random(two: false), seed: 42)
        var counts = [0, 0]
        for _ in 0..<8000 {
            guard case .peer(let i) = b.pick(now: 0, tried: { _ in false }) else { return }
            b.release(i, failed: false, now: 0)
            counts[i] += 1
        }
        #expect(counts[0] > 5600 && counts[0] < 6400)
        var two = Balancer(peers: peers([1, 1]), names: names(2), method: .random(two: true), seed: 7)
        // Nothing released: "two" keeps the load even.
        var held = [0, 0]
        for _ in 0..<100 {
            guard case .peer(let i) = two.pick(now: 0, tried: { _ in false }) else { return }
            held[i] += 1
        }
        #expect(abs(held[0] - held[1]) <= 2)
    }

    @Test func unhealthyPeersAreSkippedAndSlowStartRamps() {
        var b = Balancer(peers: peers([1, 1], slowStart: 10_000), names: names(2), method: .roundRobin)
        b.rr.setHealthy(1, false, now: 0)
        for _ in 0..<10 {
            let r = b.pick(now: 0, tried: { _ in false })
            #expect(r == .peer(0))
            b.release(0, failed: false, now: 0)
        }
        b.rr.setHealthy(1, true, now: 1_000)
        func share(at now: Int64) -> Double {
            var n = 0
            for _ in 0..<1000 {
                guard case .peer(let i) = b.pick(now: now, tried: { _ in false }) else { return -1 }
                b.release(i, failed: false, now: now)
                if i == 1 { n += 1 }
            }
            return Double(n) / 1000
        }
        // Weight 1 ramps too coarsely: use the fraction of time instead with weight 10.
        var w = Balancer(peers: peers([10, 10], slowStart: 10_000), names: names(2), method: .roundRobin)
        w.rr.setHealthy(1, false, now: 0)
        w.rr.setHealthy(1, true, now: 0)
        func wshare(at now: Int64) -> Double {
            var n = 0
            for _ in 0..<2000 {
                guard case .peer(let i) = w.pick(now: now, tried: { _ in false }) else { return -1 }
                w.release(i, failed: false, now: now)
                if i == 1 { n += 1 }
            }
            return Double(n) / 2000
        }
        let early = wshare(at: 1_000)
        let middle = wshare(at: 5_000)
        let done = wshare(at: 20_000)
        #expect(early < 0.15)
        #expect(middle > 0.25 && middle < 0.40)
        #expect(abs(done - 0.5) < 0.01)
        #expect(share(at: 20_000) > 0.45)
    }

    @Test func allMethodsFallBackToBackupsAndReportNoLivePeers() {
        let methods: [BalancingMethod] = [.roundRobin, .leastConn, .hash(consistent: false), .random(two: true)]
        for m in methods {
            var ps = peers([1, 1])
            ps.append(PeerState(weight: 1, maxFails: 1, failTimeout: 10_000, backup: true))
            var b = Balancer(peers: ps, names: names(3), method: m)
            b.release(0, failed: true, now: 0)
            b.release(1, failed: true, now: 0)
            let r = b.pick(now: 1, tried: { _ in false }, key: [1, 2, 3])
            #expect(r == .peer(2), "\(m)")
        }
    }
}
