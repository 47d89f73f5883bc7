// One HTTP/1.x client connection: read and frame requests (parser, keep-alive,
// pipelining), give each one to its Request, send what the request's ResponseWriter
// holds (head and body from memory, file regions with sendfile), discard a request
// body nobody read, then wait for the next request or close — lingering when the
// client may still be sending. It knows nothing of servers' locations, files or
// upstreams: a request that answers later (a content handler waiting on an upstream)
// puts the connection in `.active`, and socket events and timers are passed to the
// request until it has answered. The socket is registered once, edge-triggered for
// both directions, so every event simply re-runs `drive()` until an operation would
// block. TLS detection and the handshake are in HTTP1Connection+TLS.swift.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxTLS

final class HTTP1Connection {
    enum State {
        /// On a `proxy_protocol` address, waiting for the PROXY protocol header.
        case readingProxyProtocol
        /// On an `ssl` address, waiting for the first byte (TLS record or plain HTTP).
        case detectingTLS
        /// The TLS handshake of a connection accepted on an `ssl` address.
        case handshaking
        /// Keep-alive wait: no byte of the next request yet.
        case idle
        case readingHead
        /// Sending the response the writer holds.
        case sending
        /// The request's content handler is producing the answer (it owns the events).
        case active
        case discardingBody
        case lingering
        /// HTTP/2: the connection's HTTP2Connection owns the events.
        case http2
        case closed
    }

    private(set) var peer: SocketAddress
    /// The worker owns this object and outlives it; `unowned(unsafe)` reads it without
    /// the checked reference count `unowned` costs (about 490 instructions per request).
    unowned(unsafe) let worker: Worker
    private(set) var listener: WorkerListener
    private(set) var slot: Int32
    private(set) var slotGeneration: UInt32
    /// `$connection`.
    private(set) var number: Int
    /// The configuration generation current when the connection was accepted
    /// (worker_shutdown_timeout closes connections older than a reload).
    var acceptedGeneration = 0
    /// Monotonic ms when the connection was accepted (`$connection_time`, keepalive_time).
    var acceptedAt: Int64 = 0
    var deadline: Int64 = 0
    /// The deadline of this connection's entry in the worker's timer heap, 0 for none
    /// (Worker.schedule).
    var queuedDeadline: Int64 = 0
    /// The servers for this connection's local address (refreshed per request, so a
    /// reload applies to the next request on a keep-alive connection).
    var group: ListenGroup
    /// The socket's local address, when the listener is a wildcard that other
    /// addresses of the same port share (nginx's per-address dispatch); boxed, so that
    /// connections on other listeners do not carry its 128 bytes.
    private var localAddressBox: LocalAddress? = nil
    var localAddress: SocketAddress? {
        get { localAddressBox?.address }
        set { localAddressBox = newValue.map(LocalAddress.init) }
    }
    let transport = Transport()
    var fd: Int32 { transport.fd }
    var tls: TLSConnection? { transport.tls }

    var state: State = .readingHead
    /// The request with its buffers and parser, while the connection reads or answers;
    /// an idle connection lends them back to the worker and holds the worker's empty
    /// `idleRequest` (HTTP1Connection+Idle.swift).
    private(set) var request: Request
    private(set) var attached = false
    /// Idle, and one of the worker's idle connections that keep their request.
    var keepsIdleRequest = false
    @inline(__always) var input: ByteBuffer { request.input }
    @inline(__always) var parserOptions: RequestParserOptions { request.parserOptions }
    /// Responses accumulate in the writer's buffer: pipelined responses held in memory
    /// are written together, one send for many requests.
    @inline(__always) var writer: ResponseWriter { request.writer }
    @inline(__always) var output: ByteBuffer { request.output }
    /// Offset of the current request head in `input`.
    var headBase = 0
    /// Readable byte count when the parser last said "incomplete".
    var parsedCount = -1
    /// `$connection_requests`.
    var requests = 0

