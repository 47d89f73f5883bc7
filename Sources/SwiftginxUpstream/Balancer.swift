// The balancing algorithms of nginx's upstream modules over one shared peer list,
// each reproducing nginx's choice: `least_conn` (fewest active requests per weight,
// ties by smooth round robin), `ip_hash` (the first three octets of IPv4, all of IPv6,
// nginx's 113/6271 hash and 20 rehashes), `hash KEY` (Cache::Memcached-compatible CRC32
// rehashing), `hash KEY consistent` (nginx's ketama ring: 160 points per weight unit
// from CRC32 of "host\0port" chained with the previous point), and `random [two
// [least_conn]]`. Every one skips peers that are down, failed (max_fails), unhealthy
// (active checks), full (max_conns) or already tried, and falls back as nginx does.
// Weights ramp up under `slow_start` after a peer recovers.

public enum BalancingMethod: Sendable, Equatable {
    case roundRobin
    case leastConn
    case ipHash
    case hash(consistent: Bool)
    case random(two: Bool)
}

/// One point of the consistent-hash ring.
struct RingPoint: Sendable {
    let hash: UInt32
    /// The peer's server name as written (several peers may share one).
    let server: Int
}

public struct Balancer: Sendable {
    public var rr: RoundRobinBalancer
    public let method: BalancingMethod
    /// Server names as written in the configuration (`host:port`, `unix:/path`), per peer.
    public let names: [String]
    /// Distinct names and, per peer, its name's index (for the consistent ring).
    let nameIndex: [Int]
    let ring: [RingPoint]
    /// Random source (a seedable generator for tests).
    var random: SplitMix64

    public init(peers: [PeerState], names: [String], method: BalancingMethod, seed: UInt64 = 0x9E37_79B9_7F4A_7C15) {
        rr = RoundRobinBalancer(peers: peers)
        self.method = method
        self.names = names
        var distinct: [String: Int] = [:]
        var index: [Int] = []
        for n in names {
            if distinct[n] == nil { distinct[n] = distinct.count }
            index.append(distinct[n]!)
        }
        nameIndex = index
        random = SplitMix64(seed: seed)
        if case .hash(consistent: true) = method {
            ring = Balancer.buildRing(peers: peers, names: names, nameIndex: index)
        } else {
            ring = []
        }
    }

    public var peers: [PeerState] { rr.peers }

    /// Picks a peer for a request. `key` is the client address bytes (ip_hash: 4 bytes of
    /// IPv4 or 16 of IPv6) or the evaluated hash key.
    public mutating func pick(now: Int64, tried: (Int) -> Bool, key: [UInt8] = []) -> RoundRobinBalancer.Pick {
        switch method {
        case .roundRobin:
            return rr.pick(now: now, tried: tried)
        case .leastConn:
            return take(leastConn(now: now, tried: tried, backup: false))
                ?? take(leastConn(now: now, tried: tried, backup: true)) ?? rr.noLivePeers()
        case .ipHash:
            return ipHash(now: now, tried: tried, address: key)
        case .hash(let consistent):
            // An empty key: round robin, as nginx falls back.
            if key.isEmpty { return rr.pick(now: now, tried: tried) }
            return consistent
                ? consistentHash(now: now, tried: tried, key: key) : plainHash(now: now, tried: tried, key: key)
        case .random(let two):
            return randomPick(now: now, tried: tried, two: two)
        }
    }

    @discardableResult
    public mutating func release(_ i: Int, failed: Bool, now: Int64) -> Bool {
        rr.release(i, failed: failed, now: now)
    }

    private mutating func take(_ i: Int?) -> RoundRobinBalancer.Pick? {
        guard let i else { return nil }
        rr.peers[i].conns += 1
        rr.peers[i].requests += 1
        return .peer(i)
    }

    // MARK: least_conn

