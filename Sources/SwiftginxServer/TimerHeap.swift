// A binary min-heap of connection deadlines for one worker. Entries are never
// removed early: a connection whose deadline moves earlier pushes a new entry (the
// old one is skipped when it surfaces), and one whose deadline moves later keeps its
// queued entry, which queues it again when it surfaces (Worker.schedule).

struct TimerEntry {
    var deadline: Int64
    var slot: Int32
    var generation: UInt32
}

struct TimerHeap {
    private var items: [TimerEntry] = []

    init() { items.reserveCapacity(1024) }

    var isEmpty: Bool { items.isEmpty }
    var earliest: Int64? { items.first?.deadline }
    var count: Int { items.count }

    mutating func push(_ e: TimerEntry) {
        items.append(e)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if items[p].deadline <= items[i].deadline { break }
            items.swapAt(p, i)
            i = p
        }
    }

    /// Pops the earliest entry if its deadline is at or before `now`.
    mutating func popExpired(now: Int64) -> TimerEntry? {
        guard let first = items.first, first.deadline <= now else { return nil }
        let last = items.removeLast()
        if items.isEmpty { return first }
        items[0] = last
        var i = 0
        let n = items.count
        while true {
            let l = 2 * i + 1
            let r = l + 1
            var m = i
            if l < n && items[l].deadline < items[m].deadline { m = l }
            if r < n && items[r].deadline < items[m].deadline { m = r }
            if m == i { break }
            items.swapAt(i, m)
            i = m
        }
        return first
    }
}
