// The end of an upstream's part and the failure side of a proxied request: trying the
// next peer as `proxy_next_upstream` allows (tries, time, idempotence), answering
// 502/504 with error_page, aborting when the client is gone, releasing the peer and
// the upstream connection (cached when its answer was cleanly framed), the proxy's
// timers, and error-log lines in nginx's upstream form (client, server, request,
// upstream, host). The request side is in ProxyExchange+Request.swift.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ProxyExchange {
    // MARK: failures

    /// The current try failed: the next peer if `proxy_next_upstream` allows, else an error answer.
    func nextUpstream(_ failure: ProxyExchange.Failure, status: Int? = nil) {
        let condition: NextUpstream =
            switch failure {
            case .error: .error
            case .timeout: .timeout
            case .invalidHeader: .invalidHeader
            }
        releasePeer(failed: true)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        if tryRecords.last?.status == 0 {
            currentTry.status = failure == .timeout ? 504 : 502
            currentTry.responseTime = worker.clock.milliseconds - tryStartedAt
        }
        if canTryNext(condition) {
            phase = .connecting
            return
        }
        finishProxyWithError(failure == .timeout ? 504 : 502)
    }

    /// Whether another peer may be tried for `condition` (tries, time, idempotence, bytes sent).
    func canTryNext(_ condition: NextUpstream) -> Bool {
        guard settings.nextUpstream.contains(condition), !response.headerSent, !bodyDiscarded else { return false }
        if settings.nextUpstreamTries > 0 && tries >= settings.nextUpstreamTries { return false }
        if settings.nextUpstreamTimeout > 0 && worker.now - startedAt >= Int64(settings.nextUpstreamTimeout) {
            return false
        }
        if requestSentAny && !settings.nextUpstream.contains(.nonIdempotent) {
            // nginx's non-idempotent methods: POST, LOCK, PATCH.
            switch request.head.method {
            case .post, .patch: return false
            case .other:
                if asciiCaseEqual(request.headBytes[request.head.methodBytes], Array("lock".utf8)) { return false }
            default: break
            }
        }
        guard let group = group else { return false }
        // nginx tries each peer that is not marked `down` once (backups included).
        return tries < group.servers.reduce(0) { $0 + ($1.down ? 0 : 1) }
    }

    /// Ends the peer's part in this request; a failure may take it out (logged as nginx does).
    func releasePeer(failed: Bool) {
        guard let peers = peers, peer >= 0 else { return }
        lastPeer = peer
        if peers.release(peer, failed: failed, now: worker.now) {
            logUpstream(.warn, "upstream server temporarily disabled while \(phaseText())")
        }
        peer = -1
    }

    func phaseText() -> String {
        switch phase {
        case .resolving: "resolving"
        case .connecting: "connecting to upstream"
        case .sending: "sending request to upstream"
        case .readingHead: "reading response header from upstream"
        default: "reading upstream"
        }
    }

    /// Gives up on the upstream and answers `status` (error_page applies).
    func finishProxyWithError(_ status: Int) {
        releasePeer(failed: false)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        phase = .finished
        if cache.zone != nil && cacheServeStale(errorStatus: status) { return }
        if request.bodyPending { request.keepAlive = false }
        restoreLeftover()
        request.respondError(status)
    }

    /// The client went away or broke the request: no answer, close.
    func abortProxy(status: Int) {
        releasePeer(failed: false)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        phase = .finished
        if cache.zone != nil { cacheFinished() }
        if request.status == 0 { request.status = status }
        request.keepAlive = false
        request.aborted = true
        request.responseFinished()
    }

    /// While the upstream is awaited (the body read, no answer yet), a client that
    /// closed its connection ends the request: the upstream connection is closed too
    /// and 499 logged, as nginx does (`proxy_ignore_client_abort off`).
    func clientGone() -> Bool {
        switch phase {
        case .resolving, .connecting, .sending, .readingHead: break
        default: return false
        }
        // A background cache update goes on without the client, as nginx's does.
        guard !request.bodyPending, !settings.ignoreClientAbort, !cache.background, request.clientHasClosed() else {
            return false
        }
        request.logInfo(
            "epoll_wait() reported that client prematurely closed connection, so upstream connection is closed too"
                + " while \(phaseText())")
        endTryClockIfRunning()
        abortProxy(status: 499)
        return true
    }

    /// Bytes read past the body belong to the next request on this connection.
    func restoreLeftover() {
        if !leftover.isEmpty {
            request.returnUnreadInput(leftover)
            leftover.removeAll(keepingCapacity: true)
        }
    }

    /// The client connection closed: the upstream side goes too.
    func close() {
        connectDeferred = false
        releasePeer(failed: false)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        phase = .finished
        releaseBodyFile()
        if cache.zone != nil { cacheFinished() }
        response.close()
    }

    /// Ends the upstream's part: the peer is released, the connection cached or closed.
    func finishUpstream(reusable: Bool) {
        if !tryRecords.isEmpty { currentTry.responseTime = worker.clock.milliseconds - tryStartedAt }
        releasePeer(failed: false)
        if let u = upstream {
            rememberUpstreamSession(u)
            u.requests += 1
            if !(reusable && response.upstreamInput.readableCount == 0 && worker.cacheUpstream(u)) {
                worker.closeUpstream(u)
            }
        }
        upstream = nil
        phase = .finished
        restoreLeftover()
    }

    /// The upstream broke off mid-body: what was received goes out, then the client
    /// connection closes (its framing cannot be completed).
    func endAfterPartialBody() {
        releasePeer(failed: false)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        _ = response.flush()
        abortProxy(status: request.status)
    }

    /// A timer of the proxied request fired.
    func onTimeout() {
        switch phase {
        case .resolving:
            resolutionFailed(DNSChannel.Failure(code: 110))
        case .readingBody:
            request.logInfo("client timed out (110: Connection timed out) while reading client request body")
            abortProxy(status: 408)
        case .sending where timer == .readingBody:
            request.logInfo("client timed out (110: Connection timed out) while reading client request body")
            abortProxy(status: 408)
        case .connecting, .sending:
            let what = upstream?.connected == false ? "connecting to upstream" : "sending request to upstream"
            logUpstream(.error, "upstream timed out (110: Connection timed out) while \(what)")
            nextUpstream(.timeout)
        case .readingHead:
            logUpstream(
                .error, "upstream timed out (110: Connection timed out) while reading response header from upstream")
            nextUpstream(.timeout)
        case .relaying:
            if timer == .sending {
                request.logInfo("client timed out (110: Connection timed out) while sending to client")
            } else {
                logUpstream(.error, "upstream timed out (110: Connection timed out) while reading upstream")
            }
            abortProxy(status: request.status)
        case .tunnel:
            logUpstream(.error, "upstream timed out (110: Connection timed out) while proxying upgraded connection")
            abortProxy(status: 101)
        case .cacheWait:
            cacheLockCheck()
        case .finished:
            break
        }
    }

    // MARK: logging

    /// An error-log line with nginx's upstream context: client, server, request, upstream, host.
    func logUpstream(_ level: LogLevel, _ message: String) {
        guard request.logTakes(level) else { return }
        var s = message + ", client: \(request.peer.host)"
        if let server = request.server { s += ", server: \(server.primaryName)" }
        let b = request.headBytes
        if request.head.headLength > 0 {
            s += ", request: \"\(String(decoding: b[request.head.requestLine], as: UTF8.self))\""
        }
        if let last = tryRecords.last?.address {
            let tls = upstreamTLS
            let scheme = (pass?.proto ?? .http).scheme(tls: tls)
            let uri =
                sentURI.upperBound <= requestHead.writerIndex
                ? String(
                    decoding: UnsafeRawBufferPointer(start: requestHead.base, count: requestHead.writerIndex)[
                        sentURI], as: UTF8.self) : ""
            s += ", upstream: \"\(scheme)\(last)\(uri)\""
        }
        if request.head.headLength > 0, let h = request.head.host {
            s += ", host: \"\(String(decoding: b[h], as: UTF8.self))\""
        }
        request.logLine(level, s)
    }
}
