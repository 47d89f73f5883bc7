// Proxying a request (proxy_pass / uwsgi_pass), driven by events of either socket:
// read the request body first (memory, then a temporary file), pick a peer (round
// robin with passive health), take a cached keep-alive connection or connect, send
// the request, and on failure try the next peer as `proxy_next_upstream` allows or
// answer 502/504 with nginx's error-log line. A cached connection that turns out to
// have been closed by the server before any response byte (the keep-alive race) is
// retried on a fresh connection, not counted as a failure.
// Failures, timeouts and logging are in ClientConnection+ProxyFailures.swift, the
// response side in ClientConnection+ProxyResponse.swift and +ProxyRelay.swift.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxUpstream

extension ClientConnection {
    /// Starts proxying the current request to `pass`.
    func startProxy(_ pass: UpstreamPass, location: Location) {
        let p = proxy ?? ProxySession()
        proxy = p
        p.reset()
        p.pass = pass
        p.settingsStorage = pass.proto == .http ? location.settings.proxyStorage : location.settings.uwsgiStorage
        p.startedAt = worker.now
        guard resolveTarget(p, pass) else {
            request.keepAlive = false
            respondError(502)
            return
        }
        if request.expectContinue {
            // The body was left unread for static content; a proxy needs it.
            request.expectContinue = false
            request.bodyPending = true
            request.keepAlive = head.keepAlive
            if head.version != .http10 {
                let continueLine: StaticString = "HTTP/1.1 100 Continue\r\n\r\n"
                _ = try? clientWrite(continueLine.utf8Start, continueLine.utf8CodeUnitCount)
            }
        }
        state = .proxying
        if request.bodyPending {
            p.bodyRemaining = head.contentLength ?? 0
            p.bodyChunked = head.isChunked ? ChunkedDecoder() : nil
            // proxy_request_buffering off: connect now and pass the body on as it arrives
            // (a chunked body stays chunked; an HTTP/1.0 upstream gets it buffered).
            p.streaming = !p.settings.requestBuffering && (!head.isChunked || p.settings.http11)
            // Body bytes that came with the head move to the body store; the head stays.
            let bodyStart = headBase + head.headLength
            if input.writerIndex > bodyStart {
                let extra = UnsafeRawBufferPointer(start: input.base + bodyStart, count: input.writerIndex - bodyStart)
                input.writerIndex = bodyStart
                if !consumeBody(p, extra) { return }
            }
            if bodyComplete(p) {
                finishBody(p)
            } else if p.streaming {
                p.phase = .connecting
            } else {
                p.phase = .readingBody
                p.timer = .readingBody
                worker.schedule(self, after: request.bodyTimeout)
            }
        } else {
            p.phase = .connecting
        }
    }

