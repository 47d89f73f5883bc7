// `proxy_http_version 2`: the one upstream exchange every protocol shares, with its
// bytes going through the connection's HTTP/2 session (UpstreamHTTP2.swift). On the
// request side the head built for HTTP/1.1 is submitted as a HEADERS list, and the body
// (memory, temporary file, `proxy_set_body`, or streamed as it arrives with
// `proxy_request_buffering off`) is given to nghttp2 as DATA within the upstream's flow
// control windows; while the windows are closed the upstream is read for its
// WINDOW_UPDATE. On the response side (the FastCGI hook `deframe`, see
// ProxyExchange+FastCGI.swift) the upstream's bytes are taken out of the input buffer,
// fed to nghttp2, and replaced by the HTTP/1.1 head and body bytes it decodes; the
// stream's END_STREAM is the end of the body. RST_STREAM and invalid answers are
// logged with nginx's wording and tried on the next upstream (`invalid_header`), as
// nginx's proxy_v2 module does.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ProxyExchange {
    enum HTTP2Body {
        case bytes(Int, last: Bool)
        /// A streamed body has nothing more yet.
        case later
        case failed
    }

    /// The request body goes upstream decoded (no chunked framing): FastCGI's STDIN
    /// records and HTTP/2's DATA frames carry their own framing.
    var sendsDecodedBody: Bool { framesBody || settings.http2 }

    /// Sends the request through the HTTP/2 session; true when the phase changed.
    func sendHTTP2(_ u: UpstreamConnection) -> Bool {
        if !response.fastcgi.http2 || (u.http2 == nil && reused) {
            // A cached connection of the other protocol: this request needs a new one.
            retryOnFreshConnection()
            return true
        }
        if u.http2 == nil { u.http2 = UpstreamHTTP2() }
        guard let h2 = u.http2 else { return true }
        if requestHeadSent == 0 {
            if !submitHTTP2Request(h2) { return true }
        }
        do {
            while true {
                let out = h2.pendingOut
                if out.readableCount > 0 {
                    switch try u.write(out.base + out.readerIndex, out.readableCount, more: false) {
                    case .wouldBlock: return waitToSend()
                    case .processed(let n):
                        out.readerIndex += n
                        countSent(n)
                        requestSentAny = true
                    }
                    continue
                }
                if !h2.takeFrames() {
                    logUpstream(.error, "http2 session failed while sending request to upstream")
                    nextUpstream(.error)
                    return true
                }
                if out.readableCount > 0 { continue }
                // Nothing more to send now.
                if h2.requestEnded || h2.ended || h2.resetCode != nil { break }
                if h2.deferred {
                    if streaming && request.bodyPending {
                        switch readStreamedBody() {
                        case .more: break
                        case .wait: return false
                        case .ended: return true
                        }
                    }
                    h2.resumeBody()
                    continue
                }
                // The upstream's windows are closed: read its WINDOW_UPDATE (and anything else).
                switch readHTTP2(u) {
                case .data: continue
                case .blocked: return waitToSend()
                case .failed: return true
                }
            }
        } catch {
            if reused && response.head.headLength == 0 && !bodyDiscarded {
                retryOnFreshConnection()
                return true
            }
            logUpstream(.error, "\(error) while sending request to upstream")
            nextUpstream(.error)
            return true
        }
        // An answer already decoded is parsed after one more read (UpstreamResponse.readHead).
        if response.upstreamInput.readableCount > 0 { u.readReady = true }
        phase = .readingHead
        timer = .readingHead
        request.schedule(after: settings.readTimeout)
        return true
    }

    /// The HEADERS of this try's request (and a DATA provider when it has a body).
    private func submitHTTP2Request(_ h2: UpstreamHTTP2) -> Bool {
        h2.exchange = self
        h2.maxHead = max(8192, settings.bufferSize)
        let inlineBody = settings.setBody != nil
        let hasBody =
            inlineBody || (settings.passRequestBody && (bodyLength > 0 || (streaming && request.bodyPending)))
        let head = UnsafeRawBufferPointer(start: requestHead.base, count: requestHead.writerIndex)
        guard
            let used = h2.submitRequest(
                head: head, scheme: upstreamTLS ? "https" : "http", authority: Array(proxyHost.utf8),
                body: hasBody && (!inlineBody || requestHead.writerIndex > requestHeadEnd(head)))
        else {
            logUpstream(.error, "invalid request head for http2 while sending request to upstream")
            finishProxyWithError(500)
            return false
        }
        h2.inlineBodyAt = inlineBody ? used : -1
        requestHeadSent = requestHead.writerIndex
        // The connection's reuse is decided by the session (UpstreamHTTP2.reusable).
        sentConnectionClose = false
        return true
    }

    private func requestHeadEnd(_ head: UnsafeRawBufferPointer) -> Int {
        var i = 3
        while i < head.count {
            if head[i] == 10 && head[i - 1] == 13 && head[i - 2] == 10 && head[i - 3] == 13 { return i + 1 }
            i += 1
        }
        return head.count
    }

    /// DATA payload: the `proxy_set_body` bytes after the head, or the client's body from
    /// memory, then the temporary file, then (streamed) what arrives next.
    func http2BodyBytes(into buf: UnsafeMutableRawPointer, max: Int) -> HTTP2Body {
        guard let h2 = upstream?.http2 else { return .failed }
        if h2.inlineBodyAt >= 0 {
            let n = min(requestHead.writerIndex - h2.inlineBodyAt, max)
            buf.copyMemory(from: requestHead.base + h2.inlineBodyAt, byteCount: n)
            h2.inlineBodyAt += n
            return .bytes(n, last: h2.inlineBodyAt == requestHead.writerIndex)
        }
        let memoryLeft = bodyMemory.writerIndex - Int(min(bodySent, Int64(bodyMemory.writerIndex)))
        var n = 0
        if memoryLeft > 0 {
            n = min(memoryLeft, max)
            buf.copyMemory(from: bodyMemory.base + Int(bodySent), byteCount: n)
        } else {
            let fileOffset = bodySent - Int64(bodyMemory.writerIndex)
            let fileLeft = bodyFileSize - fileOffset
            if fileLeft > 0 {
                let want = Int(min(fileLeft, Int64(max)))
                guard FileSystem.readFully(bodyFile, into: buf, count: want, offset: fileOffset) else {
                    request.logError("pread() of the request body's temporary file failed", level: .crit)
                    return .failed
                }
                n = want
            }
        }
        bodySent += Int64(n)
        let more =
            bodySent < Int64(bodyMemory.writerIndex) + bodyFileSize
            || (streaming && request.bodyPending)
        if n == 0 && more { return .later }
        return .bytes(n, last: !more)
    }

    /// One read of the upstream while the request is being sent (its windows are closed).
    private func readHTTP2(_ u: UpstreamConnection) -> UpstreamResponse.ReadOutcome {
        guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return .blocked }
        let inb = response.upstreamInput
        inb.reserve(16384)
        do {
            switch try u.read(inb.writable, inb.writableCount) {
            case .wouldBlock:
                u.readReady = false
                return .blocked
            case .processed(0):
                logUpstream(.error, "upstream prematurely closed connection while sending request to upstream")
                nextUpstream(.error)
                return .failed
            case .processed(let n):
                inb.writerIndex += n
                countReceived(n)
                return response.deframeHTTP2(self, from: inb.writerIndex - n) ? .data : .failed
            }
        } catch {
            logUpstream(.error, "\(error) while sending request to upstream")
            nextUpstream(.error)
            return .failed
        }
    }

    /// Writes the frames nghttp2 has queued (SETTINGS and PING acknowledgements,
    /// WINDOW_UPDATE) while the answer is read; what the socket does not take now goes
    /// with the next write.
    func flushHTTP2(_ u: UpstreamConnection, _ h2: UpstreamHTTP2) {
        guard h2.takeFrames() else { return }
        let out = h2.pendingOut
        while out.readableCount > 0 {
            guard case .processed(let n)? = try? u.write(out.base + out.readerIndex, out.readableCount, more: false)
            else { return }
            out.readerIndex += n
            countSent(n)
        }
    }
}