    private mutating func leastConn(now: Int64, tried: (Int) -> Bool, backup: Bool) -> Int? {
        var best: Int? = nil
        var many = false
        for i in rr.peers.indices where rr.peers[i].backup == backup && rr.usable(i, now: now, tried: tried) {
            guard let b = best else {
                best = i
                continue
            }
            let p = rr.peers[i]
            let q = rr.peers[b]
            // conns / weight compared without division, as nginx does.
            if p.conns * q.effectiveShare(now: now) < q.conns * p.effectiveShare(now: now) {
                best = i
                many = false
            } else if p.conns * q.effectiveShare(now: now) == q.conns * p.effectiveShare(now: now) {
                many = true
            }
        }
        guard let b = best else { return nil }
        if !many {
            rr.markChosen(b, now: now)
            return b
        }
        // Ties: smooth weighted round robin among the peers with the least load.
        let bp = rr.peers[b]
        var chosen: Int? = nil
        var total = 0
        for i in rr.peers.indices where rr.peers[i].backup == backup && rr.usable(i, now: now, tried: tried) {
            let p = rr.peers[i]
            if p.conns * bp.effectiveShare(now: now) != bp.conns * p.effectiveShare(now: now) { continue }
            let w = p.weightNow(now: now)
            rr.peers[i].currentWeight += w
            total += w
            if p.effectiveWeight < p.weight { rr.peers[i].effectiveWeight += 1 }
            if chosen == nil || rr.peers[i].currentWeight > rr.peers[chosen!].currentWeight { chosen = i }
        }
        guard let c = chosen else { return nil }
        rr.peers[c].currentWeight -= total
        rr.markChosen(c, now: now)
        return c
    }

    // MARK: ip_hash

    private mutating func ipHash(now: Int64, tried: (Int) -> Bool, address: [UInt8]) -> RoundRobinBalancer.Pick {
        // Only IPv4 and IPv6 clients are hashed; nginx uses round robin otherwise, and
        // for a single peer or when backups would be needed.
        let octets: ArraySlice<UInt8> = address.count == 4 ? address[0..<3] : address[...]
        let total = rr.peers.reduce(0) { $0 + ($1.backup ? 0 : $1.weight) }
        guard rr.peers.count > 1, total > 0, address.count == 4 || address.count == 16 else {
            return rr.pick(now: now, tried: tried)
        }
        var hash: UInt32 = 89
        return hashedPick(now: now, tried: tried, total: total) {
            for o in octets { hash = (hash &* 113 &+ UInt32(o)) % 6271 }
            return Int(hash)
        }
    }

    /// nginx's walk for ip_hash and hash: `next()` gives the next hash of the key, its
    /// remainder by the total weight lands on a peer; an unusable peer means rehashing,
    /// and after 20 tries round robin decides.
    private mutating func hashedPick(now: Int64, tried: (Int) -> Bool, total: Int, next: () -> Int)
        -> RoundRobinBalancer.Pick
    {
        for _ in 0...20 {
            var w = next() % total
            var p = 0
            while p < rr.peers.count && (rr.peers[p].backup || w >= rr.peers[p].weight) {
                if !rr.peers[p].backup { w -= rr.peers[p].weight }
                p += 1
            }
            if p < rr.peers.count && rr.usable(p, now: now, tried: tried) {
                rr.markChosen(p, now: now)
                return take(p)!
            }
        }
        return rr.pick(now: now, tried: tried)
    }

    // MARK: hash

    private mutating func plainHash(now: Int64, tried: (Int) -> Bool, key: [UInt8]) -> RoundRobinBalancer.Pick {
        let total = rr.peers.reduce(0) { $0 + ($1.backup ? 0 : $1.weight) }
        guard rr.peers.count > 1, total > 0 else { return rr.pick(now: now, tried: tried) }
        var acc: UInt32 = 0
        var rehash = 0
        return hashedPick(now: now, tried: tried, total: total) {
            // Cache::Memcached's: ((crc32([REHASH] KEY) >> 16) & 0x7fff) + previous.
            var crc = CRC32()
            if rehash > 0 { crc.update(Array(String(rehash).utf8)) }
            crc.update(key)
            acc = acc &+ ((crc.value >> 16) & 0x7fff)
            rehash += 1
            return Int(acc)
        }
    }

    static func buildRing(peers: [PeerState], names: [String], nameIndex: [Int]) -> [RingPoint] {
        var points: [RingPoint] = []
        for (i, p) in peers.enumerated() where !p.backup {
            let (host, port) = splitServerName(names[i])
            var base = CRC32()
            base.update(host)
            base.update([0])
            base.update(port)
            var prev: UInt32 = 0
            for _ in 0..<(p.weight * 160) {
                var h = base
                h.update([UInt8(prev & 0xff), UInt8((prev >> 8) & 0xff), UInt8((prev >> 16) & 0xff), UInt8(prev >> 24)])
                let value = h.value
                points.append(RingPoint(hash: value, server: nameIndex[i]))
                prev = value
            }
        }
        // Sorted by hash; equal hashes keep the first (nginx drops the duplicates).
        points = points.enumerated().sorted { ($0.element.hash, $0.offset) < ($1.element.hash, $1.offset) }.map(
            \.element)
        var unique: [RingPoint] = []
        for p in points where unique.last?.hash != p.hash { unique.append(p) }
        return unique
    }