    /// Finds the group and peer table of a proxy_pass (evaluating one with variables).
    private func resolveTarget(_ p: ProxySession, _ pass: UpstreamPass) -> Bool {
        let tables = worker.generation.peerTables
        if let g = pass.group {
            p.group = g
            p.peers = g.index >= 0 && g.index < tables.count && tables[g.index].group === g ? tables[g.index] : nil
            p.proxyHost = pass.proxyHost
            p.proxyPort = pass.proxyPort
            return p.peers != nil
        }
        guard let dynamic = pass.dynamic else { return false }
        let text = String(decoding: evaluate(dynamic), as: UTF8.self)
        let scheme = pass.proto == .http ? "http://" : "uwsgi://"
        var rest = Substring(text)
        if rest.lowercased().hasPrefix(scheme) { rest = rest.dropFirst(scheme.count) }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            p.dynamicURI = Array(rest[slash...].utf8)
        }
        let config = worker.generation.config
        if let g = config.upstreamsByName[String(authority)], g.index < tables.count {
            p.group = g
            p.peers = tables[g.index]
            p.proxyHost = String(authority)
            p.proxyPort = "80"
            return true
        }
        var host = String(authority)
        var port = 80
        if let colon = host.lastIndex(of: ":"), let n = Int(host[host.index(after: colon)...]) {
            port = n
            host = String(host[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard SocketAddress(host: host, port: port) != nil else {
            logError("no resolver defined to resolve \(host)")
            return false
        }
        let g = UpstreamGroup(
            name: String(authority), servers: [UpstreamServer(address: .inet(host: host, port: port))],
            isExplicit: false, index: -1)
        p.group = g
        p.peers = PeerTable(group: g)
        p.proxyHost = String(authority)
        p.proxyPort = String(port)
        return true
    }

    /// Drives the proxied request as far as it goes; false when waiting for an event.
    func proxyDrive() -> Bool {
        guard let p = proxy else { return false }
        while state == .proxying {
            switch p.phase {
            case .readingBody:
                if !readRequestBody(p) { return false }
            case .connecting:
                connectUpstream(p)
            case .sending:
                if !sendUpstreamRequest(p) { return false }
            case .readingHead:
                if !readUpstreamHead(p) { return false }
            case .relaying:
                if !relayResponse(p) { return false }
            case .tunnel:
                if !runTunnel(p) { return false }
            case .finished:
                return true
            }
        }
        return true
    }

    // MARK: request body

    private func bodyComplete(_ p: ProxySession) -> Bool {
        if let d = p.bodyChunked { return d.isDone }
        return p.bodyRemaining == 0
    }

    /// Reads the client's body; true when the phase changed.
    private func readRequestBody(_ p: ProxySession) -> Bool {
        let scratch = worker.scratch
        while true {
            var want = scratch.capacity
            if p.bodyChunked == nil { want = Int(min(Int64(want), p.bodyRemaining)) }
            do {
                switch try clientRead(scratch.base, want) {
                case .wouldBlock:
                    return false
                case .processed(0):
                    logInfo("client prematurely closed connection while reading client request body")
                    abortProxy(status: 400)
                    return true
                case .processed(let n):
                    if !consumeBody(p, UnsafeRawBufferPointer(start: scratch.base, count: n)) { return true }
                    if bodyComplete(p) {
                        finishBody(p)
                        return true
                    }
                    worker.schedule(self, after: request.bodyTimeout)
                }
            } catch {
                logInfo("\(error) while reading client request body")
                abortProxy(status: 400)
                return true
            }
        }
    }

    /// Stores body bytes (decoding chunked framing); false when the request ended in an error.
    private func consumeBody(_ p: ProxySession, _ bytes: UnsafeRawBufferPointer) -> Bool {
        if var dec = p.bodyChunked {
            var off = 0
            defer { p.bodyChunked = dec }
            while off < bytes.count || dec.isDone {
                switch dec.next(bytes, offset: &off) {
                case .data(let r):
                    if !storeBody(p, UnsafeRawBufferPointer(rebasing: bytes[r])) { return false }
                case .needMore:
                    return true
                case .done:
                    if off < bytes.count { p.leftover += bytes[off...] }
                    if p.streaming {
                        p.bodyMemory.reserve(5)
                        p.bodyMemory.append("0\r\n\r\n")
                    }
                    return true
                case .error(let e):
                    logInfo(e.logMessage)
                    p.bodyChunked = dec
                    request.keepAlive = false
                    finishProxyWithError(400)
                    return false
                }
            }
            return true
        }
        let take = Int(min(Int64(bytes.count), p.bodyRemaining))
        p.bodyRemaining -= Int64(take)
        if take < bytes.count { p.leftover += bytes[take...] }
        return storeBody(p, UnsafeRawBufferPointer(rebasing: bytes[0..<take]))
    }

    private func storeBody(_ p: ProxySession, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        p.bodyLength += Int64(bytes.count)
        let limit = request.location?.settings.clientMaxBodySize ?? 0
        if limit > 0 && p.bodyLength > limit {
            logError("client intended to send too large chunked body: \(p.bodyLength) bytes")
            request.keepAlive = false
            finishProxyWithError(413)
            return false
        }
        if p.streaming {
            // Passed on as it comes (re-chunked for a chunked request).
            if p.bodyChunked != nil {
                let size = String(bytes.count, radix: 16)
                p.bodyMemory.reserve(bytes.count + size.utf8.count + 4)
                p.bodyMemory.append(string: size)
                p.bodyMemory.append("\r\n")
                p.bodyMemory.append(bytes)
                p.bodyMemory.append("\r\n")
            } else {
                p.bodyMemory.reserve(bytes.count)
                p.bodyMemory.append(bytes)
            }
            return true
        }
        let memoryLimit = request.location?.settings.clientBodyBufferSize ?? 8192
        if p.bodyFileSize == 0 && p.bodyMemory.readableCount + bytes.count <= max(memoryLimit, 0) {
            p.bodyMemory.reserve(bytes.count)
            p.bodyMemory.append(bytes)
            return true
        }
        do {
            if p.bodyFile < 0 {
                p.bodyFile = try FileSystem.openTemporary(in: worker.state.prefix + "client_body_temp")
            }
            if p.bodyFileSize == 0 { FileSystem.truncate(p.bodyFile) }
            guard let base = bytes.baseAddress else { return true }
            try FileSystem.writeAll(p.bodyFile, base, bytes.count, at: p.bodyFileSize)
            p.bodyFileSize += Int64(bytes.count)
            return true
        } catch {
            logError("\(error) while writing the client request body to a temporary file", level: .crit)
            request.keepAlive = false
            finishProxyWithError(500)
            return false
        }
    }

    /// The whole body is stored: on to the upstream.
    private func finishBody(_ p: ProxySession) {
        request.bodyPending = false
        p.phase = .connecting
    }

    // MARK: connecting

    private func connectUpstream(_ p: ProxySession) {
        guard let group = p.group, let peers = p.peers else {
            finishProxyWithError(502)
            return
        }
        p.resetResponse()
        if p.requestHead.readableCount == 0 && p.requestHead.writerIndex == 0 { buildUpstreamRequest(p) }
        p.requestHeadSent = 0
        p.bodySent = 0
        p.requestSentAny = false
        if p.retryFresh {
            p.retryFresh = false
        } else {
            if p.tried.count != group.servers.count {
                p.tried.removeAll(keepingCapacity: true)
                p.tried.append(contentsOf: repeatElement(false, count: group.servers.count))
            }
            let key: [UInt8]
            switch group.method {
            case .ipHash: key = peer.rawAddress
            case .hash: key = group.hashKey.map { evaluate($0) } ?? []
            default: key = []
            }
            switch peers.pick(now: worker.now, tried: p.tried, key: key) {
            case .noLivePeers:
                logUpstream(.error, "no live upstreams while connecting to upstream", p)
                finishProxyWithError(502)
                return
            case .peer(let i):
                p.peer = i
                p.tried[i] = true
                p.tries += 1
            }
            p.addresses.append(peers.addressTexts[p.peer])
            p.statuses.append(0)
            p.tryStartedAt = worker.clock.milliseconds
            p.connectTimes.append(-1)
            p.headerTimes.append(-1)
            p.responseTimes.append(-1)
            p.responseLengths.append(0)
            if let u = worker.takeIdleUpstream(group: group, peer: p.peer) {
                u.owner = self
                p.upstream = u
                p.reused = true
                p.connectTimes[p.connectTimes.count - 1] = 0
                p.phase = .sending
                return
            }
        }
        p.reused = false
        let address = group.servers[p.peer].address
        do {
            let start: Socket.ConnectStart
            switch address {
            case .inet(let host, let port):
                guard let a = SocketAddress(host: host, port: port) else { throw SystemError("connect", errno: EINVAL) }
                start = try Socket.connect(to: a)
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
            let u = try worker.registerUpstream(fd: fd, group: group, peer: p.peer, address: address)
            u.owner = self
            u.connected = connected
            p.upstream = u
            if p.pass?.ssl == true && !beginUpstreamTLS(p, u) {
                nextUpstream(p, .error)
                return
            }
            p.phase = .sending
            if !connected {
                p.timer = .connecting
                worker.schedule(self, after: p.settings.connectTimeout)
            }
        } catch {
            logUpstream(.error, "\(error) while connecting to upstream", p)
            nextUpstream(p, .error)
        }
    }

    // MARK: sending

    /// Writes the request (head, memory body, file body); true when the phase changed.
    private func sendUpstreamRequest(_ p: ProxySession) -> Bool {
        guard let u = p.upstream else { return true }
        if !u.connected {
            guard Socket.isWritable(u.fd) else { return false }
            if let e = Socket.pendingError(u.fd) {
                logUpstream(.error, "\(e) while connecting to upstream", p)
                nextUpstream(p, .error)
                return true
            }
            u.connected = true
            p.connectTimes[p.connectTimes.count - 1] = worker.clock.milliseconds - p.tryStartedAt
        }
        if u.tls != nil && !u.handshakeDone {
            switch continueUpstreamHandshake(p, u) {
            case nil:
                p.timer = .connecting
                worker.schedule(self, after: p.settings.connectTimeout)
                return false
            case false?:
                nextUpstream(p, .error)
                return true
            case true?:
                break
            }
        }
        let sendBody = p.settings.passRequestBody
        do {
            while true {
                let headLeft = p.requestHead.writerIndex - p.requestHeadSent
                let memoryLeft =
                    sendBody ? p.bodyMemory.writerIndex - Int(min(p.bodySent, Int64(p.bodyMemory.writerIndex))) : 0
                let fileLeft = sendBody ? p.bodyFileSize - max(0, p.bodySent - Int64(p.bodyMemory.writerIndex)) : 0
                if headLeft > 0 {
                    switch try upstreamWrite(
                        u, p.requestHead.base + p.requestHeadSent, headLeft, more: memoryLeft + Int(fileLeft) > 0)
                    {
                    case .wouldBlock: return waitToSend(p)
                    case .processed(let n):
                        p.requestHeadSent += n
                        p.requestSentAny = true
                    }
                    continue
                }
                if memoryLeft > 0 {
                    let from = Int(p.bodySent)
                    switch try upstreamWrite(u, p.bodyMemory.base + from, memoryLeft, more: fileLeft > 0) {
                    case .wouldBlock: return waitToSend(p)
                    case .processed(let n): p.bodySent += Int64(n)
                    }
                    continue
                }
                if fileLeft > 0 {
                    var offset = p.bodySent - Int64(p.bodyMemory.writerIndex)
                    switch try upstreamSendfile(u, p.bodyFile, offset: &offset, count: Int(min(fileLeft, 1 << 30))) {
                    case .wouldBlock: return waitToSend(p)
                    case .processed(0):
                        throw SystemError("sendfile", errno: EIO)
                    case .processed(let n): p.bodySent += Int64(n)
                    }
                    continue
                }
                if p.streaming && request.bodyPending {
                    switch readStreamedBody(p) {
                    case .more: continue
                    case .wait: return false
                    case .ended: return true
                    }
                }
                break
            }
        } catch {
            if p.reused && p.head.headLength == 0 && !p.bodyDiscarded {
                // The cached connection was closed by the server as we reused it.
                retryOnFreshConnection(p)
                return true
            }
            logUpstream(.error, "\(error) while sending request to upstream", p)
            nextUpstream(p, .error)
            return true
        }
        // The answer cannot be there before the request: wait for epoll to report it.
        u.readReady = false
        p.phase = .readingHead
        p.timer = .readingHead
        worker.schedule(self, after: p.settings.readTimeout)
        return true
    }

    private enum StreamStep { case more, wait, ended }

    /// proxy_request_buffering off: the next piece of the client's body, once what was
    /// read before has gone upstream (so memory stays at one read).
    private func readStreamedBody(_ p: ProxySession) -> StreamStep {
        if bodyComplete(p) {
            request.bodyPending = false
            return .more
        }
        p.bodyMemory.clear()
        p.bodySent = 0
        p.bodyDiscarded = true
        let scratch = worker.scratch
        var want = scratch.capacity
        if p.bodyChunked == nil { want = Int(min(Int64(want), p.bodyRemaining)) }
        do {
            switch try clientRead(scratch.base, want) {
            case .wouldBlock:
                p.timer = .readingBody
                worker.schedule(self, after: request.bodyTimeout)
                return .wait
            case .processed(0):
                logInfo("client prematurely closed connection while sending request to upstream")
                abortProxy(status: 400)
                return .ended
            case .processed(let n):
                if !consumeBody(p, UnsafeRawBufferPointer(start: scratch.base, count: n)) { return .ended }
                if bodyComplete(p) { request.bodyPending = false }
                return .more
            }
        } catch {
            logInfo("\(error) while reading client request body")
            abortProxy(status: 400)
            return .ended
        }
    }

    private func waitToSend(_ p: ProxySession) -> Bool {
        p.timer = .sending
        worker.schedule(self, after: p.settings.sendTimeout)
        return false
    }

    /// The keep-alive race: the same peer again on a new connection, not counted as a try.
    func retryOnFreshConnection(_ p: ProxySession) {
        if p.bodyDiscarded {
            // Part of a streamed body is gone: it cannot be sent again.
            nextUpstream(p, .error)
            return
        }
        if let u = p.upstream { worker.closeUpstream(u) }
        p.upstream = nil
        p.reused = false
        p.retryFresh = true
        p.phase = .connecting
    }
}
