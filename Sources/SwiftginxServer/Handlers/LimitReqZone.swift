// The state of one `limit_req_zone`, shared by every worker thread: per key, the
// "excess" (how many requests, in thousandths, it runs ahead of the zone's rate) and
// when it was last updated, as nginx keeps them. States are held in recency order;
// each new key first drops up to two stale ones from the old end (nothing owed and a
// minute unused), and when the zone's memory is full the oldest state not in use is
// dropped by force — nginx's expiry. A state costs what nginx's slab allocator gives
// its node (a power of two of at least 128 bytes for short keys), so a zone holds
// about as many keys as nginx's. Zones outlive a reload that keeps their definition.

import Glibc
import SwiftginxConfig
import Synchronization

final class LimitReqZone: Sendable {
    enum Outcome: Equatable {
        /// Within the burst and accounted (the last limit of a location).
        case ok
        /// Within the burst, held until the location's last limit is decided.
        case again(Int32)
        /// Over the burst.
        case busy
        /// No memory for a new key.
        case full
    }

    let config: LimitReqZoneConfig
    let store: Store
    /// The key is `$binary_remote_addr`: looked up by the address bytes where they are.
    let keyIsBinaryRemoteAddr: Bool

    init(_ config: LimitReqZoneConfig, store: Store? = nil) {
        self.config = config
        self.store = store ?? Store(size: config.size)
        keyIsBinaryRemoteAddr = config.key.isBinaryRemoteAddr
    }

    /// Looks `key` up at `now` (ms) against `burst`; `excess` gets the key's excess.
    func lookup(_ key: UnsafeRawBufferPointer, now: Int64, burst: Int, account: Bool, excess: inout Int) -> Outcome {
        store.state.withLock {
            $0.lookup(key, now: now, rate: config.rate, burst: burst, account: account, excess: &excess)
        }
    }

    /// Accounts a held state (the request goes on); returns its excess.
    func account(_ node: Int32, now: Int64) -> Int {
        store.state.withLock { $0.account(node, now: now, rate: config.rate) }
    }

    /// Gives back a held state (the request was refused by a later limit).
    func unlock(_ node: Int32) {
        store.state.withLock { $0.nodes[Int(node)].count -= 1 }
    }

    /// The zones of a configuration, keeping the previous generation's state where the
    /// key and size are the same (a changed rate applies to the kept state).
    static func zones(_ config: RuntimeConfig, previous: [String: LimitReqZone]) -> [String: LimitReqZone] {
        var out: [String: LimitReqZone] = [:]
        for (name, c) in config.limitReqZones {
            if let old = previous[name], old.config.size == c.size, old.config.key.source == c.key.source {
                out[name] = LimitReqZone(c, store: old.store)
            } else {
                out[name] = LimitReqZone(c)
            }
        }
        return out
    }

    /// nginx refuses a reload that keeps a zone's name and size but changes its key.
    static func reloadConflict(_ config: RuntimeConfig, previous: [String: LimitReqZone]) -> String? {
        for (name, c) in config.limitReqZones.sorted(by: { $0.key < $1.key }) {
            guard let old = previous[name], old.config.size == c.size, old.config.key.source != c.key.source else {
                continue
            }
            return
                "limit_req \"\(name)\" uses the \"\(c.key.source)\" key while previously it used the \"\(old.config.key.source)\" key"
        }
        return nil
    }

    final class Store: Sendable {
        let state: Mutex<ZoneState>
        init(size: Int) { state = Mutex(ZoneState(size: size)) }
    }
}

/// The keys of one zone in recency order (a doubly linked list over an array).
struct ZoneState {
    struct Node {
        var hash: UInt64
        var excess: Int
        var last: Int64
        var count: Int
        var prev: Int32
        var next: Int32
        var cost: Int
    }

    /// Plain values only, so that reading or moving a node costs no reference counting;
    /// the key bytes are in `keys`, at the same index.
    var nodes: [Node] = []
    var keys: [[UInt8]] = []
    var free: [Int32] = []
    var index = ZoneKeyIndex()
    /// Most and least recently used (-1: empty).
    var head: Int32 = -1
    var tail: Int32 = -1
    var used = 0
    let capacity: Int

    init(size: Int) {
        // nginx's slab pool keeps a page per size class and its own headers.
        capacity = size - 8 * 4096
    }

    /// Thousandths of a request drained in `ms` at `rate` (saturating: a key idle for
    /// ages has drained everything).
    static func drained(_ rate: Int, _ ms: Int64) -> Int {
        let (p, overflow) = rate.multipliedReportingOverflow(by: Int(ms))
        return overflow ? Int.max / 2 : p / 1000
    }

    /// What nginx's slab allocator spends on a state with this key.
    static func cost(_ keyLength: Int) -> Int {
        var n = 128
        while n < 76 + keyLength { n <<= 1 }
        return n
    }

