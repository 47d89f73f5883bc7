// nginx's cache manager, as a job of the housekeeping thread: it
// walks each zone of the current generation and removes the entries unused for
// `inactive`, then the least recently used ones while the zone is over `max_size`, its
// keys zone is full, or its file system has less than `min_free` free. Request threads
// never wait for it beyond the zone's short index lock (files are unlinked outside it);
// a store that overflows max_size makes room itself at once.

import SwiftginxPosix

final class CacheManager {
    let zones: [CacheZone]
    /// When each zone wants its next pass (monotonic ms).
    private var due: [Int64]

    init(zones: [CacheZone]) {
        self.zones = zones
        due = Array(repeating: 0, count: zones.count)
    }

    static func jobs(_ g: Generation) -> [HousekeepingJob] {
        let zones = g.cacheZones.values.sorted { $0.config.name < $1.config.name }
        return zones.isEmpty ? [] : [.cacheManager(CacheManager(zones: zones))]
    }

    func run(now: Int64) -> HousekeepingStep {
        let wall = Clock.wallMilliseconds() / 1000
        for (i, z) in zones.enumerated() where due[i] <= now {
            let (victims, next) = z.manage(now: wall)
            z.unlinkAll(victims)
            due[i] = now + next
        }
        // Woken at least once a second: a busy zone's state changes between passes.
        return .idle(until: min(due.min() ?? now + 1000, now + 1000))
    }
}
