// The key index of a limit zone: an open-addressing table (linear probing, backward-
// shift deletion) from a key's hash to the zone's node holding it. The per-request
// lookup hashes the key bytes once, where they are (an address read straight out of
// the socket address, no array made), with a per-zone random seed — keys come from
// clients, so their collisions must not be predictable — and compares bytes only on a
// full hash match. A Dictionary keyed by the bytes cost about three times as much:
// SipHash over the bytes, then again over that hash, and a key array per lookup.

struct ZoneKeyIndex {
    private struct Slot {
        var hash: UInt64
        var node: Int32
    }

    private var slots: [Slot]
    private var mask: Int
    private(set) var count = 0
    let seed: UInt64

    init(seed: UInt64 = UInt64.random(in: .min ... .max)) {
        self.seed = seed
        slots = Array(repeating: Slot(hash: 0, node: -1), count: 16)
        mask = 15
    }

    /// The seeded hash of `key` (SeededHash.swift).
    @inline(__always)
    func hash(_ key: UnsafeRawBufferPointer) -> UInt64 { SeededHash.hash(key, seed: seed) }

    /// The node whose key has `hash` and for which `matches` says the bytes are equal.
    @inline(__always)
    func find(_ hash: UInt64, matches: (Int32) -> Bool) -> Int32? {
        var i = Int(truncatingIfNeeded: hash) & mask
        while true {
            let s = slots[i]
            if s.node < 0 { return nil }
            if s.hash == hash && matches(s.node) { return s.node }
            i = (i + 1) & mask
        }
    }

    /// Adds `node` under `hash` (the key is not in the table).
    mutating func insert(_ hash: UInt64, node: Int32) {
        if (count + 1) * 2 > slots.count { grow() }
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].node >= 0 { i = (i + 1) & mask }
        slots[i] = Slot(hash: hash, node: node)
        count += 1
    }

    /// Removes `node`, stored under `hash`; later entries of its probe run shift back
    /// so that no lookup stops early at the hole.
    mutating func remove(_ hash: UInt64, node: Int32) {
        var hole = Int(truncatingIfNeeded: hash) & mask
        while slots[hole].node != node {
            if slots[hole].node < 0 { return }
            hole = (hole + 1) & mask
        }
        var j = hole
        while true {
            j = (j + 1) & mask
            let s = slots[j]
            if s.node < 0 { break }
            let home = Int(truncatingIfNeeded: s.hash) & mask
            // The entry may fill the hole unless its home lies cyclically in (hole, j].
            let stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j)
            if !stays {
                slots[hole] = s
                hole = j
            }
        }
        slots[hole] = Slot(hash: 0, node: -1)
        count -= 1
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(hash: 0, node: -1), count: old.count * 2)
        mask = slots.count - 1
        for s in old where s.node >= 0 {
            var i = Int(truncatingIfNeeded: s.hash) & mask
            while slots[i].node >= 0 { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}
