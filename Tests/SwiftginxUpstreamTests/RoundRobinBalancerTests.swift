// Distribution and passive-health tests of the round robin balancer, with a manual clock.

import SwiftginxUpstream
import Testing

@Suite struct RoundRobinBalancerTests {
    func balancer(_ weights: [Int], maxFails: Int = 1, failTimeout: Int = 10_000, backup: Set<Int> = [])
        -> RoundRobinBalancer
    {
        RoundRobinBalancer(
            peers: weights.enumerated().map {
                PeerState(
                    weight: $0.element, maxFails: maxFails, failTimeout: failTimeout, backup: backup.contains($0.offset)
                )
            })
    }

    func sequence(_ b: inout RoundRobinBalancer, _ n: Int, now: Int64 = 0) throws -> [Int] {
        try (0..<n).map { _ in
            let i = try #require(b.pick(now: now, tried: { _ in false }).peerIndex)
            b.release(i, failed: false, now: now)
            return i
        }
    }

    @Test func nginxSmoothSequenceForWeights511() throws {
        var b = balancer([5, 1, 1])
        // nginx's documented sequence: a a b a c a a.
        #expect(try sequence(&b, 7) == [0, 0, 1, 0, 2, 0, 0])
        #expect(try sequence(&b, 7) == [0, 0, 1, 0, 2, 0, 0])
    }

    @Test func equalWeightsAlternate() throws {
        var b = balancer([1, 1, 1])
        #expect(try sequence(&b, 6) == [0, 1, 2, 0, 1, 2])
    }

    @Test func distributionFollowsWeights() throws {
        var b = balancer([3, 2, 1])
        var counts = [0, 0, 0]
        for i in try sequence(&b, 6000) { counts[i] += 1 }
        #expect(counts == [3000, 2000, 1000])
    }

    @Test func failedPeerIsSkippedUntilFailTimeoutPasses() throws {
        var b = balancer([1, 1], maxFails: 1, failTimeout: 10_000)
        let first = try #require(b.pick(now: 0, tried: { _ in false }).peerIndex)
        let disabled = b.release(first, failed: true, now: 0)
        #expect(disabled)
        let other = 1 - first
        #expect(try sequence(&b, 4, now: 5_000) == [other, other, other, other])
        // After fail_timeout the peer is tried again; a success clears its failures.
        let later = try sequence(&b, 4, now: 10_001)
        #expect(later.contains(first))
    }

    @Test func maxFailsCountsWithinTheWindow() throws {
        var b = balancer([1, 1], maxFails: 3, failTimeout: 10_000)
        for _ in 0..<2 { b.release(0, failed: true, now: 0) }
        #expect(b.peers[0].fails == 2)
        #expect(try sequence(&b, 4, now: 1).contains(0))
        let disabled = b.release(0, failed: true, now: 2)
        #expect(disabled)
        #expect(try !sequence(&b, 4, now: 3).contains(0))
    }

    @Test func backupOnlyWhenPrimariesAreOut() throws {
        var b = balancer([1, 1, 1], backup: [2])
        #expect(try !sequence(&b, 10).contains(2))
        b.release(0, failed: true, now: 0)
        b.release(1, failed: true, now: 0)
        #expect(try sequence(&b, 3, now: 1) == [2, 2, 2])
    }

    @Test func triedPeersAreNotPickedAgain() throws {
        var b = balancer([1, 1])
        let a = try #require(b.pick(now: 0, tried: { _ in false }).peerIndex)
        let c = try #require(b.pick(now: 0, tried: { $0 == a }).peerIndex)
        #expect(a != c)
        let r1 = b.pick(now: 0, tried: { _ in true })
        #expect(r1 == .noLivePeers)
    }

    @Test func allFailedResetsAndReportsNoLivePeers() throws {
        var b = balancer([1, 1])
        b.release(0, failed: true, now: 0)
        b.release(1, failed: true, now: 0)
        let r2 = b.pick(now: 1, tried: { _ in false })
        #expect(r2 == .noLivePeers)
        #expect(b.peers.allSatisfy { $0.fails == 0 })
        let r3 = b.pick(now: 2, tried: { _ in false })
        #expect(r3 != .noLivePeers)
    }

    @Test func singlePeerIsNeverTakenOut() throws {
        var b = balancer([1])
        for _ in 0..<5 { b.release(0, failed: true, now: 0) }
        let r4 = b.pick(now: 1, tried: { _ in false })
        #expect(r4 == .peer(0))
    }

    @Test func downPeersAndMaxConns() throws {
        var b = RoundRobinBalancer(peers: [
            PeerState(weight: 1, maxFails: 1, failTimeout: 10_000, maxConns: 1),
            PeerState(weight: 1, maxFails: 1, failTimeout: 10_000, down: true),
        ])
        let r5 = b.pick(now: 0, tried: { _ in false })
        #expect(r5 == .peer(0))
        let r6 = b.pick(now: 0, tried: { _ in false })
        #expect(r6 == .noLivePeers)
        b.release(0, failed: false, now: 0)
        let r7 = b.pick(now: 0, tried: { _ in false })
        #expect(r7 == .peer(0))
    }
}