    // A request body being discarded (kept with the request).
    @inline(__always) var bodyRemaining: Int64 {
        get { request.discardRemaining }
        set { request.discardRemaining = newValue }
    }
    @inline(__always) var chunked: ChunkedDecoder? {
        get { request.discardChunked }
        set { request.discardChunked = newValue }
    }
    var lingeringEnd: Int64 = 0
    var nodelaySet = false
    var shuttingDown = false
    /// False after a read of the request would block, until epoll reports the socket
    /// readable again: a keep-alive connection waiting for its next request costs no
    /// read that can only fail.
    var readReady = true
    /// epoll reported that the client closed (its side): a proxy waiting for its
    /// upstream checks whether the request was abandoned.
    var peerHungUp = false
    /// The first bytes on an `ssl` address were plain HTTP (answered 400, nginx's 497).
    var plainHTTPOnTLSPort = false
    /// HTTP/2 on this connection, and whether h2c is looked for (HTTP1Connection+HTTP2.swift).
    var http2: HTTP2Connection? = nil
    var http2Allowed = false
    /// What the PROXY protocol header carried (`listen ... proxy_protocol`).
    var proxyProtocol: ProxyProtocolHeader? {
        get { proxyProtocolBox?.header }
        set { proxyProtocolBox = newValue.map(ReceivedProxyProtocol.init) }
    }
    /// (Boxed: connections on other addresses do not carry its bytes.)
    private var proxyProtocolBox: ReceivedProxyProtocol? = nil
    /// The worker's stub_status counters, and whether this connection is in `reading`.
    let stats: ConnectionStats
    var countedReading = false
    /// `$pipe`: the current request's head was already read with the previous one.
    var pipelined = false

    init(
        fd: Int32, peer: SocketAddress, worker: Worker, listener: WorkerListener, slot: Int32, slotGeneration: UInt32,
        number: Int
    ) {
        self.peer = peer
        self.worker = worker
        self.listener = listener
        self.slot = slot
        self.slotGeneration = slotGeneration
        self.number = number
        stats = worker.stats
        let local = listener.needsLocalLookup ? Socket.localAddress(fd) : nil
        localAddressBox = local.map(LocalAddress.init)
        group = HTTP1Connection.listenGroup(listener, local: local, config: worker.generation.config)
        request = worker.idleRequest
        transport.fd = fd
        transport.client = self
    }

    /// Makes a closed connection object serve a new socket (connections are pooled
    /// per worker, so accepting allocates nothing in the steady state).
    func reuse(
        fd: Int32, peer: SocketAddress, listener: WorkerListener, slot: Int32, slotGeneration: UInt32, number: Int
    ) {
        transport.reset(fd: fd)
        self.peer = peer
        self.listener = listener
        self.slot = slot
        self.slotGeneration = slotGeneration
        self.number = number
        proxyProtocolBox = nil
        localAddress = listener.needsLocalLookup ? Socket.localAddress(fd) : nil
        refreshGroup()
        deadline = 0
        queuedDeadline = 0
        state = .readingHead
        if attached { detachClosedRequest() }
        headBase = 0
        parsedCount = -1
        requests = 0
        lingeringEnd = 0
        nodelaySet = false
        shuttingDown = false
        readReady = true
        peerHungUp = false
        plainHTTPOnTLSPort = false
        pipelined = false
        http2 = nil
    }

    deinit {
        if attached { request.releaseContent() }
    }

    /// Picks the listen group from the current configuration.
    func refreshGroup() {
        guard let local = localAddressBox?.address else {
            group = listener.group
            return
        }
        group = HTTP1Connection.listenGroup(listener, local: local, config: worker.generation.config)
    }

    /// The listener's servers, or for a shared wildcard socket those of the local address.
    static func listenGroup(_ listener: WorkerListener, local: SocketAddress?, config: RuntimeConfig) -> ListenGroup {
        guard let local else { return listener.group }
        return config.listenGroup(localHost: local.host, port: local.port) ?? listener.group
    }

    var headerTimeout: Int { group.defaultServer.settings.clientHeaderTimeout }

    /// Sets the request the connection holds (HTTP1Connection+Idle.swift).
    func setRequest(_ r: Request, attached: Bool) {
        request = r
        self.attached = attached
    }

    func start() {
        if !attached { attachRequest() }
        http2Allowed = h2cAllowed
        state = .readingHead
        worker.schedule(self, after: headerTimeout)
        if group.options.ssl { state = .detectingTLS }
        if group.options.proxyProtocol { state = .readingProxyProtocol }
        drive()
    }

