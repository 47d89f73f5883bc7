// Proxying a request (proxy_pass / uwsgi_pass), driven by events of either socket:
// read the request body first (memory, then a temporary file), pick a peer (round
// robin with passive health), take a cached keep-alive connection or connect, send
// the request, and on failure try the next peer as `proxy_next_upstream` allows or
// answer 502/504 with nginx's error-log line. A cached connection that turns out to
// have been closed by the server before any response byte (the keep-alive race) is
// retried on a fresh connection, not counted as a failure.
// Failures, timeouts and logging are in ProxyExchange+Failures.swift, the
// request head in UpstreamRequestBuilder.swift, the response side in UpstreamResponse.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxUpstream

extension ProxyExchange {
    /// Starts proxying `request` to `pass`.
    func start(_ pass: UpstreamPass, location: Location) {
        reset()
        connectDeferred = false
        self.pass = pass
        // The settings and resolver usually are the last request's: then nothing is
        // reassigned (no reference counting).
        switch pass.proto {
        case .http:
            if !settingsStorage.isSameStorage(as: location.settings.proxyStorage) {
                settingsStorage = location.settings.proxyStorage
            }
        case .uwsgi: settingsStorage = location.settings.uwsgiStorage
        case .fastcgi: settingsStorage = location.settings.fastcgiStorage
        case .scgi: settingsStorage = location.settings.scgiStorage
        }
        startedAt = worker.now
        if resolverConfig != nil || location.settings.resolver != nil { resolverConfig = location.settings.resolver }
        resolverTimeout = location.settings.resolverTimeout
        guard resolveTarget(pass) else {
            request.keepAlive = false
            request.respondError(502)
            return
        }
        if settings.cache.enabled {
            switch cacheStart() {
            case .answered: return
            case .wait:
                request.activate(.proxy)
                phase = .cacheWait
                wait(for: .cacheWait, timeout: 50)
                return
            case .proceed: break
            }
        }
        proceedUpstream()
    }

    /// After the cache lookup: the request body, then the upstream.
    func proceedUpstream() {
        if request.expectContinue {
            // The body was left unread for static content; a proxy needs it.
            request.expectContinue = false
            request.bodyPending = true
            request.keepAlive = request.head.keepAlive
            if request.head.version != .http10 {
                let continueLine: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
                _ = try? request.writeClient(continueLine.utf8Start, continueLine.utf8CodeUnitCount)
            }
        }
        request.activate(.proxy)
        if request.bodyPending {
            bodyRemaining = request.head.contentLength ?? 0
            bodyChunked = request.head.isChunked ? ChunkedDecoder() : nil
            // proxy_request_buffering off: connect now and pass the body on as it arrives
            // (a chunked body stays chunked; an HTTP/1.0 upstream gets it buffered).
            // FastCGI frames a chunked body in STDIN records as it comes.
            streaming =
                !settings.requestBuffering && (!request.head.isChunked || settings.http11 || framesBody)
                && settings.setBody == nil
            // Body bytes that came with the head move to the body store; the head stays.
            var ok = true
            request.takeBufferedBody {
                prereadLength = $0.count
                ok = consumeBody($0)
            }
            if !ok { return }
            if bodyComplete() {
                finishBody()
            } else if streaming {
                phase = .connecting
            } else {
                phase = .readingBody
                timer = .readingBody
                request.schedule(after: request.bodyTimeout)
            }
        } else {
            phase = .connecting
        }
    }

    /// An event on the upstream socket: drive the exchange; when it has ended, the
    /// client side goes on (sends the answer, reads the next request).
    func onUpstreamEvent() {
        if drive() {
            request.wakeDownstream()
        } else if let stream = request.stream, request.parent == nil {
            // HTTP/2: what the relay or a tunnel queued in the stream goes out now.
            stream.connection.drive()
        }
    }