    /// nginx's split of a server name for the ring: "unix:..." is all host; a trailing
    /// ":digits" is the port.
    static func splitServerName(_ name: String) -> ([UInt8], [UInt8]) {
        let b = Array(name.utf8)
        if b.count >= 5, String(decoding: b[0..<5], as: UTF8.self).lowercased() == "unix:" {
            return (Array(b[5...]), [])
        }
        var j = b.count - 1
        while j >= 0 {
            let c = b[j]
            if c == UInt8(ascii: ":") { return (Array(b[..<j]), Array(b[(j + 1)...])) }
            if c < 48 || c > 57 { break }
            j -= 1
        }
        return (b, [])
    }

    private mutating func consistentHash(now: Int64, tried: (Int) -> Bool, key: [UInt8]) -> RoundRobinBalancer.Pick {
        guard rr.peers.count > 1, !ring.isEmpty else { return rr.pick(now: now, tried: tried) }
        var crc = CRC32()
        crc.update(key)
        let h = crc.value
        // The first point at or after the key's hash (binary search), wrapping around.
        var lo = 0
        var hi = ring.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if ring[mid].hash < h { lo = mid + 1 } else { hi = mid }
        }
        var point = lo
        var tries = 0
        while true {
            let server = ring[point % ring.count].server
            var best: Int? = nil
            var total = 0
            for i in rr.peers.indices where nameIndex[i] == server && rr.usable(i, now: now, tried: tried) {
                let w = rr.peers[i].weightNow(now: now)
                rr.peers[i].currentWeight += w
                total += w
                if rr.peers[i].effectiveWeight < rr.peers[i].weight { rr.peers[i].effectiveWeight += 1 }
                if best == nil || rr.peers[i].currentWeight > rr.peers[best!].currentWeight { best = i }
            }
            if let b = best {
                rr.peers[b].currentWeight -= total
                rr.markChosen(b, now: now)
                return take(b)!
            }
            point += 1
            tries += 1
            if tries > 20 { return rr.pick(now: now, tried: tried) }
        }
    }

    // MARK: random

    private mutating func randomPick(now: Int64, tried: (Int) -> Bool, two: Bool) -> RoundRobinBalancer.Pick {
        let usable = rr.peers.indices.filter { !rr.peers[$0].backup && rr.usable($0, now: now, tried: tried) }
        if usable.isEmpty { return rr.pick(now: now, tried: tried) }
        func weighted() -> Int {
            let total = usable.reduce(0) { $0 + rr.peers[$1].weightNow(now: now) }
            var x = Int(random.next() % UInt64(max(total, 1)))
            for i in usable {
                x -= rr.peers[i].weightNow(now: now)
                if x < 0 { return i }
            }
            return usable[usable.count - 1]
        }
        var chosen = weighted()
        if two && usable.count > 1 {
            var other = weighted()
            var guardCount = 0
            while other == chosen && guardCount < 20 {
                other = weighted()
                guardCount += 1
            }
            // The one with fewer active requests per weight (least_conn, the default).
            let a = rr.peers[chosen]
            let b = rr.peers[other]
            if b.conns * a.effectiveShare(now: now) < a.conns * b.effectiveShare(now: now) { chosen = other }
        }
        rr.markChosen(chosen, now: now)
        return take(chosen)!
    }
}

/// A small seedable generator (SplitMix64), so random balancing is testable.
public struct SplitMix64: Sendable {
    var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// CRC-32 (IEEE, reflected), as nginx's ngx_crc32_*.
public struct CRC32: Sendable {
    private static let table: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }
    private var crc: UInt32 = 0xFFFF_FFFF
    public init() {}
    public mutating func update<C: Collection<UInt8>>(_ bytes: C) {
        for b in bytes { crc = CRC32.table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
    }
    public var value: UInt32 { crc ^ 0xFFFF_FFFF }
}
