// An upstream group with `server name resolve` lines: its peers are the group's fixed
// servers plus the addresses the resolver answers for each name, re-asked when the
// answer expires (its TTL, or the resolver's `valid=`; at least once a second). The
// first worker thread does the asking, on its event loop; every thread takes the
// current (group, peer table) pair per request, so a request keeps the peers it
// started with. When an answer changes, a new pair is made: addresses that stay keep
// their balancer state (failures, fail timeout, health, counters), new ones start
// fresh, gone ones leave with the old table. A failed answer (a server failure, a
// timeout) leaves the peers as they are, as nginx keeps them; "host not found" removes
// the name's peers.

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxUpstream
import Synchronization

final class DynamicUpstream: Sendable {
    let template: UpstreamGroup
    let resolve: UpstreamResolve

    private struct State {
        var group: UpstreamGroup
        var table: PeerTable
        /// Per `resolvable` server: its addresses (nil: never answered) and next query time.
        var answers: [[SocketAddress]?]
        var due: [Int64]
        var asking: [Bool]
    }

    private let state: Mutex<State>

    /// A group of a new generation; after a reload it starts from the addresses the
    /// previous generation's group of the same name had for the same names, as nginx
    /// keeps them, while they are asked for again.
    init(template: UpstreamGroup, resolve: UpstreamResolve, previous: DynamicUpstream? = nil) {
        self.template = template
        self.resolve = resolve
        let n = template.resolvable.count
        var s = State(
            group: template, table: PeerTable(group: template), answers: Array(repeating: nil, count: n),
            due: Array(repeating: 0, count: n), asking: Array(repeating: false, count: n))
        if let previous, previous.template.name == template.name {
            let old = previous.state.withLock { $0.answers }
            for (i, server) in template.resolvable.enumerated() {
                if let j = previous.template.resolvable.firstIndex(where: { $0.resolveName == server.resolveName }),
                    j < old.count
                {
                    s.answers[i] = old[j]
                }
            }
            if s.answers.contains(where: { $0 != nil }) { Self.rebuild(&s, template: template) }
        }
        state = Mutex(s)
    }

    /// The peers a request uses now.
    var current: (group: UpstreamGroup, table: PeerTable) {
        state.withLock { ($0.group, $0.table) }
    }

    /// Asks again for every name whose answer is due; returns when to look next.
    func refresh(with resolver: WorkerResolver, now: Int64) -> Int64 {
        var ask: [Int] = []
        var next = Int64.max
        state.withLock { s in
            for i in s.due.indices where !s.asking[i] {
                if s.due[i] <= now {
                    s.asking[i] = true
                    ask.append(i)
                } else {
                    next = min(next, s.due[i])
                }
            }
        }
        for i in ask {
            guard let name = template.resolvable[i].resolveName else { continue }
            resolver.resolve(name, config: resolve.resolver, timeout: resolve.timeout) { [self] result in
                answered(i, result, now: resolver.worker.now)
            }
        }
        return ask.isEmpty ? next : min(next, now + 1000)
    }

    private func answered(_ i: Int, _ result: WorkerResolver.Result, now: Int64) {
        state.withLock { s in
            s.asking[i] = false
            let retry = Int64(resolve.resolver.valid ?? 5) * 1000
            switch result {
            case .success(let answer):
                s.due[i] = max(now + 1000, answer.expires)
                if let old = s.answers[i], Self.same(old, answer.addresses) { return }
                s.answers[i] = answer.addresses
            case .failure(let failure):
                s.due[i] = now + max(1000, retry)
                // Host not found (and no data) means the name has no addresses now.
                guard failure.code == 3 else { return }
                if s.answers[i]?.isEmpty == true { return }
                s.answers[i] = []
            }
            Self.rebuild(&s, template: template)
        }
    }

    private static func same(_ a: [SocketAddress], _ b: [SocketAddress]) -> Bool {
        a.count == b.count && zip(a, b).allSatisfy { $0.description == $1.description }
    }

    /// A new group and peer table from the fixed servers and the current answers.
    private static func rebuild(_ s: inout State, template: UpstreamGroup) {
        var servers = template.servers
        for (i, server) in template.resolvable.enumerated() {
            guard case .inet(_, let port) = server.address else { continue }
            for a in s.answers[i] ?? [] {
                var peer = server
                peer.address = .inet(host: a.host, port: port)
                peer.resolveName = nil
                servers.append(peer)
            }
        }
        let g = template
        let group = UpstreamGroup(
            name: g.name, servers: servers, keepalive: g.keepalive, keepaliveTimeout: g.keepaliveTimeout,
            keepaliveRequests: g.keepaliveRequests, keepaliveTime: g.keepaliveTime, isExplicit: g.isExplicit,
            index: g.index, method: g.method, hashKey: g.hashKey, resolvable: g.resolvable)
        let table = PeerTable(group: group)
        table.carryState(from: s.table)
        s.group = group
        s.table = table
    }
}
