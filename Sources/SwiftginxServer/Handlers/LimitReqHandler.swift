// nginx's limit_req module in the preaccess phase (before limit_conn, as nginx orders
// them). For each `limit_req` of the location the zone's key is evaluated (an empty key
// is not limited; one over 65535 bytes is logged and skipped) and looked up: a key
// whose excess would pass the burst is refused with `limit_req_status` (503) and
// nginx's line "limiting requests, excess: 1.000 by zone "one"" at
// `limit_req_log_level`. Earlier limits are only held until the last one is decided,
// then accounted together; the longest delay any of them asks for (excess beyond
// `delay=`, at the zone's rate; none with `nodelay`) is logged one level lower
// ("delaying request, excess: ..., by zone ...") and waited out on the connection's
// timer — the request suspends and its phases resume when it fires. With
// `limit_req_dry_run on` nothing is refused or delayed, only logged. A main request is
// limited once (internal redirects and subrequests are not counted again).

import SwiftginxConfig
import SwiftginxPosix

enum LimitReqHandler {
    /// `$limit_req_status`.
    enum Status: UInt8 {
        case none, passed, delayed, rejected, delayedDryRun, rejectedDryRun

        var text: StaticString {
            switch self {
            case .none: ""
            case .passed: "PASSED"
            case .delayed: "DELAYED"
            case .rejected: "REJECTED"
            case .delayedDryRun: "DELAYED_DRY_RUN"
            case .rejectedDryRun: "REJECTED_DRY_RUN"
            }
        }
    }

    private struct Held {
        let zone: LimitReqZone
        let node: Int32
        let rule: Int
    }

    static func run(_ r: Request) -> Request.StepResult {
        guard !r.isSubrequest, r.limitReqStatus == .none, let location = r.location else { return .next }
        let s = location.settings.limitReq
        if let trace = r.trace {
            for rule in s.rules { trace.note("limit_req: zone \"\(rule.zone)\"") }
            return .next
        }
        let worker = r.worker
        let zones = worker.generation.limitReqZoneList
        // The loop turn's time, read once after epoll_wait to the millisecond, as nginx's
        // ngx_current_msec: every request of a turn is accounted at the same moment.
        let now = worker.now
        var held: [Held] = []
        var outcome = LimitReqZone.Outcome.ok
        var excess = 0
        var decided = -1
        let last = s.rules.count - 1
        for n in 0...last {
            guard let zone = zones[s.rules[n].zoneIndex] else { continue }
            let burst = s.rules[n].burst
            // The usual key, $binary_remote_addr, is the peer's address bytes where they are.
            let looked: LimitReqZone.Outcome?
            if zone.keyIsBinaryRemoteAddr {
                looked = r.withPeerAddressBytes { bytes in
                    guard let bytes else { return nil }
                    return zone.lookup(bytes, now: now, burst: burst, account: n == last, excess: &excess)
                }
            } else {
                looked = nil
            }
            if let looked {
                outcome = looked
            } else {
                let key =
                    zone.keyIsBinaryRemoteAddr ? r.peer.rawAddress : Variables.evaluate(r, zone.config.key)
                if key.isEmpty { continue }
                if key.count > 65535 {
                    r.logError(
                        "the value of the \"\(zone.config.key.source)\" key is more than 65535 bytes: \"\(String(decoding: key, as: UTF8.self))\""
                    )
                    continue
                }
                outcome = key.withUnsafeBytes {
                    zone.lookup($0, now: now, burst: burst, account: n == last, excess: &excess)
                }
            }
            decided = n
            if case .again(let node) = outcome {
                held.append(Held(zone: zone, node: node, rule: n))
                continue
            }
            break
        }
        guard decided >= 0, let limitZone = zones[s.rules[decided].zoneIndex] else { return .next }
        switch outcome {
        case .busy, .full:
            if outcome == .busy {
                r.logError(
                    "limiting requests\(s.dryRun ? ", dry run" : ""), excess: \(format(excess)) by zone \"\(s.rules[decided].zone)\"",
                    level: s.logLevel)
            } else {
                // nginx writes this one to the main error log, without the request's context.
                r.worker.state.errorLog.log(
                    .alert, "could not allocate node in limit_req zone \"\(s.rules[decided].zone)\"")
            }
            for h in held { h.zone.unlock(h.node) }
            if s.dryRun {
                r.limitReqStatus = .rejectedDryRun
                return .next
            }
            r.limitReqStatus = .rejected
            MetricsRegistry.limitRejected(r, .limitReq, zone: s.rules[decided].zone)
            ErrorPages.respond(r, s.status)
            return .done
        case .again:
            excess = 0
        case .ok:
            break
        }
        // Account the held limits; the longest delay wins.
        let limitDelay = s.rules[decided].delay
        var maxDelay = excess <= limitDelay ? 0 : Self.delay(excess - limitDelay, limitZone.config.rate)
        var delayRule = decided
        for h in held.reversed() {
            let e = h.zone.account(h.node, now: now)
            let ruleDelay = s.rules[h.rule].delay
            if e <= ruleDelay { continue }
            let delay = Self.delay(e - ruleDelay, h.zone.config.rate)
            if delay > maxDelay {
                maxDelay = delay
                excess = e
                delayRule = h.rule
            }
        }
        if maxDelay == 0 {
            r.limitReqStatus = .passed
            return .next
        }
        r.logError(
            "delaying request\(s.dryRun ? ", dry run" : ""), excess: \(format(excess)), by zone \"\(s.rules[delayRule].zone)\"",
            level: s.delayLogLevel)
        if s.dryRun {
            r.limitReqStatus = .delayedDryRun
            return .next
        }
        r.limitReqStatus = .delayed
        r.activate(.limitReqDelay)
        r.schedule(after: maxDelay)
        return .suspend
    }

    /// Milliseconds for `excess` thousandths to drain at `rate` (at most a day).
    static func delay(_ excess: Int, _ rate: Int) -> Int {
        let (p, overflow) = excess.multipliedReportingOverflow(by: 1000)
        return overflow ? 86_400_000 : min(86_400_000, p / rate)
    }

    /// nginx's "1.500" form of an excess in thousandths.
    static func format(_ excess: Int) -> String {
        let frac = excess % 1000
        return "\(excess / 1000)." + (frac < 10 ? "00" : frac < 100 ? "0" : "") + "\(frac)"
    }
}

extension Request {
    /// The limit_req delay is over: the phases go on from the next step.
    func limitReqDelayEnded() {
        activeContent = .none
        contentActive = false
        answerNow()
        resumePhases()
    }

    /// An event during the delay: a client that closed its connection ends the request
    /// (499), as nginx's reading test does; true when it did.
    func limitReqClientGone() -> Bool {
        guard clientHasClosed() else { return false }
        logInfo("client prematurely closed connection")
        activeContent = .none
        if status == 0 { status = 499 }
        keepAlive = false
        aborted = true
        responseFinished()
        return true
    }
}
