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
    /// Taken out by active health checks (`health_check`).
    public var unhealthy = false
    /// `slow_start` (ms) and when the peer last came back (healthy again, or usable
    /// after its fail_timeout): its weight ramps up from then.
    public let slowStart: Int
    public var recoveredAt: Int64 = Int64.min
    /// Whether the peer was out (failed or unhealthy) when last looked at.
    var wasOut = false

    public init(
        weight: Int, maxFails: Int, failTimeout: Int, maxConns: Int = 0, backup: Bool = false, down: Bool = false,
        slowStart: Int = 0
    ) {
        self.weight = weight
        self.maxFails = maxFails
        self.failTimeout = failTimeout
        self.maxConns = maxConns
        self.backup = backup
        self.down = down
        self.slowStart = slowStart
        self.effectiveWeight = weight
    }

    /// The effective weight now, scaled down while slow start runs (never below 1).
    @inline(__always) public func weightNow(now: Int64) -> Int {
        guard slowStart > 0, recoveredAt != Int64.min, now - recoveredAt < Int64(slowStart) else {
            return effectiveWeight
        }
        let elapsed = max(0, now - recoveredAt)
        return max(1, Int(Int64(effectiveWeight) * elapsed / Int64(slowStart)))
    }

    /// The weight least_conn divides by.
    @inline(__always) func effectiveShare(now: Int64) -> Int { weightNow(now: now) }
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
            if p.down || p.unhealthy || tried(0) || (p.maxConns > 0 && p.conns >= p.maxConns) { return .noLivePeers }
            peers[0].conns += 1
            peers[0].requests += 1
            return .peer(0)
        }
        if let i = best(now: now, backup: false, tried: tried) ?? best(now: now, backup: true, tried: tried) {
            peers[i].conns += 1
            peers[i].requests += 1
            return .peer(i)
        }
        return noLivePeers()
    }

    /// Whether peer `i` may take a request now: not tried, down, unhealthy, failed within
    /// its window or full. A peer that becomes usable again starts its slow start.
    public mutating func usable(_ i: Int, now: Int64, tried: (Int) -> Bool) -> Bool {
        let p = peers[i]
        if tried(i) || p.down { return false }
        let out = p.unhealthy || (p.maxFails > 0 && p.fails >= p.maxFails && now - p.checked <= Int64(p.failTimeout))
        if out {
            peers[i].wasOut = true
            return false
        }
        if p.wasOut {
            peers[i].wasOut = false
            peers[i].recoveredAt = now
        }
        if p.maxConns > 0 && p.conns >= p.maxConns { return false }
        return true
    }

    /// Bookkeeping when peer `i` is chosen (the failure window restarts, as nginx does).
    public mutating func markChosen(_ i: Int, now: Int64) {
        if now - peers[i].checked > Int64(peers[i].failTimeout) { peers[i].checked = now }
    }

    /// Every peer is out: nginx resets the failure state so the next request tries them all.
    public mutating func noLivePeers() -> Pick {
        for i in peers.indices { peers[i].fails = 0 }
        return .noLivePeers
    }

    /// Sets a peer's active-health state; a peer coming back starts its slow start.
    public mutating func setHealthy(_ i: Int, _ healthy: Bool, now: Int64) {
        guard peers.indices.contains(i) else { return }
        if healthy && peers[i].unhealthy { peers[i].recoveredAt = now }
        peers[i].unhealthy = !healthy
    }

    private mutating func best(now: Int64, backup: Bool, tried: (Int) -> Bool) -> Int? {
        var best: Int? = nil
        var total = 0
        for i in peers.indices where peers[i].backup == backup && usable(i, now: now, tried: tried) {
            let p = peers[i]
            let w = p.weightNow(now: now)
            peers[i].currentWeight += w
            total += w
            if p.effectiveWeight < p.weight { peers[i].effectiveWeight += 1 }
            if best == nil || peers[i].currentWeight > peers[best!].currentWeight { best = i }
        }
        guard let b = best else { return nil }
        peers[b].currentWeight -= total
        markChosen(b, now: now)
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
