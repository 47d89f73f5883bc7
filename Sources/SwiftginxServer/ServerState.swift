// State shared by the master thread and every worker: the current configuration
// generation (swapped atomically on reload), the stop request, the logs, and the
// connection counter behind `$connection`, and every worker's stub_status counters.

import SwiftginxConfig
import SwiftginxPosix
import Synchronization

/// A listening socket handed to one worker, with the servers behind it.
public struct ListenerSpec: Sendable {
    public let fd: Int32
    public let group: ListenGroup
}

/// One loaded configuration and the sockets and log files it uses.
public final class Generation: Sendable {
    public let number: Int
    public let config: RuntimeConfig
    /// listeners[worker] = that worker's sockets.
    public let listeners: [[ListenerSpec]]
    /// Access log files by path.
    public let accessLogFiles: [String: LogFile]
    /// Shared peer state of every upstream group, by `UpstreamGroup.index`.
    let peerTables: [PeerTable]
    /// TLS contexts of the servers and `ssl` addresses.
    let tls: TLSContexts
    /// limit_conn zones by name (shared by the workers; kept across reloads when unchanged).
    let limitConnZones: [String: LimitConnZone]
    /// limit_req zones by name (shared likewise).
    let limitReqZones: [String: LimitReqZone]
    /// The same zones by `LimitReqRule.zoneIndex`: what a request looks up.
    let limitReqZoneList: [LimitReqZone?]
    /// Names resolved per request (`resolver`), shared by the worker threads.
    let dnsCache = DNSCache()
    /// Upstream groups with `resolve` servers, by group index (peers kept current by
    /// the first worker thread).
    let dynamicUpstreams: [Int: DynamicUpstream]
    /// proxy_cache_path / uwsgi_cache_path zones by name (shared likewise, Cache/CacheZone.swift).
    let cacheZones: [String: CacheZone]

    init(
        number: Int, config: RuntimeConfig, listeners: [[ListenerSpec]], accessLogFiles: [String: LogFile],
        tls: TLSContexts = TLSContexts(), previous: Generation? = nil, loadCaches: Bool = true
    ) {
        self.number = number
        self.tls = tls
        self.limitConnZones = LimitConnZone.zones(config, previous: previous?.limitConnZones ?? [:])
        MetricsRegistry.shared.assign(config)
        let reqZones = LimitReqZone.zones(config, previous: previous?.limitReqZones ?? [:])
        self.limitReqZones = reqZones
        self.limitReqZoneList = config.limitReqZoneNames.map { reqZones[$0] }
        self.cacheZones = CacheZone.zones(config, previous: previous?.cacheZones ?? [:], load: loadCaches)
        if config.metricsEnabled {
            for (name, zone) in cacheZones { zone.metricsID = MetricsRegistry.shared.id(.cache, name) }
        }
        var dynamic: [Int: DynamicUpstream] = [:]
        for g in config.upstreams where g.isDynamic {
            guard let r = config.upstreamResolvers[g.index] else { continue }
            let before = previous?.dynamicUpstreams.values.first { $0.template.name == g.name }
            dynamic[g.index] = DynamicUpstream(template: g, resolve: r, previous: before)
        }
        self.dynamicUpstreams = dynamic
        self.peerTables = config.upstreams.map { g in
            PeerTable(group: g, mandatoryChecks: config.healthChecks[g.index]?.contains { $0.mandatory } ?? false)
        }
        self.config = config
        self.listeners = listeners
        self.accessLogFiles = accessLogFiles
    }
}

public enum StopMode: Int {
    case running = 0
    case graceful = 1
    case fast = 2
}

public final class ServerState: Sendable {
    private let current: Mutex<Generation>
    private let stop = Atomic<Int>(0)
    private let connections = Atomic<Int>(0)
    /// Log-flush handshake before a reopen: the master bumps the request, each
    /// worker flushes its access-log buffers and bumps the acknowledgements.
    let flushRequests = Atomic<Int>(0)
    let flushAcks = Atomic<Int>(0)
    public let errorLog: ErrorLog
    public let logFiles: LogFiles
    public let prefix: String
    /// Every worker's connection counters (stub_status sums them).
    private let workerStats = Mutex<[ConnectionStats]>([])
    /// Every worker's `metrics` counters (a scrape sums them).
    private let workerMetrics = Mutex<[WorkerMetrics]>([])

    init(generation: Generation, errorLog: ErrorLog, logFiles: LogFiles, prefix: String) {
        current = Mutex(generation)
        self.errorLog = errorLog
        self.logFiles = logFiles
        self.prefix = prefix
    }

    public var generation: Generation { current.withLock { $0 } }
    func publish(_ g: Generation) { current.withLock { $0 = g } }

    var stopMode: StopMode { StopMode(rawValue: stop.load(ordering: .acquiring)) ?? .running }
    func requestStop(_ mode: StopMode) {
        _ = stop.max(mode.rawValue, ordering: .acquiringAndReleasing)
    }

    /// A worker's counters, registered when it starts.
    func register(_ stats: ConnectionStats) { workerStats.withLock { $0.append(stats) } }
    func register(_ metrics: WorkerMetrics) { workerMetrics.withLock { $0.append(metrics) } }
    var allWorkerMetrics: [WorkerMetrics] { workerMetrics.withLock { $0 } }

    /// The counters of every worker, summed (stub_status, `$connections_*`).
    var connectionCounts: ConnectionCounts { ConnectionCounts(workerStats.withLock { $0 }) }

    /// The next connection number (`$connection`, `*N` in the error log).
    @inline(__always) func nextConnectionNumber() -> Int {
        connections.wrappingAdd(1, ordering: .relaxed).newValue
    }
}