    func onEvent(_ events: EpollEvents) {
        if clientClosedWhileSending(events) { return }
        if !events.isDisjoint(with: readableEvents) { readReady = true }
        if !events.isDisjoint(with: hangupEvents) { peerHungUp = true }
        if state == .sending && request.clientRate.wakeAt != 0 && events.contains(.readHangup) {
            // A limit_rate pause: a client gone is noticed now, not at the next write
            // (nginx's test_reading while the write is delayed).
            logInfo("client prematurely closed connection while sending response to client")
            request.aborted = true
            finishResponse()
            return
        }
        drive()
    }

    /// The current request head bytes (offsets in `request.head` are relative to this).
    @inline(__always) var headBytes: UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: input.base + headBase, count: input.writerIndex - headBase)
    }

    // MARK: the state machine

    func drive() {
        while true {
            switch state {
            case .readingProxyProtocol:
                if !readProxyProtocol() { return }
            case .detectingTLS:
                if !beginTLSIfNeeded() { return }
            case .handshaking:
                if !continueHandshake() { return }
            case .idle, .readingHead:
                // (The request is read once per step: connection fields are `var`s, so
                // each access would otherwise retain it again.)
                let r = request
                // (`r.input` is a `let` of the request: read in place, not retained again.)
                if http2Allowed && requests == 0 && r.input.readableCount > 0 {
                    if !detectHTTP2Preface() { return }
                    if state == .http2 || http2Allowed { continue }  // HTTP/2, or more bytes read
                }
                if r.input.readableCount > 0 && r.input.readableCount != parsedCount {
                    headBase = r.input.readerIndex
                    switch r.parser.parse(r.input.readable, into: &r.head) {
                    case .complete:
                        parsedCount = -1
                        r.parser.reset()
                        beginRequest()
                        continue
                    case .incomplete:
                        parsedCount = r.input.readableCount
                        if !countedReading { beginReading() }
                        if state == .idle {
                            state = .readingHead
                            worker.schedule(self, after: headerTimeout)
                        }
                    case .error(let e):
                        parsedCount = -1
                        r.parser.reset()
                        rejectHead(e)
                        continue
                    }
                }
                if r.output.readableCount > 0 {
                    // Answers to earlier pipelined requests go out before we wait for input.
                    if !flush() { return }
                    if state == .closed { return }
                    r.output.clear()
                }
                if !readMore() { return }
            case .sending:
                if canDeferFlush() {
                    finishResponse()
                    continue
                }
                if !flush() { return }
                finishResponse()
            case .active:
                if !request.resume() { return }
            case .discardingBody:
                if !discardBody() { return }
                nextRequest()
            case .lingering:
                if !readWhileLingering() { return }
            case .http2:
                http2?.drive()
                return
            case .closed:
                return
            }
        }
    }

    /// A complete head: a new request on this connection.
    private func beginRequest() {
        requests += 1
        if countedReading { endReading() }
        stats.bump(stats.requests)
        refreshGroup()
        let r = request
        r.writer.beginResponse()
        state = .sending
        r.headBase = headBase
        r.connectionRequests = requests
        r.begin(group: group)
    }

    /// A head the parser refused: answer its status and close.
    private func rejectHead(_ e: RequestParseError) {
        requests += 1
        if countedReading { endReading() }
        stats.bump(stats.requests)
        request.head.headLength = 0
        writer.beginResponse()
        state = .sending
        request.headBase = headBase
        request.connectionRequests = requests
        ErrorPages.reject(request, e, server: group.defaultServer)
    }

    /// The request answered now (its writer holds the response): send it.
    func respond() { state = .sending }

    /// The active content handler has sent the whole response: log and go on.
    func contentFinished() {
        state = .sending
        finishResponse()
    }

    /// The request's content handler answers later, driven by events.
    func activate() { state = .active }

    /// Reads into `input`; false when the caller must wait (or the connection closed).
    private func readMore() -> Bool {
        guard readReady || transport.hasBufferedInput else {
            // Stopped by a short read (below): idle as after a read that would block.
            if attached { becameIdleIfWaiting(request.input) }
            return false
        }
        if !attached { attachRequest() }
        let input = request.input
        if input.writableCount == 0 {
            if input.readerIndex > 0 {
                input.compact()
                parsedCount = -1
            } else if input.capacity < parserOptions.maxHeaderBytes + 1 {
                input.reserve(min(input.capacity, parserOptions.maxHeaderBytes + 1 - input.capacity))
            } else {
                // The parser reports limits itself; this is a defensive stop.
                rejectHead(.headerTooLarge("client sent too large request"))
                return true
            }
        }
        let asked = input.writableCount
        do {
            switch try transport.read(input.writable, asked) {
            case .wouldBlock:
                readReady = false
                becameIdleIfWaiting(input)
                return false
            case .processed(0):
                if state == .readingHead && input.readableCount > 0 {
                    logInfo("client prematurely closed connection while reading client request headers")
                }
                close()
                return false
            case .processed(let n):
                input.writerIndex += n
                if keepsIdleRequest { leftIdle() }
                // A socket that gave less than asked has nothing more for now (TLS: its
                // BIO's last read was short and OpenSSL holds nothing): the next read waits
                // for epoll (edge-triggered: new bytes or the client's FIN report again),
                // as nginx's recv clears `ready`. It saves the read that would block. A
                // hangup already seen is read to its end.
                if !peerHungUp && transport.drained(asked: asked, got: n) { readReady = false }
                return true
            }
        } catch {
            if state == .readingHead { logInfo("\(error) while reading client request headers") }
            close()
            return false
        }
    }

    /// True when this response is complete in memory and the next pipelined request is
    /// already buffered: keep going and send both with one write.
    @inline(__always) private func canDeferFlush() -> Bool {
        let r = request
        return r.writer.isInMemory && r.keepAlive && !r.bodyPending && !shuttingDown
            && r.output.readableCount < 65536 && r.input.writerIndex > headBase + r.head.headLength
    }

    /// Writes pending output; true when everything was sent.
    func flush() -> Bool {
        let r = request
        switch r.writer.flush(transport, request: r) {
        case .done:
            return true
        case .blocked:
            worker.schedule(self, after: request.timeout(request.sendTimeout))
            return false
        case .failed(let error):
            logInfo("\(error) while sending response to client")
            request.keepAlive = false
            request.aborted = true
            finishResponse()
            return false
        }
    }

    /// After the response: log, release the file, then keep alive, discard the body or close.
    func finishResponse() {
        // (`r.input` and `r.output` are `let`s of the request: read in place, not
        // retained again through locals.)
        let r = request
        r.writer.releaseFile()
        if r.output.readableCount == 0 {
            r.output.clear()
            if r.output.capacity > 256 * 1024 { r.output.shrink(to: 4096) }
        }
        r.finalize()
        if r.aborted {
            close()
            return
        }
        r.input.readerIndex = headBase + r.head.headLength
        if !r.keepAlive {
            // As nginx, linger when the client may still be sending: a body, pipelined
            // bytes, or (TLS early data) the end of its handshake — closing with unread
            // input would reset the connection under the response.
            if r.bodyPending || r.lingerAlways || r.input.readerIndex < r.input.writerIndex
                || (tls?.inEarlyData ?? false)
            {
                beginLingeringClose()
            } else {
                close()
            }
            return
        }
        if r.bodyPending {
            bodyRemaining = r.head.contentLength ?? 0
            chunked = r.head.isChunked ? ChunkedDecoder() : nil
            state = .discardingBody
            worker.schedule(self, after: r.bodyTimeout)
            return
        }
        nextRequest()
    }

    /// Ready for the next request on this connection.
    func nextRequest() {
        // The finished request's head is about to be overwritten (or cleared, compacted):
        // nothing may read its ranges any more (a log line would point past the buffer).
        let r = request
        r.head.headLength = 0
        if shuttingDown {
            close()
            return
        }
        stats.bump(stats.finished)
        if !nodelaySet && r.tcpNodelay {
            try? Socket.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, 1)
            nodelaySet = true
        }
        pipelined = r.input.readableCount > 0
        if pipelined {
            state = .readingHead
            worker.schedule(self, after: headerTimeout)
        } else {
            r.input.clear()
            r.input.shrink(to: r.headerBufferSize)
            state = .idle
            worker.schedule(self, after: r.keepaliveTimeout)
        }
    }

    // MARK: stub_status counts

    /// Part of a head has arrived (or the TLS handshake began): nginx's `Reading`. A
    /// connection with no byte of its next request is `Waiting`, as in nginx.
    func beginReading() {
        countedReading = true
        stats.bump(stats.reading)
    }

    func endReading() {
        countedReading = false
        stats.bump(stats.reading, by: -1)
    }

    // MARK: logging helpers

    /// Messages are built only when the error log takes their level.
    func logInfo(_ message: @autoclosure () -> String) {
        request.logInfo(message())
    }
}
