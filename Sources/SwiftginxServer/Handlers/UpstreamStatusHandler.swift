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
        json += "}}\n"
        r.status = 200
        r.beginHead(200)
        let body = r.appendMemoryBodyHeaders(
            Array(json.utf8), type: "application/json", status: 200, settings: settings)
        r.output.append("Cache-Control: no-cache\r\n")
        r.finishHead(settings: settings)
        if !r.isHeadOnly { r.appendBody(body) }
        r.flushResponse()
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
