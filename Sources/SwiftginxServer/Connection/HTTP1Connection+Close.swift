// How a client connection ends: lingering close (half-close, then read and drop what
// the client still sends so that it sees the response rather than a reset), timeouts
// per state, graceful stop, and closing the socket with the bookkeeping that goes
// with it (stub_status counts, the request abandoned, the connection back to the pool).

import Glibc
import SwiftginxPosix

extension HTTP1Connection {

    /// Half-closes and reads what the client still sends, so that it sees our response
    /// rather than a reset (nginx's lingering_close).
    func beginLingeringClose() {
        if request.lingering == .off {
            close()
            return
        }
        transport.shutdownWrite()
        state = .lingering
        lingeringEnd = worker.now + Int64(request.lingeringTime)
        worker.schedule(self, after: request.lingeringTimeout)
    }

    /// Reads and drops input; false to wait.
    func readWhileLingering() -> Bool {
        while true {
            do {
                switch try transport.read(worker.scratch.base, worker.scratch.capacity) {
                case .wouldBlock:
                    if worker.now >= lingeringEnd {
                        close()
                    } else {
                        worker.schedule(self, after: min(request.lingeringTimeout, Int(lingeringEnd - worker.now)))
                    }
                    return false
                case .processed(0):
                    close()
                    return false
                case .processed:
                    continue
                }
            } catch {
                close()
                return false
            }
        }
    }

    func onTimeout() {
        switch state {
        case .readingHead where !attached:
            close()
        case .readingHead:
            logInfo("client timed out (110: Connection timed out) while reading client request headers")
            request.reset()
            request.status = 408
            request.head.reset()
            request.head.headLength = 0
            if input.readableCount > 0 { worker.writeAccessLog(request, timedOutHead: true) }
            close()
        case .sending:
            if request.rateWakeDue() {
                drive()
                return
            }
            logInfo("client timed out (110: Connection timed out) while sending response to client")
            request.aborted = true
            finishResponse()
        case .discardingBody:
            logInfo("client timed out (110: Connection timed out) while reading client request body")
            close()
        case .active:
            request.onTimeout()
            if state != .closed { drive() }
        case .handshaking, .detectingTLS:
            logInfo("client timed out (110: Connection timed out) while SSL handshaking")
            close()
        case .readingProxyProtocol:
            logInfo("client timed out (110: Connection timed out) while reading PROXY protocol")
            close()
        case .idle, .lingering:
            close()
        case .http2:
            http2?.onTimeout()
        case .closed:
            break
        }
    }

    /// Graceful stop: idle connections close now, busy ones after their response.
    func onShutdown() {
        shuttingDown = true
        if attached { request.shuttingDown = true }
        if state == .idle { close() }
        if state == .http2 { http2?.shutDown() }
    }

    func close() {
        switch state {
        case .closed: return
        case .sending, .active, .discardingBody, .lingering: stats.bump(stats.finished)
        case .http2: break
        case .handshaking: if countedReading { endReading() }
        case .idle, .readingHead, .detectingTLS, .readingProxyProtocol:
            // A head cut short (timeout, client gone) was a request for nginx too.
            if countedReading {
                endReading()
                stats.bump(stats.requests)
                stats.bump(stats.finished)
            }
        }
        state = .closed
        if keepsIdleRequest { leftIdle() }
        http2?.teardown()
        http2 = nil
        if attached {
            writer.releaseFile()
            request.abandon()
        }
        if let t = transport.tls {
            t.shutdown()
            transport.tls = nil
        }
        // close() removes the socket from epoll: no epoll_ctl needed.
        Socket.close(fd)
        worker.connectionClosed(self)
    }
}
