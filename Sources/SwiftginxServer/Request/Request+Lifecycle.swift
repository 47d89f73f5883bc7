// A request's life after its phases: an activated content handler is resumed by
// socket events and timers (through the connection, or through the parent for a
// subrequest), the access log is written once the response is finished, and an
// abandoned request (the connection closed) releases its upstream side.

import SwiftginxPosix

extension Request {
    /// An event for the active content handler; true when it has answered or ended
    /// (the connection goes on), false while it waits.
    func resume() -> Bool {
        switch activeContent {
        case .none:
            return true
        case .proxy:
            guard let proxy else { return true }
            if proxy.clientGone() { return true }
            return proxy.drive()
        case .waitingForSubrequest:
            guard runningSubrequests.isEmpty && ssiFilter?.stream == nil else { return resumeConcurrentSubrequests() }
            guard let sub = subrequest else { return true }
            if !sub.request.resume() { return false }
            return subrequestEnded()
        case .limitReqDelay:
            return limitReqClientGone()
        case .delayedStatus:
            return false
        }
    }

    /// The connection's timer fired while the content handler was active.
    func onTimeout() {
        // A limit_rate / proxy_limit_rate pause ended: the content handler goes on.
        if rateWakeDue() { return }
        switch activeContent {
        case .none: break
        case .proxy: proxy?.onTimeout()
        case .waitingForSubrequest: subrequestTimersFired()
        case .delayedStatus(let status):
            activeContent = .none
            ErrorPages.respond(self, status)
        case .limitReqDelay: limitReqDelayEnded()
        }
    }

    /// The response has been sent (or abandoned): the log phase.
    func finalize() {
        if isSubrequest { return }
        let w = worker
        if let location, location.metricsID >= 0 { countMetrics(location.metricsID, w) }
        w.writeAccessLog(self)
        releaseConnections()
        proxy?.releaseBodyFile()
    }

    /// The connection closed under the request.
    func abandon() {
        if let sub = subrequest {
            sub.request.abandon()
            sub.request.writer.releaseFile()
            sub.request.releaseContent()
            subrequest = nil
        }
        if !runningSubrequests.isEmpty { abandonConcurrentSubrequests() }
        if let proxy { proxy.close() }
        releaseConnections()
        activeContent = .none
    }

    /// Breaks the request ↔ proxy exchange cycle (the request object is going away).
    func releaseContent() {
        if let sub = subrequest {
            sub.request.releaseContent()
            subrequest = nil
        }
        if !runningSubrequests.isEmpty {
            for s in runningSubrequests { s.request.releaseContent() }
            runningSubrequests.removeAll()
        }
        proxy = nil
        activeContent = .none
    }

    /// A file being sent shrank under us: the response cannot be completed.
    func fileTruncated() {
        logError("sendfile() reported that \"\(String(decoding: pathBuffer, as: UTF8.self))\" was truncated")
        keepAlive = false
    }

    // The writer's bookkeeping, as the handlers see it.
    var responseStart: Int {
        get { writer.responseStart }
        set { writer.responseStart = newValue }
    }
    var responseHeadLength: Int {
        get { writer.responseHeadLength }
        set { writer.responseHeadLength = newValue }
    }
    var lastResponseHead: [UInt8] {
        get { writer.lastResponseHead }
        _modify { yield &writer.lastResponseHead }
    }

    /// The `metrics` counts of a finished request (its location's series; when it was
    /// proxied to an `upstream` block, the series of the peer its last try went to; its
    /// cache status).
    private func countMetrics(_ id: Int, _ w: Worker) {
        let ms = max(0, w.clock.milliseconds - startMilliseconds)
        w.metrics.record(
            id, status: status, received: head.headLength, sent: Int64(responseHeadLength) + bodyBytesSent, ms: ms)
        guard let p = proxy, p.pass != nil else { return }
        if p.cache.status != .none, let zone = p.cache.zone, zone.metricsID >= 0 {
            w.metrics.count(zone.metricsID, cell: Int(p.cache.status.rawValue) - 1)
        }
        // The upstream side, in the series of the peer the last try went to.
        guard let table = p.peers, !table.metricsIDs.isEmpty, p.lastPeer >= 0, p.lastPeer < table.metricsIDs.count
        else { return }
        let tries = p.statuses.count
        if tries == 0 { return }
        var upstreamMs: Int64 = 0
        for i in 0..<p.responseTimes.count where p.responseTimes[i] > 0 { upstreamMs += p.responseTimes[i] }
        w.metrics.recordUpstream(table.metricsIDs[p.lastPeer], status: p.statuses[tries - 1], ms: upstreamMs)
    }
}
