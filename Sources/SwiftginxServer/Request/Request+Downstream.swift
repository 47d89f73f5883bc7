// The seam between a request and the connection it came on. Everything a request,
// its phases and its content handlers need from below goes through here: the head's
// bytes, the client's address and TLS state, the listen address, reading the rest of
// the body, writing interim bytes, timers, and telling the connection that the
// answer is ready or comes later. An HTTP/2 stream answers the same questions for
// its stream (`stream`, HTTP2Stream+Downstream.swift); nothing above this file knows
// how requests are framed.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxTLS

extension Request {
    /// The bytes the head's ranges index into.
    @inline(__always) var headBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: input.base + headBase, count: input.writerIndex - headBase)
    }
    /// The client's address: the connection's, or the one the realip module found.
    var peer: SocketAddress { realAddress ?? connection.peer }

    /// The client address's bytes (4 or 16; nil for a unix-socket client) where they
    /// are, without copying the address (`$binary_remote_addr` keys).
    @inline(__always)
    func withPeerAddressBytes<R>(_ body: (UnsafeRawBufferPointer?) -> R) -> R {
        if let realAddress { return realAddress.withAddressBytes(body) }
        return connection.peer.withAddressBytes(body)
    }
    var remoteAddressText: [UInt8] { realAddressText ?? connectionAddressText }
    /// The connection's own client address as text (`$realip_remote_addr`), formatted
    /// once per connection.
    var connectionAddressText: [UInt8] {
        let number = connection.number
        if peerTextConnection != number {
            peerText.removeAll(keepingCapacity: true)
            connection.peer.appendHost(to: &peerText)
            peerTextConnection = number
        }
        return peerText
    }
    var localAddress: SocketAddress? { connection.localAddress ?? Socket.localAddress(connection.fd) }
    var tls: TLSConnection? { connection.tls }
    var plainHTTPOnTLSPort: Bool { connection.plainHTTPOnTLSPort }
    /// The servers on the address the request came to.
    var group: ListenGroup { connection.group }
    /// `$connection`, `$connection_requests`.
    var connectionNumber: Int { connection.number }

    // The writer's bookkeeping, as the handlers see it.
    var bodyBytesSent: Int64 {
        get { writer.bodyBytesSent }
        set { writer.bodyBytesSent = newValue }
    }

    /// The answer is in the writer: the connection sends it.
    func flushResponse() {
        if let l = location, !l.settings.addTrailers.isEmpty { ResponseTrailers.frameAnswer(self) }
        if isSubrequest {
            subrequestAnswered()
            return
        }
        // Answered at once, the connection is already set to send; an active content
        // handler answering later (an upstream error page) tells it.
        if contentActive { answerNow() }
    }

    /// The answer comes later: events and timers go to `resume` / `onTimeout`.
    func activate(_ content: ActiveContent) {
        activeContent = content
        contentActive = true
        if let parent {
            if case .waitingForSubrequest = parent.activeContent { return }
            parent.activate(.waitingForSubrequest)
            return
        }
        if let stream {
            stream.activate()
            return
        }
        connection.activate()
    }

    /// Arms the connection's timer for the active content handler.
    @inline(__always) func schedule(after ms: Int) {
        if isSubrequest {
            scheduleSubrequestTimer(ms)
            return
        }
        if let stream {
            stream.schedule(after: timeout(ms))
            return
        }
        worker.schedule(connection, after: timeout(ms))
    }

    /// Reads request body bytes from the client.
    @inline(__always) func readBody(_ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        if let stream { return stream.readBody(buf, count) }
        return try connection.read(buf, count)
    }

    /// Writes bytes to the client outside a response body (100 Continue, a tunnel).
    @inline(__always) func writeClient(_ buf: UnsafeRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        if let stream { return stream.write(buf, count) }
        return try connection.write(buf, count)
    }

    /// A file region to the client (a spooled proxied response).
    func sendfileClient(_ file: Int32, offset: inout Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        if let stream { return try stream.sendfile(file, offset: &offset, count: count) }
        return try connection.sendfile(file, offset: &offset, count: count)
    }

    /// Whether epoll reported that the client closed its side (EPOLLRDHUP), as nginx's
    /// broken-connection check while an upstream is awaited decides it: no system call,
    /// over TLS too.
    func clientHasClosed() -> Bool {
        guard !isSubrequest, let c = connection else { return false }
        if let stream { return stream.closed }
        return c.peerHungUp
    }

    /// Body bytes that arrived with the head, taken out of the connection's input.
    func takeBufferedBody(_ body: (UnsafeRawBufferPointer) -> Void) {
        if let stream {
            stream.takeBufferedBody(body)
            return
        }
        connection.takeBufferedBody(body)
    }

    /// The error in the chunked framing of the body bytes that came with the head, if any.
    func bufferedChunkedBodyError() -> RequestParseError? {
        if stream != nil { return nil }
        return connection.bufferedChunkedBodyError()
    }

    /// Bytes read after the end of the body belong to the next request.
    func returnUnreadInput(_ bytes: [UInt8]) {
        if stream != nil { return }
        connection.returnUnreadInput(bytes)
    }

    /// The response is complete (or abandoned): the connection goes on.
    func responseFinished() {
        if isSubrequest {
            subrequestAnswered()
            return
        }
        if let stream {
            stream.contentFinished()
            return
        }
        connection.contentFinished()
    }

    /// After an event handled by the content handler: the connection continues.
    func wakeDownstream() {
        if let parent {
            parent.subrequestProgressed(self)
            return
        }
        if let stream {
            stream.connection.drive()
            return
        }
        connection.drive()
    }

    /// The answer is in the writer now (after the content handler was active): the
    /// connection (or the stream) sends it.
    func answerNow() {
        if let stream {
            stream.respond()
            return
        }
        connection.respond()
    }
}
