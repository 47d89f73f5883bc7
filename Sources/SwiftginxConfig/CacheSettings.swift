// The HTTP cache's configuration: a `proxy_cache_path` / `uwsgi_cache_path` zone (where
// entries live on disk, its keys zone's name and size, how long unused entries stay,
// the size limits the manager enforces) and a location's `proxy_cache*` /
// `uwsgi_cache*` settings (the zone used, the key, validity per status, which
// requests are looked up and stored, stale answers, the lock, revalidation). The
// directives are compiled by ConfigCompiler+Cache.swift; the server side is in
// SwiftginxServer/Cache/.

import SwiftginxRouting

/// One `proxy_cache_path` (or `uwsgi_cache_path`) zone.
public struct CachePathConfig: Sendable, Equatable {
    /// `keys_zone=name:size`.
    public var name: String
    public var size: Int
    /// The cache directory, absolute.
    public var path: String
    /// `levels=1:2`: the lengths of the directory names taken from the end of the key's md5.
    public var levels: [Int] = []
    /// `inactive=`: seconds an unused entry stays (10 minutes by default).
    public var inactive: Int = 600
    /// `max_size=`: bytes (unlimited when not given; 0 keeps nothing, as in nginx).
    public var maxSize: Int64 = .max
    /// `min_free=`: bytes (0 = no limit).
    public var minFree: Int64 = 0
    /// `use_temp_path=`: entries are always written next to their final place here (a
    /// rename never crosses file systems), so the flag changes nothing observable.
    public var useTempPath = true
    /// `manager_files=`, `manager_sleep=`, `manager_threshold=` (ms), `loader_*`.
    public var managerFiles = 100
    public var managerSleep = 50
    public var managerThreshold = 200
    public var loaderFiles = 100
    public var loaderSleep = 50
    public var loaderThreshold = 200
    /// The directive's place, for messages.
    public var place = ""

    public init(name: String, size: Int, path: String) {
        self.name = name
        self.size = size
        self.path = path
    }
}

/// `proxy_cache_use_stale` conditions.
public struct CacheUseStale: OptionSet, Sendable, Hashable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public static let error = CacheUseStale(rawValue: 1 << 0)
    public static let timeout = CacheUseStale(rawValue: 1 << 1)
    public static let invalidHeader = CacheUseStale(rawValue: 1 << 2)
    public static let updating = CacheUseStale(rawValue: 1 << 3)
    public static let http500 = CacheUseStale(rawValue: 1 << 4)
    public static let http502 = CacheUseStale(rawValue: 1 << 5)
    public static let http503 = CacheUseStale(rawValue: 1 << 6)
    public static let http504 = CacheUseStale(rawValue: 1 << 7)
    public static let http403 = CacheUseStale(rawValue: 1 << 8)
    public static let http404 = CacheUseStale(rawValue: 1 << 9)
    public static let http429 = CacheUseStale(rawValue: 1 << 10)

    /// The first status condition's bit (UpstreamStatusConditions' order).
    static let firstStatusBit = 4

    public static let byName: [String: CacheUseStale] = UpstreamStatusConditions.names(firstBit: firstStatusBit)
        .mapValues { CacheUseStale(rawValue: $0) }
        .merging(["error": .error, "timeout": .timeout, "invalid_header": .invalidHeader, "updating": .updating]) {
            a, _ in a
        }

    /// The condition an upstream status answers to, if any.
    @inline(__always) public static func status(_ s: Int) -> CacheUseStale? {
        UpstreamStatusConditions.position(s).map { CacheUseStale(rawValue: 1 << UInt16(firstStatusBit + $0)) }
    }
}

/// `proxy_cache_valid [code ...] time`: status 0 stands for `any`.
public struct CacheValid: Sendable, Equatable {
    public let status: Int
    public let seconds: Int
    public init(status: Int, seconds: Int) {
        self.status = status
        self.seconds = seconds
    }
}

/// A location's cache settings (one per upstream protocol, inside UpstreamSettings).
public struct UpstreamCacheSettings: Sendable {
    /// `proxy_cache zone` (nil: off); a value with variables names the zone per request.
    public var zone: String? = nil
    public var zoneValue: ComplexValue? = nil
    /// The zone's configuration when `zone` is static (resolved after the http block).
    public var path: CachePathConfig? = nil
    /// `proxy_cache_key` (nil: `$scheme$proxy_host$request_uri`, the proxy's default).
    public var key: ComplexValue? = nil
    public var valid: [CacheValid] = []
    public var minUses = 1
    /// Upper-case method names looked up and stored (GET and HEAD always are).
    public var methods: Set<String> = ["GET", "HEAD"]
    public var bypass: [ComplexValue] = []
    /// `proxy_cache_purge` (NGINX Plus): a request for which one is true purges its key.
    public var purge: [ComplexValue] = []
    public var noCache: [ComplexValue] = []
    public var useStale: CacheUseStale = []
    public var lock = false
    /// Milliseconds.
    public var lockTimeout = 5000
    public var lockAge = 5000
    public var revalidate = false
    public var backgroundUpdate = false
    public var convertHead = true
    /// `proxy_force_ranges`: byte ranges of an answer whatever its Accept-Ranges.
    public var forceRanges = false
    /// `proxy_cache_max_range_offset` (nil: off).
    public var maxRangeOffset: Int64? = nil
    /// Which level set the lists last (a level's first line replaces the inherited list).
    var validLevel = 0
    var bypassLevel = 0
    var noCacheLevel = 0
    var purgeLevel = 0

    public init() {}

    /// Whether the location caches at all.
    @inlinable public var enabled: Bool { zone != nil || zoneValue != nil }

    /// The validity in seconds `proxy_cache_valid` gives a status, or nil.
    public func validity(for status: Int) -> Int? {
        for v in valid where v.status == status { return v.seconds }
        for v in valid where v.status == 0 { return v.seconds }
        return nil
    }
}
