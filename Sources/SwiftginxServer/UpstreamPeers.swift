// The peer state of one upstream group shared by every worker thread of a
// configuration generation: the round robin balancer with its passive-health
// counters behind one lock (a pick is a few dozen instructions; measured uncontended
// with two workers). A reload starts fresh state, as nginx's new workers do.

import SwiftginxConfig
import SwiftginxUpstream
import Synchronization

final class PeerTable: Sendable {
    let group: UpstreamGroup
    /// `$upstream_addr` spelling of each peer, made once.
    let addressTexts: [String]
    private let balancer: Mutex<RoundRobinBalancer>

    init(group: UpstreamGroup) {
        self.group = group
        addressTexts = group.servers.map(\.address.description)
        balancer = Mutex(
            RoundRobinBalancer(
                peers: group.servers.map {
                    PeerState(
                        weight: $0.weight, maxFails: $0.maxFails, failTimeout: $0.failTimeout, maxConns: $0.maxConns,
                        backup: $0.backup, down: $0.down)
                }))
    }

    func pick(now: Int64, tried: [Bool]) -> RoundRobinBalancer.Pick {
        balancer.withLock { b in b.pick(now: now, tried: { $0 < tried.count && tried[$0] }) }
    }

    /// Returns true when this failure took the peer out.
    func release(_ peer: Int, failed: Bool, now: Int64) -> Bool {
        balancer.withLock { $0.release(peer, failed: failed, now: now) }
    }

    var snapshot: [PeerState] { balancer.withLock { $0.peers } }
}
