// nginx's cache manager, as a job of the housekeeping thread: about once a second it
// walks each zone of the current generation and removes the entries unused for
// `inactive`, then the least recently used ones while the zone is over `max_size`, its
// keys zone is full, or its file system has less than `min_free` free. Request threads
// never wait for it beyond the zone's short index lock (files are unlinked outside it);
// a store that overflows max_size makes room itself at once.

import SwiftginxPosix

final class CacheManager {
    let zones: [CacheZone]
    /// Milliseconds between passes.
    let interval: Int64

    init(zones: [CacheZone]) {
        self.zones = zones
        interval = 1000
    }

    static func jobs(_ g: Generation) -> [HousekeepingJob] {
        let zones = g.cacheZones.values.sorted { $0.config.name < $1.config.name }
        return zones.isEmpty ? [] : [.cacheManager(CacheManager(zones: zones))]
    }

    func run(now: Int64) -> HousekeepingStep {
        let wall = Clock.wallMilliseconds() / 1000
        for z in zones { z.unlinkAll(z.manage(now: wall)) }
        return .idle(until: now + interval)
    }
}
