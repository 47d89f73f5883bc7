// What an idle keep-alive connection holds: only itself. The request object, with the
// head parser, the read buffer and the response writer's buffer, is lent to a
// connection while it reads a request and answers it; when the connection waits for
// its next request with no byte unread (a read would block) they go back to the
// worker's pool, and the next readable event takes a set from the pool again (nginx
// frees an idle connection's buffers the same way). So that a busy keep-alive
// connection does not give its request back and take it again between every two
// requests, the first `Worker.idleRequestsKept` idle connections of a worker keep
// theirs; only those beyond lend them back.
//
// An idle connection's `request` is the worker's `idleRequest`, an empty request that
// is never begun, so that fields read on an idle connection need no optional check. A
// connection that closes keeps its request until the connection object is reused (code
// may still run on it after `close()`); it is then reset whole and goes back to the pool.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension HTTP1Connection {
    /// Takes a request (buffers and parser) from the worker's pool to read into.
    func attachRequest() {
        let r = worker.takeRequest() ?? newRequest()
        r.connection = self
        r.shuttingDown = shuttingDown
        if r.parserGroup !== group { r.configureParser(for: group) }
        setRequest(r, attached: true)
    }

    private func newRequest() -> Request {
        Request(
            worker: worker, writer: ResponseWriter(worker: worker),
            input: ByteBuffer(capacity: group.defaultServer.settings.clientHeaderBufferSize))
    }

    /// A read would block with nothing unread: the last answer is sent and logged
    /// (`nextRequest` cleared the buffer). The connection keeps its request while the
    /// worker has fewer than `idleRequestsKept` idle connections keeping theirs.
    func becameIdle() {
        if keepsIdleRequest { return }
        let w = worker
        if w.idleRequestsKept < Worker.maxIdleRequestsKept {
            w.idleRequestsKept += 1
            keepsIdleRequest = true
        } else {
            detachIdleRequest()
        }
    }

    /// Reading stopped (a read would block, or a short read left the socket empty): the
    /// connection is idle when it waits for a request with nothing of one unread.
    @inline(__always) func becameIdleIfWaiting(_ input: ByteBuffer) {
        if input.readableCount == 0 && !countedReading && (state == .idle || state == .readingHead) {
            becameIdle()
        }
    }

    /// Bytes arrived (or the connection closed): it no longer counts as idle.
    func leftIdle() {
        keepsIdleRequest = false
        worker.idleRequestsKept -= 1
    }

    /// Gives the request back to the worker.
    private func detachIdleRequest() {
        // TLS record buffers (~37 KiB) go back to the allocator with the request's own.
        tls?.releaseBuffers()
        let r = request
        setRequest(worker.idleRequest, attached: false)
        worker.returnRequest(r)
    }

    /// Gives back the request of a connection that closed, possibly in the middle of
    /// an answer: it is reset whole.
    func detachClosedRequest() {
        let r = request
        r.writer.reset()
        r.head.reset()
        r.head.headLength = 0
        r.parser.reset()
        r.reset()
        r.discardRemaining = 0
        r.discardChunked = nil
        r.input.clear()
        r.input.shrink(to: r.headerBufferSize)
        setRequest(worker.idleRequest, attached: false)
        worker.returnRequest(r)
    }
}

extension Request {
    /// The HTTP/1 head limits of `group`'s default server (large_client_header_buffers,
    /// ignore_invalid_headers, underscores_in_headers, max_headers).
    func configureParser(for group: ListenGroup) {
        let s = group.defaultServer.settings
        var o = RequestParserOptions()
        o.maxRequestLine = s.largeClientHeaderBuffers.size
        o.maxHeaderLine = s.largeClientHeaderBuffers.size
        o.maxHeaderBytes = s.largeClientHeaderBuffers.size * s.largeClientHeaderBuffers.count
        o.ignoreInvalidHeaders = s.ignoreInvalidHeaders
        o.underscoresInHeaders = s.underscoresInHeaders
        o.maxHeaders = s.maxHeaders
        parserOptions = o
        parser = RequestParser(options: o)
        parserGroup = group
        headerBufferSize = s.clientHeaderBufferSize
    }
}

/// A connection's local address, kept only for wildcard listeners that share a port
/// with specific addresses (boxed, like the PROXY protocol header below, so that other
/// connections do not carry the bytes).
final class LocalAddress {
    let address: SocketAddress
    init(_ address: SocketAddress) { self.address = address }
}

/// What the PROXY protocol header of a connection carried.
final class ReceivedProxyProtocol {
    let header: ProxyProtocolHeader
    init(_ header: ProxyProtocolHeader) { self.header = header }
}
