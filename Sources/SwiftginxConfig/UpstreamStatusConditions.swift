// The upstream answer statuses that nginx's `*_next_upstream` and `*_cache_use_stale`
// both name (`http_500` ... `http_429`): one list, one status-to-position switch and one
// name table, from which NextUpstream and CacheUseStale (two option sets with their own
// meanings and bits, as in nginx) take their status conditions.

enum UpstreamStatusConditions {
    /// The statuses, in the order of their bits in both option sets.
    static let codes = [500, 502, 503, 504, 403, 404, 429]

    /// The position of `status` in `codes` (nil when no condition names it).
    @inline(__always) static func position(_ status: Int) -> Int? {
        switch status {
        case 500: 0
        case 502: 1
        case 503: 2
        case 504: 3
        case 403: 4
        case 404: 5
        case 429: 6
        default: nil
        }
    }

    /// `http_NNN` → the raw value of its bit, the first status at bit `firstBit`.
    static func names(firstBit: Int) -> [String: UInt16] {
        var out: [String: UInt16] = [:]
        for (i, code) in codes.enumerated() { out["http_\(code)"] = 1 << UInt16(firstBit + i) }
        return out
    }
}
