// nginx's limit_conn module in the preaccess phase: for each `limit_conn zone number` of
// the location, the zone's key is evaluated for the request (an empty key is not
// counted; one over 255 bytes is logged and skipped, as nginx does) and the request
// holds one place for that key until it has been logged. When a key already has
// `number` requests in progress the request is refused with `limit_conn_status` (503)
// and nginx's line "limiting connections by zone "name"" at `limit_conn_log_level`;
// with `limit_conn_dry_run on` it is only logged and let through. Zones are shared by
// every worker thread and outlive a reload that keeps their definition. Subrequests are
// not counted (nginx counts the main request once).

import SwiftginxConfig
import Synchronization

/// One `limit_conn_zone`: requests in progress per key, shared by the worker threads.
final class LimitConnZone: Sendable {
    enum Outcome { case acquired, limited, full }

    let config: LimitConnZoneConfig
    /// Keys it holds at most (nginx's zones hold about one 64-byte state per 64 bytes).
    let capacity: Int
    private let counts = Mutex<[[UInt8]: Int]>([:])

    init(_ config: LimitConnZoneConfig) {
        self.config = config
        capacity = max(1, config.size / 64)
    }

    func acquire(_ key: [UInt8], limit: Int) -> Outcome {
        counts.withLock { c in
            let n = c[key] ?? 0
            if n == 0 && c.count >= capacity { return .full }
            if n >= limit { return .limited }
            c[key] = n + 1
            return .acquired
        }
    }

    func release(_ key: [UInt8]) {
        counts.withLock { c in
            guard let n = c[key] else { return }
            c[key] = n <= 1 ? nil : n - 1
        }
    }

    /// The zones of a configuration, reusing the previous generation's where the
    /// definition is the same (counts survive a reload, as nginx's shared zones do).
    static func zones(_ config: RuntimeConfig, previous: [String: LimitConnZone]) -> [String: LimitConnZone] {
        var out: [String: LimitConnZone] = [:]
        for (name, c) in config.limitConnZones {
            if let old = previous[name], old.config.size == c.size, old.config.key.source == c.key.source {
                out[name] = old
            } else {
                out[name] = LimitConnZone(c)
            }
        }
        return out
    }
}

enum LimitConnHandler {
    /// `$limit_conn_status`.
    enum Status: UInt8 {
        case none, passed, rejected, rejectedDryRun

        var text: StaticString {
            switch self {
            case .none: ""
            case .passed: "PASSED"
            case .rejected: "REJECTED"
            case .rejectedDryRun: "REJECTED_DRY_RUN"
            }
        }
    }

    static func run(_ r: Request) -> Request.StepResult {
        guard !r.isSubrequest, r.limitConnStatus == .none, let location = r.location else { return .next }
        let s = location.settings
        let zones = r.worker.generation.limitConnZones
        var status = Status.passed
        for rule in s.limitConns {
            guard let zone = zones[rule.zone] else { continue }
            let key = Variables.evaluate(r, zone.config.key)
            if key.isEmpty { continue }
            if key.count > 255 {
                r.logError(
                    "the value of the \"\(zone.config.key.source)\" key is more than 255 bytes: \"\(String(decoding: key, as: UTF8.self))\""
                )
                continue
            }
            let outcome = zone.acquire(key, limit: rule.number)
            if outcome == .acquired {
                r.heldConnections.append((zone, key))
                continue
            }
            if outcome == .full {
                r.logError("could not allocate node in limit_conn zone \"\(rule.zone)\"")
            } else {
                let dry = s.limitConnDryRun ? ", dry run," : ""
                r.logError("limiting connections\(dry) by zone \"\(rule.zone)\"", level: s.limitConnLogLevel)
            }
            if s.limitConnDryRun {
                status = .rejectedDryRun
                continue
            }
            r.releaseConnections()
            r.limitConnStatus = .rejected
            MetricsRegistry.limitRejected(r, .limitConn, zone: rule.zone)
            r.trace?.note("limit_conn: zone \"\(rule.zone)\" is at \(rule.number): \(s.limitConnStatus)")
            ErrorPages.respond(r, s.limitConnStatus)
            return .done
        }
        r.limitConnStatus = status
        return .next
    }
}

extension Request {
    /// Gives back the places this request holds in limit_conn zones.
    func releaseConnections() {
        guard !heldConnections.isEmpty else { return }
        for (zone, key) in heldConnections { zone.release(key) }
        heldConnections.removeAll()
    }
}