    /// Drives the proxied request as far as it goes; false when waiting for an event.
    func drive() -> Bool {
        while true {
            switch phase {
            case .readingBody:
                if !readRequestBody() { return false }
            case .resolving:
                return false
            case .connecting:
                if connectDeferred { return false }
                connectUpstream()
            case .sending:
                if !sendUpstreamRequest() { return false }
            case .readingHead:
                if !response.readHead(self) { return false }
            case .relaying:
                if !response.relay(self) { return false }
            case .tunnel:
                if !response.runTunnel(self) { return false }
            case .cacheWait:
                return false
            case .finished:
                return true
            }
        }
        return true
    }

    // MARK: request body

    private func bodyComplete() -> Bool {
        if let d = bodyChunked { return d.isDone }
        // HTTP/2: the body ends with the stream's END_STREAM, not at Content-Length (as
        // nginx: more DATA after the declared length is a 400, not the next request).
        return bodyRemaining == 0 && request.stream?.endStreamReceived != false
    }

    /// How much the next read of the body may take: up to Content-Length; past it (an
    /// HTTP/2 stream not ended yet) a read only waits for END_STREAM.
    private func bodyReadSize(_ capacity: Int) -> Int {
        if bodyChunked != nil || bodyRemaining == 0 { return capacity }
        return Int(min(Int64(capacity), bodyRemaining))
    }

    /// Reads the client's body; true when the phase changed.
    private func readRequestBody() -> Bool {
        let scratch = worker.scratch
        while true {
            do {
                switch try request.readBody(scratch.base, bodyReadSize(scratch.capacity)) {
                case .wouldBlock:
                    return false
                case .processed(0) where bodyRemaining == 0 && bodyChunked == nil:
                    finishBody()
                    return true
                case .processed(0):
                    request.logInfo("client prematurely closed connection while reading client request body")
                    abortProxy(status: 400)
                    return true
                case .processed(let n):
                    if !consumeBody(UnsafeRawBufferPointer(start: scratch.base, count: n)) { return true }
                    if bodyComplete() {
                        finishBody()
                        return true
                    }
                    request.schedule(after: request.bodyTimeout)
                }
            } catch {
                request.logInfo("\(error) while reading client request body")
                abortProxy(status: 400)
                return true
            }
        }
    }

    /// Stores body bytes (decoding chunked framing); false when the request ended in an error.
    private func consumeBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if var dec = bodyChunked {
            var off = 0
            defer {
                bodyChunked = dec
                // Streamed: what this read decoded goes upstream as one chunk, as nginx does.
                if streaming { flushPendingChunk() }
            }
            while off < bytes.count || dec.isDone {
                switch dec.next(bytes, offset: &off) {
                case .data(let r):
                    if !storeBody(UnsafeRawBufferPointer(rebasing: bytes[r])) { return false }
                case .needMore:
                    return true
                case .done:
                    if off < bytes.count { leftover += bytes[off...] }
                    if streaming && !sendsDecodedBody {
                        flushPendingChunk()
                        bodyMemory.reserve(5)
                        bodyMemory.append("0\r\n\r\n")
                    }
                    return true
                case .error(let e):
                    request.logInfo(e.logMessage)
                    bodyChunked = dec
                    request.keepAlive = false
                    finishProxyWithError(400)
                    return false
                }
            }
            return true
        }
        let take = Int(min(Int64(bytes.count), bodyRemaining))
        bodyRemaining -= Int64(take)
        if take < bytes.count { leftover += bytes[take...] }
        return storeBody(UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
    }

    /// A streamed body that stays within `client_body_buffer_size` (beyond what came with
    /// the head) is kept: nginx's `$request_body` shows it after it went upstream, as
    /// its buffer is not reused.
    private func keepStreamedCopy(_ bytes: UnsafeRawBufferPointer) {
        guard streamedCopyKept else { return }
        let limit = (request.location?.settings.clientBodyBufferSize ?? 8192) + prereadLength
        if streamedCopy.count + bytes.count > limit {
            streamedCopyKept = false
            streamedCopy.removeAll(keepingCapacity: true)
            return
        }
        streamedCopy.append(contentsOf: bytes)
    }