extension UpstreamResponse {
    /// Replaces the HTTP/2 bytes in `upstreamInput[from...]` by what they decode to (the
    /// head as HTTP/1.1, body bytes); false when the answer was refused (logged, and the
    /// exchange moved on).
    func deframeHTTP2(_ x: ProxyExchange, from: Int) -> Bool {
        guard let u = x.upstream, let h2 = u.http2 else { return true }
        let inb = upstreamInput
        let context = headerSent ? " while reading upstream" : " while reading response header from upstream"
        let n = inb.writerIndex - from
        if n > 0 {
            h2.scratch.removeAll(keepingCapacity: true)
            h2.scratch.append(contentsOf: UnsafeRawBufferPointer(start: inb.base + from, count: n))
            inb.writerIndex = from
            h2.sink = inb
            let error = h2.scratch.withUnsafeBytes { h2.receive($0) }
            h2.sink = nil
            if let error {
                x.logUpstream(.error, "upstream sent invalid http2 data (\(error))" + context)
                refuseHTTP2(x)
                return false
            }
        }
        x.flushHTTP2(u, h2)
        if let failure = h2.failure {
            x.logUpstream(.error, failure + context)
            refuseHTTP2(x)
            return false
        }
        if let code = h2.resetCode {
            if h2.goaway && code == 7 && x.reused && !headerSent && !h2.headDone {
                // A kept connection the upstream closed (GOAWAY) as it was reused: the
                // stream was refused unprocessed, so it goes again on a fresh connection.
                x.retryOnFreshConnection()
                return false
            }
            if h2.goaway && code == 7 {
                x.logUpstream(.error, "upstream sent goaway with error \(h2.goawayCode)" + context)
            } else {
                x.logUpstream(.error, "upstream rejected request with error \(code)" + context)
            }
            refuseHTTP2(x)
            return false
        }
        if !h2.ended && !h2.alive {
            x.logUpstream(.error, "upstream sent invalid http2 data" + context)
            refuseHTTP2(x)
            return false
        }
        if h2.ended {
            if !h2.headDone {
                x.logUpstream(.error, "upstream prematurely closed stream" + context)
                refuseHTTP2(x)
                return false
            }
            fastcgi.ended = true
            fastcgi.clean = h2.reusable
            if !h2.trailers.isEmpty && x.settings.passTrailers { passTrailers(h2.trailers, hidden: x.settings.hidden) }
        }
        return true
    }

    /// The trailer lines a client may get: the ones the proxy hides are left out.
    private func passTrailers(_ lines: [UInt8], hidden: [[UInt8]]) {
        passedTrailers.removeAll(keepingCapacity: true)
        var start = 0
        while start < lines.count {
            guard let colon = lines[start...].firstIndex(of: UInt8(ascii: ":")),
                let end = lines[colon...].firstIndex(of: 10)
            else { break }
            let name = lines[start..<colon]
            if !hidden.contains(where: { asciiCaseEqual(name, $0) }) { passedTrailers += lines[start...end] }
            start = end + 1
        }
    }

    private func refuseHTTP2(_ x: ProxyExchange) {
        if headerSent {
            x.endAfterPartialBody()
        } else {
            x.nextUpstream(.invalidHeader)
        }
    }
}