    @inline(__always)
    static func equal(_ a: [UInt8], _ b: UnsafeRawBufferPointer) -> Bool {
        a.withUnsafeBytes { a in
            if a.count != b.count { return false }
            switch b.count {
            case 0: return true
            case 4: return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            case 16:
                return a.loadUnaligned(as: UInt64.self) == b.loadUnaligned(as: UInt64.self)
                    && a.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
                        == b.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            default: return memcmp(a.baseAddress!, b.baseAddress!, b.count) == 0
            }
        }
    }

    func node(for key: [UInt8]) -> Int32? { key.withUnsafeBytes { node(for: $0) } }

    /// The node holding `key`, if the zone has it.
    func node(for key: UnsafeRawBufferPointer) -> Int32? {
        index.find(index.hash(key)) { n in
            Self.equal(keys[Int(n)], key)
        }
    }

    mutating func lookup(
        _ key: [UInt8], now: Int64, rate: Int, burst: Int, account: Bool, excess ep: inout Int
    ) -> LimitReqZone.Outcome {
        key.withUnsafeBytes { lookup($0, now: now, rate: rate, burst: burst, account: account, excess: &ep) }
    }

    mutating func lookup(
        _ key: UnsafeRawBufferPointer, now: Int64, rate: Int, burst: Int, account: Bool, excess ep: inout Int
    ) -> LimitReqZone.Outcome {
        let hash = index.hash(key)
        let found = index.find(hash) { n in
            Self.equal(keys[Int(n)], key)
        }
        if let i = found {
            moveToFront(i)
            var ms = now - nodes[Int(i)].last
            if ms < -60000 { ms = 1 } else if ms < 0 { ms = 0 }
            let excess = max(0, nodes[Int(i)].excess - Self.drained(rate, ms) + 1000)
            ep = excess
            if excess > burst { return .busy }
            if account {
                nodes[Int(i)].excess = excess
                if ms != 0 { nodes[Int(i)].last = now }
                return .ok
            }
            nodes[Int(i)].count += 1
            return .again(i)
        }
        ep = 0
        let cost = Self.cost(key.count)
        expire(now: now, rate: rate, force: false)
        if used + cost > capacity {
            expire(now: now, rate: rate, force: true)
            if used + cost > capacity { return .full }
        }
        let node = Node(
            hash: hash, excess: 0, last: account ? now : 0, count: account ? 0 : 1, prev: -1, next: -1, cost: cost)
        let i: Int32
        if let f = free.popLast() {
            i = f
            nodes[Int(f)] = node
            keys[Int(f)] = Array(key)
        } else {
            i = Int32(nodes.count)
            nodes.append(node)
            keys.append(Array(key))
        }
        used += cost
        index.insert(hash, node: i)
        linkFront(i)
        return account ? .ok : .again(i)
    }

    mutating func account(_ i: Int32, now: Int64, rate: Int) -> Int {
        var ms = now - nodes[Int(i)].last
        if ms < -60000 { ms = 1 } else if ms < 0 { ms = 0 }
        let excess = max(0, nodes[Int(i)].excess - Self.drained(rate, ms) + 1000)
        if ms != 0 { nodes[Int(i)].last = now }
        nodes[Int(i)].excess = excess
        nodes[Int(i)].count -= 1
        return excess
    }

    /// Drops one or two stale states from the old end; with `force`, the oldest one
    /// not in use first (nginx's ngx_http_limit_req_expire).
    mutating func expire(now: Int64, rate: Int, force: Bool) {
        var n = force ? 0 : 1
        while n < 3 {
            let t = tail
            if t < 0 { return }
            let node = nodes[Int(t)]
            if node.count > 0 { return }
            if n != 0 {
                let ms = abs(now - node.last)
                if ms < 60000 { return }
                if node.excess - Self.drained(rate, ms) > 0 { return }
            }
            n += 1
            remove(t)
        }
    }

    private mutating func remove(_ i: Int32) {
        detach(i)
        index.remove(nodes[Int(i)].hash, node: i)
        used -= nodes[Int(i)].cost
        keys[Int(i)] = []
        free.append(i)
    }

    private mutating func detach(_ i: Int32) {
        let p = nodes[Int(i)].prev
        let n = nodes[Int(i)].next
        if p >= 0 { nodes[Int(p)].next = n } else { head = n }
        if n >= 0 { nodes[Int(n)].prev = p } else { tail = p }
        nodes[Int(i)].prev = -1
        nodes[Int(i)].next = -1
    }

    private mutating func linkFront(_ i: Int32) {
        nodes[Int(i)].prev = -1
        nodes[Int(i)].next = head
        if head >= 0 { nodes[Int(head)].prev = i }
        head = i
        if tail < 0 { tail = i }
    }

    private mutating func moveToFront(_ i: Int32) {
        if head == i { return }
        detach(i)
        linkFront(i)
    }
}
