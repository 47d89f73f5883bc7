// The failure side of a proxied request: trying the next peer as
// `proxy_next_upstream` allows (tries, time, idempotence), answering 502/504 with
// error_page, aborting when the client is gone, releasing the peer and the upstream
// connection, the proxy's timers, and error-log lines in nginx's upstream form
// (client, server, request, upstream, host). The request side is in
// ClientConnection+Proxy.swift.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ClientConnection {
    // MARK: failures

    /// The current try failed: the next peer if `proxy_next_upstream` allows, else an error answer.
    func nextUpstream(_ p: ProxySession, _ failure: ProxySession.Failure, status: Int? = nil) {
        let condition: NextUpstream =
            switch failure {
            case .error: .error
            case .timeout: .timeout
            case .invalidHeader: .invalidHeader
            }
        releasePeer(p, failed: true)
        if let u = p.upstream { worker.closeUpstream(u) }
        p.upstream = nil
        if p.statuses.last == 0 {
            p.statuses[p.statuses.count - 1] = failure == .timeout ? 504 : 502
            p.responseTimes[p.responseTimes.count - 1] = worker.clock.milliseconds - p.tryStartedAt
        }
        if canTryNext(p, condition) {
            p.phase = .connecting
            return
        }
        finishProxyWithError(failure == .timeout ? 504 : 502)
    }

    /// Whether another peer may be tried for `condition` (tries, time, idempotence, bytes sent).
    func canTryNext(_ p: ProxySession, _ condition: NextUpstream) -> Bool {
        guard p.settings.nextUpstream.contains(condition), !p.headerSent, !p.bodyDiscarded else { return false }
        if p.settings.nextUpstreamTries > 0 && p.tries >= p.settings.nextUpstreamTries { return false }
        if p.settings.nextUpstreamTimeout > 0 && worker.now - p.startedAt >= Int64(p.settings.nextUpstreamTimeout) {
            return false
        }
        if p.requestSentAny && !p.settings.nextUpstream.contains(.nonIdempotent) {
            // nginx's non-idempotent methods: POST, LOCK, PATCH.
            switch head.method {
            case .post, .patch: return false
            case .other: if asciiCaseEqual(headBytes[head.methodBytes], Array("lock".utf8)) { return false }
            default: break
            }
        }
        guard let group = p.group else { return false }
        return p.tried.count < group.servers.count || p.tried.contains(false)
    }

    /// Ends the peer's part in this request; a failure may take it out (logged as nginx does).
    func releasePeer(_ p: ProxySession, failed: Bool) {
        guard let peers = p.peers, p.peer >= 0 else { return }
        if peers.release(p.peer, failed: failed, now: worker.now) {
            logUpstream(.warn, "upstream server temporarily disabled while \(phaseText(p))", p)
        }
        p.peer = -1
    }

    func phaseText(_ p: ProxySession) -> String {
        switch p.phase {
        case .connecting: "connecting to upstream"
        case .sending: "sending request to upstream"
        case .readingHead: "reading response header from upstream"
        default: "reading upstream"
        }
    }

    /// Gives up on the upstream and answers `status` (error_page applies).
    func finishProxyWithError(_ status: Int) {
        guard let p = proxy else { return }
        releasePeer(p, failed: false)
        if let u = p.upstream { worker.closeUpstream(u) }
        p.upstream = nil
        p.phase = .finished
        if request.bodyPending { request.keepAlive = false }
        restoreLeftover(p)
        state = .sending
        respondError(status)
    }

    /// The client went away or broke the request: no answer, close.
    func abortProxy(status: Int) {
        guard let p = proxy else { return }
        releasePeer(p, failed: false)
        if let u = p.upstream { worker.closeUpstream(u) }
        p.upstream = nil
        p.phase = .finished
        if request.status == 0 { request.status = status }
        request.keepAlive = false
        request.aborted = true
        state = .sending
        finishResponse()
    }

    /// Bytes read past the body belong to the next request on this connection.
    func restoreLeftover(_ p: ProxySession) {
        if !p.leftover.isEmpty {
            input.append(p.leftover)
            p.leftover.removeAll(keepingCapacity: true)
        }
    }

    /// Called from `close()`: the upstream side goes too.
    func closeProxy() {
        guard let p = proxy else { return }
        releasePeer(p, failed: false)
        if let u = p.upstream { worker.closeUpstream(u) }
        p.upstream = nil
        p.phase = .finished
        if p.bodyFile >= 0 {
            FileSystem.close(p.bodyFile)
            p.bodyFile = -1
        }
        if p.spoolFile >= 0 {
            FileSystem.close(p.spoolFile)
            p.spoolFile = -1
        }
    }

    /// A timer of the proxied request fired.
    func proxyTimeout() {
        guard let p = proxy else { return }
        switch p.phase {
        case .readingBody:
            logInfo("client timed out (110: Connection timed out) while reading client request body")
            abortProxy(status: 408)
        case .sending where p.timer == .readingBody:
            logInfo("client timed out (110: Connection timed out) while reading client request body")
            abortProxy(status: 408)
        case .connecting, .sending:
            let what = p.upstream?.connected == false ? "connecting to upstream" : "sending request to upstream"
            logUpstream(.error, "upstream timed out (110: Connection timed out) while \(what)", p)
            nextUpstream(p, .timeout)
        case .readingHead:
            logUpstream(
                .error, "upstream timed out (110: Connection timed out) while reading response header from upstream",
                p)
            nextUpstream(p, .timeout)
        case .relaying:
            if p.timer == .sending {
                logInfo("client timed out (110: Connection timed out) while sending to client")
            } else {
                logUpstream(.error, "upstream timed out (110: Connection timed out) while reading upstream", p)
            }
            abortProxy(status: request.status)
        case .tunnel:
            logUpstream(.error, "upstream timed out (110: Connection timed out) while proxying upgraded connection", p)
            abortProxy(status: 101)
        case .finished:
            break
        }
        if state != .closed { drive() }
    }

    // MARK: logging

    /// An error-log line with nginx's upstream context: client, server, request, upstream, host.
    func logUpstream(_ level: LogLevel, _ message: String, _ p: ProxySession) {
        let log = worker.state.errorLog
        guard log.enabled(level) else { return }
        var s = message + ", client: \(peer.host)"
        if let server = request.server { s += ", server: \(server.primaryName)" }
        let b = headBytes
        if head.headLength > 0 { s += ", request: \"\(String(decoding: b[head.requestLine], as: UTF8.self))\"" }
        if let last = p.addresses.last {
            let tls = p.pass?.ssl == true
            let scheme = p.pass?.proto == .uwsgi ? (tls ? "suwsgi://" : "uwsgi://") : (tls ? "https://" : "http://")
            let uri =
                p.sentURI.upperBound <= p.requestHead.writerIndex
                ? String(
                    decoding: UnsafeRawBufferPointer(start: p.requestHead.base, count: p.requestHead.writerIndex)[
                        p.sentURI], as: UTF8.self) : ""
            s += ", upstream: \"\(scheme)\(last)\(uri)\""
        }
        if head.headLength > 0, let h = head.host { s += ", host: \"\(String(decoding: b[h], as: UTF8.self))\"" }
        log.log(level, s, connection: number)
    }
}
