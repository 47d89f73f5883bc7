// nginx's rate limits on a response: `limit_rate` on the bytes written to the client
// (after `limit_rate_after` bytes) and `proxy_limit_rate` on the bytes read from the
// upstream. As nginx's write filter, a write may take what the rate allows since the
// request began, counted in whole seconds (rate × (seconds since start + 1) − bytes
// sent), and after each write the sender pauses as long as the rate needs for what was
// just written. A pause is a wake-up time on the request: the side that wants to go on
// answers "would block", the connection's timer is armed no later than the wake-up
// (Request.timeout(_:)), and when it fires the request is driven again instead of
// timing out. Nothing sleeps. The rates are evaluated when the first byte goes (so an
// X-Accel-Redirect's location or an X-Accel-Limit-Rate header decides, as in nginx).

import SwiftginxConfig
import SwiftginxRouting

struct SendRate {
    /// Bytes per second; 0: unlimited.
    var rate = 0
    var after: Int64 = 0
    var startSecond: Int64 = 0
    var sent: Int64 = 0
    /// Monotonic milliseconds before which nothing more goes (0: none).
    var wakeAt: Int64 = 0
    var resolved = false

    /// Bytes that may go now; 0 means wait until `wakeAt`.
    mutating func allowance(second: Int64, now: Int64) -> Int {
        if rate == 0 { return Int.max }
        if wakeAt > now { return 0 }
        wakeAt = 0
        // Saturating: absurd rates or offsets mean "no limit now", never a trap.
        let (allowed, o1) = Int64(rate).multipliedReportingOverflow(by: max(1, second - startSecond + 1))
        let (counted, o2) = sent.subtractingReportingOverflow(after)
        if o1 || o2 { return Int.max }
        let (limit, o3) = allowed.subtractingReportingOverflow(counted)
        if o3 { return Int.max }
        if limit <= 0 {
            wakeAt =
                now + min(86_400_000, -limit / Int64(rate) * 1000 + (-limit % Int64(rate)) * 1000 / Int64(rate) + 1)
            return 0
        }
        return Int(clamping: limit)
    }

    /// `n` bytes went: the pause they ask for.
    mutating func account(_ n: Int, now: Int64) {
        let before = sent
        sent += Int64(n)
        if rate == 0 { return }
        let limited = max(0, sent &- after) - max(0, before &- after)
        let delay = min(86_400_000, limited / Int64(rate) * 1000 + (limited % Int64(rate)) * 1000 / Int64(rate))
        if delay > 0 { wakeAt = now + delay }
    }
}

extension Request {
    /// A size-valued setting for this request (nginx's ngx_http_complex_value_size).
    func sizeValue(_ v: ComplexValue?) -> Int {
        guard let v else { return 0 }
        let bytes = evaluate(v)
        if bytes.isEmpty { return 0 }
        guard let n = SendRateSettings.size(bytes) else {
            logError("invalid size \"\(String(decoding: bytes, as: UTF8.self))\"")
            return 0
        }
        return n
    }

    /// `$limit_rate`: the rate set for the response, else the location's.
    var currentLimitRate: Int {
        if let limitRateOverride { return limitRateOverride }
        if clientRate.resolved { return clientRate.rate }
        return sizeValue(location?.settings.sendRate.limitRate)
    }

    /// How many bytes may be written to the client now (0: wait; see `rateWakeAt`).
    @inline(__always) func clientAllowance() -> Int {
        if !clientRate.resolved { resolveClientRate() }
        if clientRate.rate == 0 { return Int.max }
        return clientRate.allowance(second: worker.clock.milliseconds / 1000, now: worker.now)
    }

    @inline(__always) func clientSent(_ n: Int) {
        if clientRate.rate != 0 { clientRate.account(n, now: worker.now) }
    }

    private func resolveClientRate() {
        clientRate.resolved = true
        guard !isSubrequest, let location else { return }
        if let limitRateOverride {
            clientRate.rate = limitRateOverride
        } else {
            guard let v = location.settings.sendRate.limitRate else { return }
            clientRate.rate = sizeValue(v)
        }
        if clientRate.rate == 0 { return }
        clientRate.after = Int64(sizeValue(location.settings.sendRate.limitRateAfter))
        clientRate.startSecond = startMilliseconds / 1000
    }

    /// How many bytes may be read from the upstream now (`proxy_limit_rate`,
    /// `uwsgi_limit_rate`).
    @inline(__always) func upstreamAllowance() -> Int {
        if !upstreamRate.resolved {
            upstreamRate.resolved = true
            if let location {
                let v: ComplexValue?
                switch proxy?.pass?.proto {
                case .uwsgi?: v = location.settings.sendRate.uwsgiLimitRate
                case .fastcgi?: v = location.settings.sendRate.fastcgiLimitRate
                case .scgi?: v = location.settings.sendRate.scgiLimitRate
                default: v = location.settings.sendRate.proxyLimitRate
                }
                if v != nil { upstreamRate.rate = sizeValue(v) }
            }
            upstreamRate.startSecond = worker.clock.milliseconds / 1000
        }
        if upstreamRate.rate == 0 { return Int.max }
        return upstreamRate.allowance(second: worker.clock.milliseconds / 1000, now: worker.now)
    }

    @inline(__always) func upstreamReceived(_ n: Int) {
        if upstreamRate.rate != 0 { upstreamRate.account(n, now: worker.now) }
    }

    /// A timeout no later than the next rate wake-up.
    @inline(__always) func timeout(_ ms: Int) -> Int {
        let wake = rateWakeAt
        if wake == 0 { return ms }
        return Int(max(1, min(Int64(ms), wake - worker.now)))
    }

    /// The earliest pending rate wake-up (0: none).
    var rateWakeAt: Int64 {
        let a = clientRate.wakeAt
        let b = upstreamRate.wakeAt
        if a == 0 { return b }
        if b == 0 { return a }
        return min(a, b)
    }

    /// True when the timer that fired was a rate wake-up (then the request goes on).
    func rateWakeDue() -> Bool {
        let wake = rateWakeAt
        guard wake != 0 && wake <= worker.now else { return false }
        if clientRate.wakeAt != 0 && clientRate.wakeAt <= worker.now { clientRate.wakeAt = 0 }
        if upstreamRate.wakeAt != 0 && upstreamRate.wakeAt <= worker.now { upstreamRate.wakeAt = 0 }
        return true
    }
}