    /// The decoded bytes of a streamed chunked body gathered so far, as one chunk.
    private func flushPendingChunk() {
        guard !pendingChunk.isEmpty else { return }
        let size = String(pendingChunk.count, radix: 16)
        bodyMemory.reserve(pendingChunk.count + size.utf8.count + 4)
        bodyMemory.append(string: size)
        bodyMemory.append("\r\n")
        bodyMemory.append(pendingChunk)
        bodyMemory.append("\r\n")
        pendingChunk.removeAll(keepingCapacity: true)
    }

    private func storeBody(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        bodyLength += Int64(bytes.count)
        let limit = request.location?.settings.clientMaxBodySize ?? 0
        if limit > 0 && bodyLength > limit {
            request.logError("client intended to send too large chunked body: \(bodyLength) bytes")
            request.keepAlive = false
            finishProxyWithError(413)
            return false
        }
        if streaming {
            keepStreamedCopy(bytes)
            // Passed on as it comes (re-chunked for a chunked request).
            if bodyChunked != nil && !sendsDecodedBody {
                pendingChunk.append(contentsOf: bytes)
            } else {
                bodyMemory.reserve(bytes.count)
                bodyMemory.append(bytes)
            }
            return true
        }
        let memoryLimit = request.location?.settings.clientBodyBufferSize ?? 8192
        if bodyFileSize == 0 && bodyMemory.readableCount + bytes.count <= max(memoryLimit, 0)
            && request.location?.settings.clientBodyInFileOnly ?? .off == .off
        {
            bodyMemory.reserve(bytes.count)
            bodyMemory.append(bytes)
            return true
        }
        do {
            if bodyFile < 0 { try openBodyFile() }
            guard let base = bytes.baseAddress else { return true }
            try FileSystem.writeAll(bodyFile, base, bytes.count, at: bodyFileSize)
            bodyFileSize += Int64(bytes.count)
            return true
        } catch {
            request.logError("\(error) while writing the client request body to a temporary file", level: .crit)
            request.keepAlive = false
            finishProxyWithError(500)
            return false
        }
    }

    /// The whole body is stored: on to the upstream.
    private func finishBody() {
        request.bodyPending = false
        phase = .connecting
        // client_body_in_file_only: an empty chunked body (an HTTP/2 body of no DATA
        // bytes) still gets its file, as nginx writes one.
        if bodyFile < 0 && bodyChunked != nil && !streaming
            && request.location?.settings.clientBodyInFileOnly ?? .off != .off
        {
            do { try openBodyFile() } catch {
                request.logError("\(error) while writing the client request body to a temporary file", level: .crit)
            }
        }
    }

    // MARK: connecting

    private func connectUpstream() {
        if pendingName != nil {
            startResolving()
            return
        }
        guard let group = group, let peers = peers else {
            finishProxyWithError(502)
            return
        }
        response.reset()
        response.prepare(for: self)
        if requestHead.readableCount == 0 && requestHead.writerIndex == 0, pass != nil {
            let sent = UpstreamRequestBuilder.build(for: self)
            sentURI = sent.uri
            sentConnectionClose = sent.connectionClose
            if sent.failed {
                finishProxyWithError(500)
                return
            }
        }
        resetStdin()
        requestHeadSent = 0
        bodySent = 0
        requestSentAny = false
        if retryFresh {
            retryFresh = false
        } else {
            if tried.count != group.servers.count {
                tried.removeAll(keepingCapacity: true)
                tried.append(contentsOf: repeatElement(false, count: group.servers.count))
            }
            let key: [UInt8]
            switch group.method {
            // A unix-socket client hashes as nginx's pseudo address (three zero octets).
            case .ipHash: key = request.peer.isUnix ? [0, 0, 0, 0] : request.peer.rawAddress
            case .hash: key = group.hashKey.map { request.evaluate($0) } ?? []
            default: key = []
            }
            switch peers.pick(now: worker.now, tried: tried, key: key) {
            case .noLivePeers:
                logUpstream(.error, "no live upstreams while connecting to upstream")
                // nginx reports the group's name as this try's address.
                tryRecords.append(UpstreamTry(address: group.name, status: 502, responseTime: 0))
                finishProxyWithError(502)
                return
            case .peer(let i):
                peer = i
                tried[i] = true
                tries += 1
            }
            tryRecords.append(UpstreamTry(address: peers.addressTexts[peer], status: 0))
            tryStartedAt = worker.clock.milliseconds
            if let u = worker.takeIdleUpstream(group: group, peer: peer) {
                useIdleUpstream(u)
                return
            }
            if worker.deferConnect(self, group: group) { return }
        }
        openUpstream(group)
    }

