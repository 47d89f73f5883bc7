// An upstream group with `server name resolve` lines: its peers are the group's fixed
// servers plus what the resolver answers for each name — its addresses, or with
// `service=` its SRV records' targets and ports (the lowest priority value as peers,
// the rest as backups; with `backup`, the lowest as backups and the rest ignored, as
// nginx documents). Names are asked again when their answer expires (the TTL, or the
// resolver's `valid=`; at least a second apart). The first worker thread does the
// asking, on its event loop; every thread takes the current (group, peer table) pair
// per request, so a request keeps the peers it started with. When an answer changes, a
// new pair is made: addresses that stay keep their balancer state (failures, fail
// timeout, health, counters), new ones start fresh, gone ones leave with the old table.
// A failed answer (a server failure, a timeout) leaves the peers as they are, as nginx
// keeps them; "host not found" removes the name's peers. After a reload the group
// starts from the previous generation's answers.

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxUpstream
import Synchronization

final class DynamicUpstream: Sendable {
    /// One resolved peer of a `resolve` line.
    struct Peer: Sendable, Equatable {
        let host: String
        let port: Int
        let backup: Bool
    }

    let template: UpstreamGroup
    let resolve: UpstreamResolve

    private struct State {
        var group: UpstreamGroup
        var table: PeerTable
        /// Per `resolvable` server: its peers (nil: never answered) and next query time.
        var answers: [[Peer]?]
        var due: [Int64]
        var asking: [Bool]
    }

    private let state: Mutex<State>

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
                guard
                    let j = previous.template.resolvable.firstIndex(where: {
                        $0.resolveName == server.resolveName && $0.service == server.service
                    }), j < old.count, let peers = old[j]
                else { continue }
                // The same name on a line that now says another port: that port.
                s.answers[i] = peers.map { p in
                    guard server.service == nil, case .inet(_, let port) = server.address else { return p }
                    return Peer(host: p.host, port: port, backup: p.backup)
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
            let server = template.resolvable[i]
            if let service = server.service {
                askService(i, service, backupLine: server.backup, resolver: resolver)
            } else if let name = server.resolveName, case .inet(_, let port) = server.address {
                resolver.resolve(name, config: resolve.resolver, timeout: resolve.timeout) { [self] result in
                    let answer = result.map { entry in
                        (
                            peers: entry.addresses.map { Peer(host: $0.host, port: port, backup: server.backup) },
                            expires: entry.expires
                        )
                    }
                    answered(i, answer, now: resolver.worker.now)
                }
            }
        }
        return ask.isEmpty ? next : min(next, now + 1000)
    }

    /// SRV: the records, then each target's addresses.
    private func askService(_ i: Int, _ service: String, backupLine: Bool, resolver: WorkerResolver) {
        resolver.resolveService(service, config: resolve.resolver, timeout: resolve.timeout) { [self] result in
            let now = resolver.worker.now
            switch result {
            case .failure(let failure):
                answered(i, .failure(failure), now: now)
            case .success(let srv):
                let lowest = srv.records.map(\.priority).min() ?? 0
                // (record, backup) in answer order; with `backup`, the others are ignored.
                let used: [(DNSChannel.Service, Bool)] = srv.records.compactMap { r in
                    if backupLine { return r.priority == lowest ? (r, true) : nil }
                    return (r, r.priority != lowest)
                }
                var expires = now + Int64(resolve.resolver.valid ?? srv.ttl) * 1000
                var found: [[SocketAddress]?] = Array(repeating: nil, count: used.count)
                var failed: DNSChannel.Failure? = nil
                var left = used.count
                if left == 0 {
                    answered(i, .success(([], expires)), now: now)
                    return
                }
                for (k, (record, _)) in used.enumerated() {
                    resolver.resolve(record.target, config: resolve.resolver, timeout: resolve.timeout) {
                        [self] result in
                        switch result {
                        case .success(let entry):
                            found[k] = entry.addresses
                            expires = min(expires, entry.expires)
                        case .failure(let failure):
                            // A target that does not exist adds nothing; one that could not
                            // be asked leaves the peers as they are.
                            found[k] = []
                            if failure.code != 3 { failed = failure }
                        }
                        left -= 1
                        guard left == 0 else { return }
                        if let failed {
                            answered(i, .failure(failed), now: resolver.worker.now)
                            return
                        }
                        var peers: [Peer] = []
                        for (k, (record, backup)) in used.enumerated() {
                            for a in found[k] ?? [] {
                                peers.append(Peer(host: a.host, port: record.port, backup: backup))
                            }
                        }
                        answered(i, .success((peers, expires)), now: resolver.worker.now)
                    }
                }
            }
        }
    }

    private func answered(
        _ i: Int, _ result: Result<(peers: [Peer], expires: Int64), DNSChannel.Failure>, now: Int64
    ) {
        state.withLock { s in
            s.asking[i] = false
            switch result {
            case .success(let answer):
                s.due[i] = max(now + 1000, answer.expires)
                if s.answers[i] == answer.peers { return }
                s.answers[i] = answer.peers
            case .failure(let failure):
                s.due[i] = now + max(1000, Int64(resolve.resolver.valid ?? 5) * 1000)
                // Host not found (and no data) means the name has no addresses now.
                guard failure.code == 3 else { return }
                if s.answers[i]?.isEmpty == true { return }
                s.answers[i] = []
            }
            Self.rebuild(&s, template: template)
        }
    }

    /// A new group and peer table from the fixed servers and the current answers.
    private static func rebuild(_ s: inout State, template: UpstreamGroup) {
        var servers = template.servers
        for (i, server) in template.resolvable.enumerated() {
            for p in s.answers[i] ?? [] {
                var peer = server
                peer.address = .inet(host: p.host, port: p.port)
                peer.backup = p.backup
                peer.resolveName = nil
                peer.service = nil
                servers.append(peer)
            }
        }
        let g = template
        let group = UpstreamGroup(
            name: g.name, servers: servers, keepalive: g.keepalive, keepaliveTimeout: g.keepaliveTimeout,
            keepaliveRequests: g.keepaliveRequests, keepaliveTime: g.keepaliveTime, isExplicit: g.isExplicit,
            index: g.index, method: g.method, hashKey: g.hashKey, resolvable: g.resolvable)
        group.metricsID = g.metricsID
        let table = PeerTable(group: group)
        table.carryState(from: s.table)
        s.group = group
        s.table = table
    }
}
