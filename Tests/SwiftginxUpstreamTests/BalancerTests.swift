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

    @Test func leastConnPrefersTheIdlePeer() throws {
        var b = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .leastConn)
        // Three requests in flight spread over the three peers, then the freed one wins.
        var held: [Int] = []
        for _ in 0..<3 {
            let r = b.pick(now: 0, tried: { _ in false })
            let i = try #require(r.peerIndex)
            held.append(i)
        }
        #expect(Set(held) == [0, 1, 2])
        b.release(1, failed: false, now: 0)
        let next = b.pick(now: 0, tried: { _ in false })
        #expect(next == .peer(1))
    }

    @Test func leastConnWeighsConnections() throws {
        var b = Balancer(peers: peers([3, 1]), names: names(2), method: .leastConn)
        var counts = [0, 0]
        for _ in 0..<400 {
            let i = try #require(b.pick(now: 0, tried: { _ in false }).peerIndex)
            counts[i] += 1
        }
        // Nothing released: load follows weight 3:1.
        #expect(counts == [300, 100])
    }

    @Test func ipHashKeepsAClientOnOnePeerAndUsesThreeOctets() throws {
        var b = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .ipHash)
        func pick(_ a: [UInt8]) throws -> Int {
            let i = try #require(b.pick(now: 0, tried: { _ in false }, key: a).peerIndex)
            b.release(i, failed: false, now: 0)
            return i
        }
        let first = try pick([192, 168, 1, 10])
        for _ in 0..<20 { #expect(try pick([192, 168, 1, 10]) == first) }
        // Same /24 → same peer.
        #expect(try pick([192, 168, 1, 200]) == first)
        // nginx's arithmetic: hash = 89, then (hash * 113 + octet) % 6271 for 10.0.0.
        var h: UInt32 = 89
        for o: UInt32 in [10, 0, 0] { h = (h * 113 + o) % 6271 }
        #expect(try pick([10, 0, 0, 1]) == Int(h % 3))
        // Spread over many /24s.
        var counts = [0, 0, 0]
        for x in 0..<3000 { try counts[pick([10, UInt8(x / 256 % 256), UInt8(x % 256), 1])] += 1 }
        #expect(counts.allSatisfy { $0 > 800 })
    }

    @Test func ipHashMovesOnlyTheClientsOfAFailedPeer() throws {
        var b = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .ipHash)
        var before: [Int] = []
        for x in 0..<300 {
            let i = try #require(
                b.pick(now: 0, tried: { _ in false }, key: [10, UInt8(x / 256), UInt8(x % 256), 1]).peerIndex)
            b.release(i, failed: false, now: 0)
            before.append(i)
        }
        b.release(0, failed: true, now: 1)
        for x in 0..<300 {
            let i = try #require(
                b.pick(now: 2, tried: { _ in false }, key: [10, UInt8(x / 256), UInt8(x % 256), 1]).peerIndex)
            b.release(i, failed: false, now: 2)
            #expect(i != 0)
            if before[x] != 0 { #expect(i == before[x]) }
        }
    }

    @Test func plainHashIsStableAndSpread() throws {
        var b = Balancer(peers: peers([1, 1, 1, 1]), names: names(4), method: .hash(consistent: false))
        var counts = [0, 0, 0, 0]
        for k in 0..<4000 {
            let key = Array("/item/\(k)".utf8)
            let i = try #require(b.pick(now: 0, tried: { _ in false }, key: key).peerIndex)
            b.release(i, failed: false, now: 0)
            counts[i] += 1
            let again = try #require(b.pick(now: 0, tried: { _ in false }, key: key).peerIndex)
            b.release(again, failed: false, now: 0)
            #expect(again == i)
        }
        #expect(counts.allSatisfy { $0 > 800 })
    }

    @Test func consistentHashMovesFewKeysWhenAPeerIsAdded() throws {
        var three = Balancer(peers: peers([1, 1, 1]), names: names(3), method: .hash(consistent: true))
        var four = Balancer(peers: peers([1, 1, 1, 1]), names: names(4), method: .hash(consistent: true))
        var moved = 0
        var counts = [0, 0, 0, 0]
        for k in 0..<3000 {
            let key = Array("user-\(k)".utf8)
            let a = try #require(three.pick(now: 0, tried: { _ in false }, key: key).peerIndex)
            let b = try #require(four.pick(now: 0, tried: { _ in false }, key: key).peerIndex)
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

    @Test func crc32MatchesTheStandardCheckValue() throws {
        var c = CRC32()
        c.update(Array("123456789".utf8))
        #expect(c.value == 0xCBF4_3926)
    }

    @Test func randomFollowsWeightsAndTwoPrefersTheLessLoaded() throws {
        var b = Balancer(peers: peers([3, 1]), names: names(2), method: .random(two: false), seed: 42)
        var counts = [0, 0]
        for _ in 0..<8000 {
            let i = try #require(b.pick(now: 0, tried: { _ in false }).peerIndex)
            b.release(i, failed: false, now: 0)
            counts[i] += 1
        }
        #expect(counts[0] > 5600 && counts[0] < 6400)
        var two = Balancer(peers: peers([1, 1]), names: names(2), method: .random(two: true), seed: 7)
        // Nothing released: "two" keeps the load even.
        var held = [0, 0]
        for _ in 0..<100 {
            let i = try #require(two.pick(now: 0, tried: { _ in false }).peerIndex)
            held[i] += 1
        }
        #expect(abs(held[0] - held[1]) <= 2)
    }

    @Test func unhealthyPeersAreSkippedAndSlowStartRamps() throws {
        var b = Balancer(peers: peers([1, 1], slowStart: 10_000), names: names(2), method: .roundRobin)
        b.rr.setHealthy(1, false, now: 0)
        for _ in 0..<10 {
            let r = b.pick(now: 0, tried: { _ in false })
            #expect(r == .peer(0))
            b.release(0, failed: false, now: 0)
        }
        b.rr.setHealthy(1, true, now: 1_000)
        func share(at now: Int64) throws -> Double {
            var n = 0
            for _ in 0..<1000 {
                let i = try #require(b.pick(now: now, tried: { _ in false }).peerIndex)
                b.release(i, failed: false, now: now)
                if i == 1 { n += 1 }
            }
            return Double(n) / 1000
        }
        // Weight 1 ramps too coarsely: use the fraction of time instead with weight 10.
        var w = Balancer(peers: peers([10, 10], slowStart: 10_000), names: names(2), method: .roundRobin)
        w.rr.setHealthy(1, false, now: 0)
        w.rr.setHealthy(1, true, now: 0)
        func wshare(at now: Int64) throws -> Double {
            var n = 0
            for _ in 0..<2000 {
                let i = try #require(w.pick(now: now, tried: { _ in false }).peerIndex)
                w.release(i, failed: false, now: now)
                if i == 1 { n += 1 }
            }
            return Double(n) / 2000
        }
        let early = try wshare(at: 1_000)
        let middle = try wshare(at: 5_000)
        let done = try wshare(at: 20_000)
        #expect(early < 0.15)
        #expect(middle > 0.25 && middle < 0.40)
        #expect(abs(done - 0.5) < 0.01)
        #expect(try share(at: 20_000) > 0.45)
    }

    @Test func allMethodsFallBackToBackupsAndReportNoLivePeers() throws {
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
