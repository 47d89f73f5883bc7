// The counters behind `metrics` (Prometheus): one series per (server, location) and per
// upstream group, numbered by a registry that lives as long as the process — the same
// server and location keep their number across reloads, so counts go on — and counted
// per worker thread in `CounterPages` (the owner's relaxed add, no lock, no shared cache
// line); a scrape sums every worker's cells. Counting is on only when some location of
// the configuration has `metrics`, and costs a few adds per request, at the log phase.
// Per series (each an Int cell): responses by status class (1xx–5xx), bytes received and
// sent, and a duration histogram — nginx-style milliseconds, bucketed at Prometheus's
// default bounds, non-cumulative here and summed up at the scrape.

import SwiftginxConfig
import SwiftginxPosix
import Synchronization

enum MetricsLayout {
    /// Upper bounds of the duration buckets, in ms (the last is +Inf).
    static let bounds: [Int64] = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000]
    static let status = 0  // 5 cells: 1xx ... 5xx
    static let received = 5
    static let sent = 6
    static let buckets = 7  // bounds.count + 1 cells
    static let sum = 19  // milliseconds
    static let cells = 20

    /// The bucket of a duration: the first bound at or above it (the last: +Inf).
    /// Compares with constants (the `bounds` above), no array read per request.
    @inline(__always) static func bucket(_ ms: Int64) -> Int {
        if ms <= 100 { return ms <= 5 ? 0 : ms <= 10 ? 1 : ms <= 25 ? 2 : ms <= 50 ? 3 : 4 }
        if ms <= 1000 { return ms <= 250 ? 5 : ms <= 500 ? 6 : 7 }
        return ms <= 2500 ? 8 : ms <= 5000 ? 9 : ms <= 10000 ? 10 : 11
    }
}

/// The series numbers, for the process's life.
final class MetricsRegistry: Sendable {
    static let shared = MetricsRegistry()

    enum Kind: Sendable { case location, upstream, peer, limitReq, limitConn, cache, tls }

    struct Series: Sendable {
        let kind: Kind
        /// (server, location), (upstream, ""), (zone, "").
        let labels: (String, String)
    }

    private let state = Mutex<(ids: [String: Int], series: [Series])>(([:], []))

    func id(_ kind: Kind, _ a: String, _ b: String = "") -> Int {
        state.withLock { s in
            let key = "\(kind)\u{0}\(a)\u{0}\(b)"
            if let id = s.ids[key] { return id }
            s.series.append(Series(kind: kind, labels: (a, b)))
            s.ids[key] = s.series.count - 1
            return s.series.count - 1
        }
    }

    var all: [Series] { state.withLock { $0.series } }

    /// The one series of TLS handshakes (cells: completed, resumed, failed).
    static let tlsID = shared.id(.tls, "")

    /// Counts a refusal by a limit zone, when the configuration counts (a rare path: the
    /// series is looked up by name).
    static func limitRejected(_ r: Request, _ kind: Kind, zone: String) {
        let w = r.worker
        guard w.generation.config.metricsEnabled else { return }
        w.metrics.count(shared.id(kind, zone), cell: 0)
    }

    /// Numbers the locations and upstream groups of a configuration that counts.
    func assign(_ config: RuntimeConfig) {
        guard config.metricsEnabled else { return }
        var seen = Set<ObjectIdentifier>()
        for group in config.listenGroups {
            for server in group.servers where seen.insert(ObjectIdentifier(server)).inserted {
                let name = server.primaryName.isEmpty ? "_" : server.primaryName
                server.serverLevelLocation.metricsID = id(.location, name, "")
                for location in server.locations.payloads {
                    location.metricsID = id(.location, name, location.pattern)
                    location.limitExcept.map { $0.location.metricsID = location.metricsID }
                }
            }
        }
        for g in config.upstreams where g.isExplicit { g.metricsID = id(.upstream, g.name) }
        _ = Self.tlsID
    }
}

/// One worker's counters (it alone writes them).
final class WorkerMetrics: Sendable {
    let pages = CounterPages(cellsPerSlot: MetricsLayout.cells)

    /// The writer's cells of series `id` (offsets with the layout's constant size).
    @inline(__always)
    private func cells(_ id: Int) -> UnsafeMutablePointer<Int>? {
        let page = id &>> CounterPages.pageShift
        guard page < CounterPages.maxPages else { return nil }
        return pages.writerPage(page) + (id & (1 &<< CounterPages.pageShift &- 1)) &* MetricsLayout.cells
    }

    /// The cell of a status's class (1xx ... 5xx; others none), by comparisons.
    @inline(__always)
    private static func statusCell(_ status: Int) -> Int {
        status < 100 || status > 599
            ? -1 : status < 300 ? (status < 200 ? 0 : 1) : status < 400 ? 2 : status < 500 ? 3 : 4
    }

    /// A finished main request of a counted location.
    @inline(__always)
    func record(_ id: Int, status: Int, received: Int, sent: Int64, ms: Int64) {
        guard let c = cells(id) else { return }
        let cls = Self.statusCell(status)
        if cls >= 0 { CounterPages.add(c + (MetricsLayout.status &+ cls), 1) }
        CounterPages.add(c + MetricsLayout.received, received)
        CounterPages.add(c + MetricsLayout.sent, Int(sent))
        CounterPages.add(c + (MetricsLayout.buckets + MetricsLayout.bucket(ms)), 1)
        CounterPages.add(c + MetricsLayout.sum, Int(ms))
    }

    /// A proxied request's upstream side: the last try's status class and the time.
    @inline(__always)
    func recordUpstream(_ id: Int, status: Int, ms: Int64) {
        guard let c = cells(id) else { return }
        let cls = Self.statusCell(status)
        if cls >= 0 { CounterPages.add(c + (MetricsLayout.status &+ cls), 1) }
        CounterPages.add(c + (MetricsLayout.buckets + MetricsLayout.bucket(ms)), 1)
        CounterPages.add(c + MetricsLayout.sum, Int(ms))
    }

    /// One event in cell `cell` of series `id` (limit refusals, TLS handshakes, cache statuses).
    @inline(__always)
    func count(_ id: Int, cell: Int) {
        guard let c = cells(id) else { return }
        CounterPages.add(c + cell, 1)
    }
}
