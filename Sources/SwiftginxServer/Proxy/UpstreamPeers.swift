// The peer state of one upstream group shared by every worker thread of a
// configuration generation: the balancer (round robin, least_conn, ip_hash, hash,
// random) with its passive-health counters and the active health checks' results,
// behind one lock (a pick is a few dozen instructions). A reload starts fresh state,
// as nginx's new workers do.

import SwiftginxConfig
import SwiftginxUpstream
import Synchronization

/// What the status view shows of a peer's active checks.
struct HealthStats: Sendable {
    var checks = 0
    var fails = 0
    var unhealthyTransitions = 0
    var consecutiveFails = 0
    var consecutivePasses = 0
    var lastPassed: Bool? = nil
    var lastResponseMs: Int64 = 0
    var lastError = ""
    /// A mandatory check has not passed yet.
    var checking = false
}

final class PeerTable: Sendable {
    let group: UpstreamGroup
    /// `$upstream_addr` spelling of each peer, made once.
    let addressTexts: [String]
    /// Each peer's `metrics` series (empty when the group is not counted).
    let metricsIDs: [Int]
    private let state: Mutex<(balancer: Balancer, health: [HealthStats])>

    init(group: UpstreamGroup, mandatoryChecks: Bool = false) {
        self.group = group
        addressTexts = group.servers.map(\.address.description)
        metricsIDs =
            group.metricsID >= 0
            ? addressTexts.map { MetricsRegistry.shared.id(.peer, group.name, $0) } : []
        var balancer = Balancer(
            peers: group.servers.map {
                PeerState(
                    weight: $0.weight, maxFails: $0.maxFails, failTimeout: $0.failTimeout, maxConns: $0.maxConns,
                    backup: $0.backup, down: $0.down, slowStart: $0.slowStart)
            }, names: group.servers.map { $0.name.isEmpty ? $0.address.description : $0.name }, method: group.method)
        var health = Array(repeating: HealthStats(), count: group.servers.count)
        if mandatoryChecks {
            // `mandatory`: no traffic until a check has passed.
            for i in group.servers.indices {
                balancer.rr.setHealthy(i, false, now: 0)
                health[i].checking = true
            }
        }
        state = Mutex((balancer, health))
    }

    func pick(now: Int64, tried: [Bool], key: [UInt8]) -> RoundRobinBalancer.Pick {
        state.withLock { s in s.balancer.pick(now: now, tried: { $0 < tried.count && tried[$0] }, key: key) }
    }

    /// Returns true when this failure took the peer out.
    func release(_ peer: Int, failed: Bool, now: Int64) -> Bool {
        state.withLock { $0.balancer.release(peer, failed: failed, now: now) }
    }

    /// Records a check's outcome; returns the new health when it changed.
    func recordCheck(_ peer: Int, passed: Bool, error: String, responseMs: Int64, check: HealthCheck, now: Int64)
        -> Bool?
    {
        state.withLock { s in
            guard s.health.indices.contains(peer) else { return nil }
            var h = s.health[peer]
            h.checks += 1
            h.lastPassed = passed
            h.lastResponseMs = responseMs
            h.lastError = error
            let wasHealthy = !s.balancer.rr.peers[peer].unhealthy
            var change: Bool? = nil
            if passed {
                h.consecutivePasses += 1
                h.consecutiveFails = 0
                if !wasHealthy && (h.checking || h.consecutivePasses >= check.passes) {
                    s.balancer.rr.setHealthy(peer, true, now: now)
                    change = true
                }
                h.checking = false
            } else {
                h.fails += 1
                h.consecutiveFails += 1
                h.consecutivePasses = 0
                if wasHealthy && h.consecutiveFails >= check.fails {
                    s.balancer.rr.setHealthy(peer, false, now: now)
                    h.unhealthyTransitions += 1
                    change = false
                }
            }
            s.health[peer] = h
            return change
        }
    }

    /// Takes over the state of the peers `old` has at the same addresses (a group
    /// whose resolved addresses changed): failures, their window, health, counters.
    func carryState(from old: PeerTable) {
        let (oldPeers, oldHealth) = old.snapshot
        let oldTexts = old.addressTexts
        state.withLock { s in
            for (i, text) in addressTexts.enumerated() {
                guard let j = oldTexts.firstIndex(of: text), j < oldPeers.count else { continue }
                let o = oldPeers[j]
                s.balancer.rr.peers[i].fails = o.fails
                s.balancer.rr.peers[i].accessed = o.accessed
                s.balancer.rr.peers[i].checked = o.checked
                s.balancer.rr.peers[i].requests = o.requests
                s.balancer.rr.peers[i].totalFails = o.totalFails
                s.balancer.rr.peers[i].unhealthy = o.unhealthy
                s.balancer.rr.peers[i].recoveredAt = o.recoveredAt
                s.balancer.rr.peers[i].effectiveWeight = o.effectiveWeight
                s.balancer.rr.peers[i].currentWeight = o.currentWeight
                if j < oldHealth.count { s.health[i] = oldHealth[j] }
            }
        }
    }

    var snapshot: (peers: [PeerState], health: [HealthStats]) {
        state.withLock { ($0.balancer.peers, $0.health) }
    }
}
