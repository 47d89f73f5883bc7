// `metrics`: a content handler answering with the Prometheus text exposition format
// (0.0.4) — every worker's counters summed at the scrape (Metrics.swift): requests by
// server, location and status class, their duration histograms and bytes; connections
// (stub_status's counts); per upstream group the response-time histogram and statuses,
// per peer its requests, failures, state and requests in flight (the shared peer
// table); the configuration generation. Label sets are bounded: no URI, no client.
// GET and HEAD only (405 otherwise, as stub_status).

import SwiftginxConfig
import SwiftginxPosix
import SwiftginxUpstream

enum MetricsHandler {
    static func serve(_ r: Request, settings: LocationSettings) {
        let method = r.errorPageUsed && r.head.method != .head ? .get : r.head.method
        if method != .get && method != .head {
            r.keepAlive = r.keepAlive && !r.bodyPending
            r.respondError(405)
            return
        }
        let body = Array(page(r.worker).utf8)
        r.status = 200
        r.beginHead(200)
        let b = r.appendMemoryBodyHeaders(
            body, type: "text/plain; version=0.0.4; charset=utf-8", status: 200, settings: settings)
        r.finishHead(settings: settings)
        if !r.isHeadOnly { r.appendBody(b) }
        r.flushResponse()
    }

    /// Sums the cells of one series over every worker (nil: no worker ever wrote it).
    static func sum(_ id: Int, _ workers: [WorkerMetrics]) -> [Int]? {
        var out = [Int](repeating: 0, count: MetricsLayout.cells)
        var any = false
        for w in workers {
            guard let c = w.pages.read(id) else { continue }
            any = true
            for i in 0..<MetricsLayout.cells { out[i] &+= CounterPages.load(c + i) }
        }
        return any ? out : nil
    }

