// Builds a `geo` block's lookup at configuration time, with nginx's rules: networks go
// into a binary trie per family (a network given twice replaces the first with a
// warning, `delete` removes exactly the network named), and `ranges` into nginx's
// per-/16 lists (a range inside another splits it, overlapping ranges are an error,
// `delete` removes exactly the range named). Both are then flattened into the sorted,
// disjoint intervals GeoBlock searches. Messages are nginx's; warnings are collected.

/// A binary trie over the top `width` bits of a 128-bit key (IPv4 keys in the low 32).
struct GeoTrie {
    let width: Int
    private var left: [Int32] = [-1]
    private var right: [Int32] = [-1]
    private var value: [Int32] = [-1]

    init(width: Int) { self.width = width }

    private func bit(_ hi: UInt64, _ lo: UInt64, depth: Int) -> Bool {
        let p = width - 1 - depth
        return (p >= 64 ? (hi >> UInt64(p - 64)) : (lo >> UInt64(p))) & 1 == 1
    }

    /// Sets the value of the network; returns the value it replaces, if any.
    mutating func insert(_ hi: UInt64, _ lo: UInt64, prefix: Int, value v: Int32) -> Int32? {
        var node = 0
        for depth in 0..<prefix {
            let next = bit(hi, lo, depth: depth) ? right[node] : left[node]
            if next >= 0 {
                node = Int(next)
                continue
            }
            left.append(-1)
            right.append(-1)
            value.append(-1)
            let created = Int32(value.count - 1)
            if bit(hi, lo, depth: depth) { right[node] = created } else { left[node] = created }
            node = Int(created)
        }
        let old = value[node]
        value[node] = v
        return old >= 0 ? old : nil
    }

    /// Removes the value of exactly this network; false when it had none.
    mutating func delete(_ hi: UInt64, _ lo: UInt64, prefix: Int) -> Bool {
        var node = 0
        for depth in 0..<prefix {
            let next = bit(hi, lo, depth: depth) ? right[node] : left[node]
            if next < 0 { return false }
            node = Int(next)
        }
        if value[node] < 0 { return false }
        value[node] = -1
        return true
    }

    /// The whole key space as sorted intervals (start, value index); the longest prefix wins.
    func intervals(orElse fallback: Int32) -> [(UInt64, UInt64, Int32)] {
        var out: [(UInt64, UInt64, Int32)] = []
        func emit(_ hi: UInt64, _ lo: UInt64, _ v: Int32) {
            if out.last?.2 != v { out.append((hi, lo, v)) }
        }
        func walk(_ node: Int, _ depth: Int, _ hi: UInt64, _ lo: UInt64, _ inherited: Int32) {
            let v = value[node] >= 0 ? value[node] : inherited
            if depth == width {
                emit(hi, lo, v)
                return
            }
            let p = width - 1 - depth
            let (rightHi, rightLo) = p >= 64 ? (hi | 1 << UInt64(p - 64), lo) : (hi, lo | 1 << UInt64(p))
            if left[node] >= 0 { walk(Int(left[node]), depth + 1, hi, lo, v) } else { emit(hi, lo, v) }
            if right[node] >= 0 {
                walk(Int(right[node]), depth + 1, rightHi, rightLo, v)
            } else {
                emit(rightHi, rightLo, v)
            }
        }
        walk(0, 0, 0, 0, fallback)
        return out
    }
}

/// nginx's `ranges` lists: for each /16, sorted disjoint ranges of its low 16 bits.
struct GeoRanges {
    private var buckets: [UInt32: [(start: UInt16, end: UInt16, value: Int32)]] = [:]

    /// Adds `start-end`; nil, or nginx's error. `describe` names a value for messages.
    mutating func add(
        _ start: UInt32, _ end: UInt32, value: Int32, net: String, describe: (Int32) -> String,
        warnings: inout [String]
    ) -> String? {
        var n = UInt64(start)
        while n <= UInt64(end) {
            let h = UInt32(n >> 16)
            let s = UInt16(n == UInt64(start) ? n & 0xFFFF : 0)
            let e = UInt16((n | 0xFFFF) > UInt64(end) ? UInt64(end) & 0xFFFF : 0xFFFF)
            var list = buckets[h] ?? []
            var i = list.count
            var placed = false
            while i > 0 && !placed {
                i -= 1
                let r = list[i]
                if e < r.start { continue }
                placed = true
                if s > r.end {
                    list.insert((s, e, value), at: i + 1)
                } else if s == r.start && e == r.end {
                    warnings.append(
                        "duplicate range \"\(net)\", value: \"\(describe(value))\", old value: \"\(describe(r.value))\""
                    )
                    list[i].value = value
                } else if s > r.start && e < r.end {
                    list[i].end = s - 1
                    list.insert(contentsOf: [(s, e, value), (e + 1, r.end, r.value)], at: i + 1)
                } else if s == r.start && e < r.end {
                    list[i].start = e + 1
                    list.insert((s, e, value), at: i)
                } else if s > r.start && e == r.end {
                    list[i].end = s - 1
                    list.insert((s, e, value), at: i + 1)
                } else {
                    let hi = "\(h >> 8).\(h & 0xFF)"
                    return
                        "range \"\(net)\" overlaps \"\(hi).\(r.start >> 8).\(r.start & 0xFF)-\(hi).\(r.end >> 8).\(r.end & 0xFF)\""
                }
            }
            if !placed { list.insert((s, e, value), at: 0) }
            buckets[h] = list
            n = (n + 0x10000) & ~UInt64(0xFFFF)
        }
        return nil
    }

    /// Deletes exactly `start-end` (per /16); false when some part was not there.
    mutating func delete(_ start: UInt32, _ end: UInt32) -> Bool {
        var complete = true
        var n = UInt64(start)
        while n <= UInt64(end) {
            let h = UInt32(n >> 16)
            let s = UInt16(n == UInt64(start) ? n & 0xFFFF : 0)
            let e = UInt16((n | 0xFFFF) > UInt64(end) ? UInt64(end) & 0xFFFF : 0xFFFF)
            if let i = buckets[h]?.firstIndex(where: { $0.start == s && $0.end == e }) {
                buckets[h]?.remove(at: i)
            } else {
                complete = false
            }
            n = (n + 0x10000) & ~UInt64(0xFFFF)
        }
        return complete
    }

    /// The IPv4 space as sorted intervals (start, value index), gaps with `fallback`.
    func intervals(orElse fallback: Int32) -> [(UInt32, Int32)] {
        var out: [(UInt32, Int32)] = []
        func emit(_ start: UInt64, _ v: Int32) {
            if out.last?.1 != v { out.append((UInt32(start), v)) }
        }
        var cursor: UInt64 = 0
        for h in buckets.keys.sorted() {
            for r in buckets[h]! {
                let s = UInt64(h) << 16 | UInt64(r.start)
                if s > cursor { emit(cursor, fallback) }
                emit(s, r.value)
                cursor = (UInt64(h) << 16 | UInt64(r.end)) + 1
            }
        }
        if cursor <= 0xFFFF_FFFF { emit(cursor, fallback) }
        if out.isEmpty { out.append((0, fallback)) }
        return out
    }
}
