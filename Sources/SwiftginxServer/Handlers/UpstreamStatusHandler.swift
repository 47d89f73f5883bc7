// `upstream_status`: a location that answers with every upstream group and peer as
// JSON — what NGINX Plus's API shows: address, state (up, down, unavail after
// max_fails, unhealthy, checking before a mandatory check passed), weight, active
// requests, requests, failures, and the active checks' counters and last result.
// A content handler: a namespace of functions taking the request.

import SwiftginxConfig
import SwiftginxUpstream

enum UpstreamStatusHandler {
    static func serve(_ r: Request, settings: LocationSettings) {
        let generation = r.worker.generation
        let now = r.worker.now
        var json = "{\"upstreams\":{"
        var firstGroup = true
        for (gi, staticTable) in generation.peerTables.enumerated() where staticTable.group.isExplicit {
            // A group with `resolve` servers shows the peers it has now.
            let table = generation.dynamicUpstreams[gi]?.current.table ?? staticTable
            let g = table.group
            if !firstGroup { json += "," }
            firstGroup = false
            let (peers, health) = table.snapshot
            let checked = generation.config.healthChecks[gi] != nil
            json +=
                "\(Self.jsonString(g.name)):{\"method\":\(Self.jsonString(String(RouteTrace.methodName(g.method).map { $0 == " " ? "_" : $0 }))),"
            json += "\"keepalive\":\(g.keepalive),\"peers\":["
            for (i, p) in peers.enumerated() {
                if i > 0 { json += "," }
                let server = g.servers[i]
                let h = health[i]
                let state: String
                if p.down {
                    state = "down"
                } else if h.checking {
                    state = "checking"
                } else if p.unhealthy {
                    state = "unhealthy"
                } else if p.maxFails > 0 && p.fails >= p.maxFails && now - p.checked <= Int64(p.failTimeout) {
                    state = "unavail"
                } else {
                    state = "up"
                }
                json += "{\"server\":\(Self.jsonString(table.addressTexts[i])),"
                json += "\"name\":\(Self.jsonString(server.name.isEmpty ? table.addressTexts[i] : server.name)),"
                json += "\"backup\":\(p.backup),\"weight\":\(p.weight),\"state\":\"\(state)\","
                json += "\"active\":\(p.conns),\"requests\":\(p.requests),\"fails\":\(p.totalFails),"
                json += "\"max_fails\":\(p.maxFails),\"fail_timeout\":\(p.failTimeout / 1000)"
                if checked {
                    json += ",\"health_checks\":{\"checks\":\(h.checks),\"fails\":\(h.fails),"
                    json += "\"unhealthy\":\(h.unhealthyTransitions),"
                    json += "\"last_passed\":\(h.lastPassed.map { "\($0)" } ?? "null"),"
                    json += "\"last_error\":\(Self.jsonString(h.lastError)),\"response_time\":\(h.lastResponseMs)}"
                }
                json += "}"
            }
            json += "]}"
        }
        json += "},"
        json += connectionsAndZones(r.worker)
        json += "}\n"
        r.status = 200
        r.beginHead(200)
        let body = r.appendMemoryBodyHeaders(
            Array(json.utf8), type: "application/json", status: 200, settings: settings)
        r.output.append("Cache-Control: no-cache\r\n")
        r.finishHead(settings: settings)
        if !r.isHeadOnly { r.appendBody(body) }
        r.flushResponse()
    }

    /// NGINX Plus's `connections` and `http.server_zones` parts: stub_status's counts,
    /// and per server (its first name) the requests, responses by class and bytes the
    /// request counters hold (Metrics.swift), summed over its locations.
    static func connectionsAndZones(_ worker: Worker) -> String {
        let c = worker.state.connectionCounts
        var json = "\"connections\":{\"accepted\":\(c.accepts),\"dropped\":0,\"active\":\(c.active - c.waiting),"
        json += "\"idle\":\(c.waiting),\"reading\":\(c.reading),\"writing\":\(c.writing)},"
        json += "\"http\":{\"requests\":{\"total\":\(c.requests),\"current\":\(c.writing)},\"server_zones\":{"
        var zones: [String: [Int]] = [:]
        var order: [String] = []
        let workers = worker.state.allWorkerMetrics
        for (id, s) in MetricsRegistry.shared.all.enumerated() where s.kind == .location {
            guard let sum = MetricsHandler.sum(id, workers) else { continue }
            if zones[s.labels.0] == nil {
                order.append(s.labels.0)
                zones[s.labels.0] = [Int](repeating: 0, count: MetricsLayout.cells)
            }
            for i in 0..<MetricsLayout.cells { zones[s.labels.0]![i] &+= sum[i] }
        }
        for (n, name) in order.enumerated() {
            let z = zones[name]!
            let responses = (0..<5).map { z[MetricsLayout.status + $0] }
            if n > 0 { json += "," }
            json += "\(jsonString(name)):{\"requests\":\(responses.reduce(0, +)),\"responses\":{"
            json += "\"1xx\":\(responses[0]),\"2xx\":\(responses[1]),\"3xx\":\(responses[2]),"
            json += "\"4xx\":\(responses[3]),\"5xx\":\(responses[4]),\"total\":\(responses.reduce(0, +))},"
            json += "\"received\":\(z[MetricsLayout.received]),\"sent\":\(z[MetricsLayout.sent])}"
        }
        return json + "}}"
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 {
                    let hex = String(u.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(u)
                }
            }
        }
        return out + "\""
    }
}
