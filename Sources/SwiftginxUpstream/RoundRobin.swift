// nginx's smooth weighted round robin with passive health, as a pure value: peers
// with weights, `max_fails` failures within `fail_timeout` take a peer out until the
// window passes, a failure lowers the effective weight (recovering by one per pick),
// `backup` peers are used only when no primary can be chosen, and a group of one
// peer is never marked unavailable. Time is passed in (milliseconds), so tests use a
// manual clock; the server wraps one balancer per upstream in a lock shared by all
// worker threads.

/// One peer's configuration and passive-health state.
public struct PeerState: Sendable {
    public let weight: Int
    public let maxFails: Int
    /// Milliseconds.
    public let failTimeout: Int
    public let maxConns: Int
    public let backup: Bool
    public var down: Bool
    public var currentWeight = 0
    public var effectiveWeight: Int
    public var fails = 0
    /// When the last failure happened, and when the failure window was last checked.
    public var accessed: Int64 = 0
    public var checked: Int64 = 0
    /// Requests in flight on this peer (all workers).
    public var conns = 0
    /// Requests sent and failures counted, for the status view and tests.
    public var requests = 0
    public var totalFails = 0

    public init(
        weight: Int, maxFails: Int, failTimeout: Int, maxConns: Int = 0, backup: Bool = false, down: Bool = false
    ) {
        self.weight = weight
        self.maxFails = maxFails
        self.failTimeout = failTimeout
        self.maxConns = maxConns
        self.backup = backup
        self.down = down
        self.effectiveWeight = weight
    }
}

public struct RoundRobinBalancer: Sendable {
    public var peers: [PeerState]

    public init(peers: [PeerState]) { self.peers = peers }

    /// Peers that are not `backup`.
    public var primaryCount: Int { peers.count { !$0.backup } }

    /// The outcome of a pick.
    public enum Pick: Sendable, Equatable {
        case peer(Int)
        /// Every peer is down, failed or busy ("no live upstreams"); failure counts were reset.
        case noLivePeers
    }

    /// Chooses a peer not in `tried`, primaries first, then backups.
    public mutating func pick(now: Int64, tried: (Int) -> Bool) -> Pick {
        if primaryCount == 1 && peers.count == 1 {
            // A single server: never taken out by failures (nginx's "single" rule).
            let p = peers[0]
            if p.down || tried(0) || (p.maxConns > 0 && p.conns >= p.maxConns) { return .noLivePeers }
            peers[0].conns += 1
            peers[0].requests += 1
            return .peer(0)
        }
        if let i = best(now: now, backup: false, tried: tried) ?? best(now: now, backup: true, tried: tried) {
            peers[i].conns += 1
            peers[i].requests += 1
            return .peer(i)
        }
        // nginx resets the failure state so that the next request tries them all again.
        for i in peers.indices { peers[i].fails = 0 }
        return .noLivePeers
    }

    private mutating func best(now: Int64, backup: Bool, tried: (Int) -> Bool) -> Int? {
        var best: Int? = nil
        var total = 0
        for i in peers.indices where peers[i].backup == backup {
            let p = peers[i]
            if tried(i) || p.down { continue }
            if p.maxFails > 0 && p.fails >= p.maxFails && now - p.checked <= Int64(p.failTimeout) { continue }
            if p.maxConns > 0 && p.conns >= p.maxConns { continue }
            peers[i].currentWeight += p.effectiveWeight
            total += p.effectiveWeight
            if p.effectiveWeight < p.weight { peers[i].effectiveWeight += 1 }
            if best == nil || peers[i].currentWeight > peers[best!].currentWeight { best = i }
        }
        guard let b = best else { return nil }
        peers[b].currentWeight -= total
        if now - peers[b].checked > Int64(peers[b].failTimeout) { peers[b].checked = now }
        return b
    }

    /// Ends a request on peer `i`; `failed` when it counts as a failure
    /// (`proxy_next_upstream` conditions). Returns true when this failure just took the
    /// peer out ("upstream server temporarily disabled").
    @discardableResult
    public mutating func release(_ i: Int, failed: Bool, now: Int64) -> Bool {
        guard peers.indices.contains(i) else { return false }
        peers[i].conns = max(0, peers[i].conns - 1)
        if peers.count == 1 { return false }
        if failed {
            peers[i].fails += 1
            peers[i].totalFails += 1
            peers[i].accessed = now
            peers[i].checked = now
            let p = peers[i]
            if p.maxFails > 0 {
                peers[i].effectiveWeight -= p.weight / p.maxFails
                if p.fails >= p.maxFails {
                    if peers[i].effectiveWeight < 0 { peers[i].effectiveWeight = 0 }
                    return p.fails == p.maxFails
                }
            }
            if peers[i].effectiveWeight < 0 { peers[i].effectiveWeight = 0 }
        } else if peers[i].accessed < peers[i].checked {
            peers[i].fails = 0
        }
        return false
    }
}