    /// A cached keep-alive connection serves this try.
    func useIdleUpstream(_ u: UpstreamConnection) {
        u.owner = self
        upstream = u
        reused = true
        currentTry.connectTime = 0
        phase = .sending
    }

    /// A new connection to the chosen peer.
    func openUpstream(_ group: UpstreamGroup) {
        reused = false
        let address = group.servers[peer].address
        do {
            let start: Socket.ConnectStart
            switch address {
            case .inet(let host, let port):
                guard let a = SocketAddress(host: host, port: port) else { throw SystemError("connect", errno: EINVAL) }
                if let bind = settings.bind, let local = localAddress(bind) {
                    start = try Socket.connect(to: a, from: local, transparent: bind.transparent)
                } else {
                    start = try Socket.connect(to: a)
                }
            case .unix(let path):
                start = try Socket.connect(unixPath: path)
            }
            let fd: Int32
            var connected = false
            switch start {
            case .connected(let f):
                fd = f
                connected = true
            case .inProgress(let f): fd = f
            }
            let u = try worker.registerUpstream(fd: fd, group: group, peer: peer, address: address)
            u.owner = self
            u.connected = connected
            upstream = u
            if upstreamTLS && !beginUpstreamTLS(u) { return }
            phase = .sending
            if !connected {
                timer = .connecting
                request.schedule(after: settings.connectTimeout)
            }
        } catch {
            if let e = error as? SystemError, e.call == "bind" || e.call.hasPrefix("setsockopt") {
                // A local address that cannot be bound is not the peer's fault: 500, as nginx.
                logUpstream(.crit, "\(error) while connecting to upstream")
                finishProxyWithError(500)
                return
            }
            logUpstream(.error, "\(error) while connecting to upstream")
            nextUpstream(.error)
        }
    }

    // MARK: sending