    static func label(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func seconds(_ ms: Int) -> String {
        let s = "\(ms / 1000).\(String(1000 + ms % 1000).dropFirst())"
        return s
    }

    static let classes = ["1xx", "2xx", "3xx", "4xx", "5xx"]
    static let le = MetricsLayout.bounds.map { seconds(Int($0)) } + ["+Inf"]

    static func page(_ worker: Worker) -> String {
        let state = worker.state
        let generation = worker.generation
        let workers = state.allWorkerMetrics
        let series = MetricsRegistry.shared.all
        var out = ""

        func histogram(_ name: String, _ labels: String, _ c: [Int]) {
            var cumulative = 0
            for (i, bound) in le.enumerated() {
                cumulative += c[MetricsLayout.buckets + i]
                out += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            out += "\(name)_sum{\(labels)} \(seconds(c[MetricsLayout.sum]))\n"
            out += "\(name)_count{\(labels)} \(cumulative)\n"
        }

        var locations: [(String, [Int])] = []
        var upstreams: [(String, [Int])] = []
        var limitReq: [(String, Int)] = []
        var limitConn: [(String, Int)] = []
        var caches: [(String, [Int])] = []
        var tls = [Int](repeating: 0, count: MetricsLayout.cells)
        for (id, s) in series.enumerated() {
            // A series never counted (its page was made for a neighbour) is left out.
            guard let c = sum(id, workers), c.contains(where: { $0 != 0 }) else { continue }
            switch s.kind {
            case .location:
                locations.append(("server=\"\(label(s.labels.0))\",location=\"\(label(s.labels.1))\"", c))
            case .peer:
                upstreams.append(("upstream=\"\(label(s.labels.0))\",peer=\"\(label(s.labels.1))\"", c))
            case .upstream: break  // numbers the group's peers; counted per peer
            case .limitReq: limitReq.append((s.labels.0, c[0]))
            case .limitConn: limitConn.append((s.labels.0, c[0]))
            case .cache: caches.append((s.labels.0, c))
            case .tls: tls = c
            }
        }

        out += "# HELP swiftginx_http_requests_total Requests answered, by server, location and status class.\n"
        out += "# TYPE swiftginx_http_requests_total counter\n"
        for (l, c) in locations {
            for (i, cls) in classes.enumerated() where c[MetricsLayout.status + i] > 0 {
                out += "swiftginx_http_requests_total{\(l),code=\"\(cls)\"} \(c[MetricsLayout.status + i])\n"
            }
        }
        out +=
            "# HELP swiftginx_http_request_duration_seconds Time from the first byte of the request to the log phase.\n"
        out += "# TYPE swiftginx_http_request_duration_seconds histogram\n"
        for (l, c) in locations { histogram("swiftginx_http_request_duration_seconds", l, c) }
        out += "# HELP swiftginx_http_received_bytes_total Request head bytes received.\n"
        out += "# TYPE swiftginx_http_received_bytes_total counter\n"
        for (l, c) in locations { out += "swiftginx_http_received_bytes_total{\(l)} \(c[MetricsLayout.received])\n" }
        out += "# HELP swiftginx_http_sent_bytes_total Response bytes sent (head and body).\n"
        out += "# TYPE swiftginx_http_sent_bytes_total counter\n"
        for (l, c) in locations { out += "swiftginx_http_sent_bytes_total{\(l)} \(c[MetricsLayout.sent])\n" }

        let conn = state.connectionCounts
        out += "# HELP swiftginx_connections Client connections by state (as stub_status counts them).\n"
        out += "# TYPE swiftginx_connections gauge\n"
        out += "swiftginx_connections{state=\"active\"} \(conn.active)\n"
        out += "swiftginx_connections{state=\"reading\"} \(conn.reading)\n"
        out += "swiftginx_connections{state=\"writing\"} \(conn.writing)\n"
        out += "swiftginx_connections{state=\"waiting\"} \(conn.waiting)\n"
        out += "# HELP swiftginx_connections_accepted_total Client connections accepted.\n"
        out += "# TYPE swiftginx_connections_accepted_total counter\n"
        out += "swiftginx_connections_accepted_total \(conn.accepts)\n"
        out += "# HELP swiftginx_requests_total Requests begun on client connections (stub_status's requests).\n"
        out += "# TYPE swiftginx_requests_total counter\n"
        out += "swiftginx_requests_total \(conn.requests)\n"

        out +=
            "# HELP swiftginx_upstream_responses_total Proxied requests by upstream group and the last try's status class.\n"
        out += "# TYPE swiftginx_upstream_responses_total counter\n"
        for (l, c) in upstreams {
            for (i, cls) in classes.enumerated() where c[MetricsLayout.status + i] > 0 {
                out += "swiftginx_upstream_responses_total{\(l),code=\"\(cls)\"} \(c[MetricsLayout.status + i])\n"
            }
        }
        out +=
            "# HELP swiftginx_upstream_response_duration_seconds Time spent on the upstream side (all tries), by the last try's peer.\n"
        out += "# TYPE swiftginx_upstream_response_duration_seconds histogram\n"
        for (l, c) in upstreams { histogram("swiftginx_upstream_response_duration_seconds", l, c) }
        peers(generation, worker.now, into: &out)

        out += "# HELP swiftginx_limit_req_rejected_total Requests refused by a limit_req zone.\n"
        out += "# TYPE swiftginx_limit_req_rejected_total counter\n"
        for (zone, n) in limitReq { out += "swiftginx_limit_req_rejected_total{zone=\"\(label(zone))\"} \(n)\n" }
        out += "# HELP swiftginx_limit_conn_rejected_total Requests refused by a limit_conn zone.\n"
        out += "# TYPE swiftginx_limit_conn_rejected_total counter\n"
        for (zone, n) in limitConn { out += "swiftginx_limit_conn_rejected_total{zone=\"\(label(zone))\"} \(n)\n" }
        out += "# HELP swiftginx_cache_requests_total Cached locations' requests by $upstream_cache_status.\n"
        out += "# TYPE swiftginx_cache_requests_total counter\n"
        let statuses = ["MISS", "BYPASS", "EXPIRED", "STALE", "UPDATING", "REVALIDATED", "HIT"]
        for (zone, c) in caches {
            for (i, st) in statuses.enumerated() where c[i] > 0 {
                out += "swiftginx_cache_requests_total{zone=\"\(label(zone))\",status=\"\(st)\"} \(c[i])\n"
            }
        }
        out += "# HELP swiftginx_tls_handshakes_total TLS handshakes completed with clients.\n"
        out += "# TYPE swiftginx_tls_handshakes_total counter\n"
        out += "swiftginx_tls_handshakes_total \(tls[0])\n"
        out += "# HELP swiftginx_tls_handshakes_resumed_total Completed handshakes that resumed a session.\n"
        out += "# TYPE swiftginx_tls_handshakes_resumed_total counter\n"
        out += "swiftginx_tls_handshakes_resumed_total \(tls[1])\n"
        out += "# HELP swiftginx_tls_handshakes_failed_total TLS handshakes that failed.\n"
        out += "# TYPE swiftginx_tls_handshakes_failed_total counter\n"
        out += "swiftginx_tls_handshakes_failed_total \(tls[2])\n"

        out += "# HELP swiftginx_config_generation The configuration generation serving (1 at start, +1 per reload).\n"
        out += "# TYPE swiftginx_config_generation gauge\n"
        out += "swiftginx_config_generation \(generation.number)\n"
        out += "# HELP swiftginx_config_reloads_total Reloads since start.\n"
        out += "# TYPE swiftginx_config_reloads_total counter\n"
        out += "swiftginx_config_reloads_total \(max(0, generation.number - 1))\n"
        return out
    }

    /// Per peer of every `upstream` block: the shared peer table's counts.
    private static func peers(_ generation: Generation, _ now: Int64, into out: inout String) {
        var requests = ""
        var fails = ""
        var up = ""
        var active = ""
        for (gi, staticTable) in generation.peerTables.enumerated() where staticTable.group.isExplicit {
            let table = generation.dynamicUpstreams[gi]?.current.table ?? staticTable
            let (peers, health) = table.snapshot
            for (i, p) in peers.enumerated() {
                let l = "upstream=\"\(label(table.group.name))\",peer=\"\(label(table.addressTexts[i]))\""
                let unavailable = p.maxFails > 0 && p.fails >= p.maxFails && now - p.checked <= Int64(p.failTimeout)
                let isUp = !p.down && !p.unhealthy && !health[i].checking && !unavailable
                requests += "swiftginx_upstream_peer_requests_total{\(l)} \(p.requests)\n"
                fails += "swiftginx_upstream_peer_failures_total{\(l)} \(p.totalFails)\n"
                up += "swiftginx_upstream_peer_up{\(l)} \(isUp ? 1 : 0)\n"
                active += "swiftginx_upstream_peer_active_requests{\(l)} \(p.conns)\n"
            }
        }
        out += "# HELP swiftginx_upstream_peer_requests_total Requests sent to the peer.\n"
        out += "# TYPE swiftginx_upstream_peer_requests_total counter\n" + requests
        out += "# HELP swiftginx_upstream_peer_failures_total Failed tries on the peer (passive health).\n"
        out += "# TYPE swiftginx_upstream_peer_failures_total counter\n" + fails
        out += "# HELP swiftginx_upstream_peer_up 1 when the peer takes requests (not down, unhealthy or failed out).\n"
        out += "# TYPE swiftginx_upstream_peer_up gauge\n" + up
        out += "# HELP swiftginx_upstream_peer_active_requests Requests in flight on the peer.\n"
        out += "# TYPE swiftginx_upstream_peer_active_requests gauge\n" + active
    }
}