    /// Writes the request (head, memory body, file body); true when the phase changed.
    private func sendUpstreamRequest() -> Bool {
        guard let u = upstream else { return true }
        if !u.connected {
            guard Socket.isWritable(u.fd) else { return false }
            if let e = Socket.pendingError(u.fd) {
                logUpstream(.error, "\(e) while connecting to upstream")
                nextUpstream(.error)
                return true
            }
            u.connected = true
            currentTry.connectTime = worker.clock.milliseconds - tryStartedAt
        }
        if u.tls != nil && !u.handshakeDone {
            switch continueUpstreamHandshake(u) {
            case nil:
                timer = .connecting
                request.schedule(after: settings.connectTimeout)
                return false
            case false?:
                nextUpstream(.error)
                return true
            case true?:
                break
            }
        }
        // proxy_http_version 2: frames through nghttp2 (ProxyExchange+HTTP2.swift).
        if response.fastcgi.http2 || u.http2 != nil { return sendHTTP2(u) }
        let sendBody = settings.passRequestBody && settings.setBody == nil
        do {
            while true {
                let headLeft = requestHead.writerIndex - requestHeadSent
                let memoryLeft =
                    sendBody ? bodyMemory.writerIndex - Int(min(bodySent, Int64(bodyMemory.writerIndex))) : 0
                let fileLeft = sendBody ? bodyFileSize - max(0, bodySent - Int64(bodyMemory.writerIndex)) : 0
                if headLeft > 0 {
                    let more = memoryLeft + Int(fileLeft) > 0 || framesBody
                    switch try u.write(requestHead.base + requestHeadSent, headLeft, more: more) {
                    case .wouldBlock: return waitToSend()
                    case .processed(let n):
                        requestHeadSent += n
                        countSent(n)
                        requestSentAny = true
                    }
                    continue
                }
                // FastCGI: the body goes in STDIN records (ProxyExchange+FastCGI.swift).
                var cap = Int.max
                if framesBody {
                    let ended = memoryLeft == 0 && fileLeft == 0 && !(streaming && request.bodyPending)
                    switch try frameStdin(u, bodyLeft: Int64(memoryLeft) + fileLeft, bodyEnded: ended) {
                    case .wouldBlock: return waitToSend()
                    case .wrote: continue
                    case .content(let n): cap = n
                    case .finished: break
                    }
                }
                if memoryLeft > 0 {
                    let from = Int(bodySent)
                    switch try u.write(bodyMemory.base + from, min(memoryLeft, cap), more: fileLeft > 0 || framesBody) {
                    case .wouldBlock: return waitToSend()
                    case .processed(let n):
                        bodySent += Int64(n)
                        countSent(n)
                        stdin.sentContent(n)
                    }
                    continue
                }
                if fileLeft > 0 {
                    var offset = bodySent - Int64(bodyMemory.writerIndex)
                    switch try u.sendfile(
                        bodyFile, offset: &offset, count: Int(min(fileLeft, 1 << 30, Int64(cap))),
                        bounce: worker.tlsBuffer)
                    {
                    case .wouldBlock: return waitToSend()
                    case .processed(0):
                        throw SystemError("sendfile", errno: EIO)
                    case .processed(let n):
                        bodySent += Int64(n)
                        countSent(n)
                        stdin.sentContent(n)
                    }
                    continue
                }
                if streaming && request.bodyPending {
                    switch readStreamedBody() {
                    case .more: continue
                    case .wait: return false
                    case .ended: return true
                    }
                }
                break
            }
        } catch {
            if reused && response.head.headLength == 0 && !bodyDiscarded {
                // The cached connection was closed by the server as we reused it.
                retryOnFreshConnection()
                return true
            }
            logUpstream(.error, "\(error) while sending request to upstream")
            nextUpstream(.error)
            return true
        }
        // The answer cannot be there before the request: wait for epoll to report it.
        // (A streamed body can end after the answer came: an HTTP/2 stream's END_STREAM
        // after the declared length; the readiness already reported stays.)
        if !bodyDiscarded { u.readReady = false }
        phase = .readingHead
        timer = .readingHead
        request.schedule(after: settings.readTimeout)
        return true
    }

    enum StreamStep { case more, wait, ended }

    /// proxy_request_buffering off: the next piece of the client's body, once what was
    /// read before has gone upstream (so memory stays at one read).
    func readStreamedBody() -> StreamStep {
        if bodyComplete() {
            request.bodyPending = false
            return .more
        }
        bodyMemory.clear()
        bodySent = 0
        bodyDiscarded = true
        let scratch = worker.scratch
        do {
            switch try request.readBody(scratch.base, bodyReadSize(scratch.capacity)) {
            case .wouldBlock:
                timer = .readingBody
                request.schedule(after: request.bodyTimeout)
                return .wait
            case .processed(0) where bodyRemaining == 0 && bodyChunked == nil:
                request.bodyPending = false
                return .more
            case .processed(0):
                request.logInfo("client prematurely closed connection while sending request to upstream")
                abortProxy(status: 400)
                return .ended
            case .processed(let n):
                if !consumeBody(UnsafeRawBufferPointer(start: scratch.base, count: n)) { return .ended }
                if bodyComplete() { request.bodyPending = false }
                return .more
            }
        } catch {
            request.logInfo("\(error) while reading client request body")
            abortProxy(status: 400)
            return .ended
        }
    }

    func waitToSend() -> Bool {
        timer = .sending
        request.schedule(after: settings.sendTimeout)
        return false
    }

    /// The keep-alive race: the same peer again on a new connection, not counted as a try.
    func retryOnFreshConnection() {
        if bodyDiscarded {
            // Part of a streamed body is gone: it cannot be sent again.
            nextUpstream(.error)
            return
        }
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        reused = false
        retryFresh = true
        phase = .connecting
    }
}
