// The body of a proxied response on its way to the client, and the tunnel a 101
// answer opens: read the upstream until it would block (straight into the client's
// buffer when no reframing is needed), decode its framing (length, chunked, until
// close), compress when a coding was chosen, frame for the client (length, chunked,
// until close), and write to the client first — spilling to a temporary file only while
// the client lags (`proxy_buffering on`, nginx's event pipe) or stopping the upstream
// reads (`off`). The head side is in UpstreamResponse.swift and +ClientHead.swift.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension UpstreamResponse {
    // MARK: body relay

    enum FlushResult { case done, blocked, failed }

    /// Moves body bytes towards the client; true when the exchange's phase changed. The
    /// upstream is read until it would block (or memory and file are full) before the
    /// client is written, so large bodies go out in large writes.
    func relay(_ x: ProxyExchange) -> Bool {
        guard let u = x.upstream else { return true }
        var readBlocked = false
        var clientBlocked = false
        let memory = memoryLimit
        while true {
            // With memory full, the client is written first; a temporary file takes the
            // overflow only while the client is not taking bytes (nginx's event pipe). A
            // subrequest's parent takes its body at the end: it goes on to the file.
            let memoryFull = output.readableCount >= memory || spoolPending > 0
            if !upstreamDone && !readBlocked && canAccept() && (!memoryFull || clientBlocked || request.isSubrequest) {
                if upstreamInput.readableCount > 0 {
                    if !processBody(x) { return true }
                    continue
                }
                switch readBody(x, u) {
                case .data: continue
                case .blocked: readBlocked = true
                case .failed: return true
                }
            }
            var flushed = flush()
            if flushed == .failed && (x.settings.ignoreClientAbort || x.cache.background) {
                // nginx's ignore_client_abort: the upstream's answer is read to its end.
                discarding = true
                flushed = flush()
            }
            if flushed == .failed {
                x.abortProxy(status: request.status)
                return true
            }
            clientBlocked = flushed == .blocked
            if upstreamDone {
                if flushed == .blocked {
                    x.wait(for: .sending, timeout: request.sendTimeout)
                    return false
                }
                complete(x)
                return true
            }
            if flushed == .blocked {
                if readBlocked || !canAccept() {
                    x.wait(for: .sending, timeout: request.sendTimeout)
                    return false
                }
                continue
            }
            if readBlocked {
                x.wait(for: .relaying, timeout: x.settings.readTimeout)
                return false
            }
        }
    }

    enum ReadOutcome { case data, blocked, failed }

    /// One read of body bytes from the upstream: straight into the client's output when
    /// no reframing is needed, else into `upstreamInput` for decoding.
    private func readBody(_ x: ProxyExchange, _ u: UpstreamConnection) -> ReadOutcome {
        // (FastCGI: END_REQUEST may have come with the bytes already read, with nothing
        // left on the socket to wake the exchange.)
        if !fastcgi.ended {
            guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return .blocked }
        }
        // proxy_limit_rate: what the rate allows now (Connection/SendRate.swift).
        if fastcgi.ended {
            // FastCGI's END_REQUEST (or closed STDOUT) already read: the body is over.
            if !recordsEnded(x) { return .failed }
            if !bodyEnded() {
                x.endAfterPartialBody()
                return .failed
            }
            return .data
        }
        let allowed = request.upstreamAllowance()
        if allowed == 0 { return .blocked }
        let memory = memoryLimit
        let direct =
            responseChunked == nil && !clientChunked && encoder == nil && recoder == nil && ssi == nil
            && spoolPending == 0
            && !cacheOnly && clientTake < 0
            && output.readableCount < memory && !fastcgi.active
        do {
            let n: Int
            if direct {
                if output.readableCount == 0 { output.clear() }
                output.reserve(min(memory, 65536))
                var want = min(output.writableCount, max(memory - output.readableCount, 4096), allowed)
                if responseRemaining >= 0 { want = Int(min(Int64(want), responseRemaining)) }
                switch try u.read(output.writable, want) {
                case .wouldBlock:
                    u.readReady = false
                    return .blocked
                case .processed(let got): n = got
                }
                if n > 0 {
                    u.noteRead(asked: want, got: n)
                    request.upstreamReceived(n)
                    output.writerIndex += n
                    if let w = cacheWriter {
                        w.append(UnsafeRawBufferPointer(start: output.base + output.writerIndex - n, count: n))
                    }
                    request.bodyBytesSent += Int64(n)
                    x.countReceived(n)
                    if responseRemaining >= 0 {
                        responseRemaining -= Int64(n)
                        if responseRemaining == 0 && !bodyEnded() {
                            x.endAfterPartialBody()
                            return .failed
                        }
                    }
                    return .data
                }
            } else {
                upstreamInput.clear()
                let asked = min(upstreamInput.writableCount, allowed)
                switch try u.read(upstreamInput.writable, asked) {
                case .wouldBlock:
                    u.readReady = false
                    return .blocked
                case .processed(let got): n = got
                }
                if n > 0 {
                    request.upstreamReceived(n)
                    upstreamInput.writerIndex += n
                    x.countReceived(n)
                    u.noteRead(asked: asked, got: n)
                    if fastcgi.active {
                        if !deframe(x, from: upstreamInput.writerIndex - n) { return .failed }
                    }
                    return .data
                }
            }
            // The upstream closed: the end of a close-delimited body, else premature.
            if responseRemaining < 0 && responseChunked == nil {
                keepUpstream = false
                if !bodyEnded() {
                    x.endAfterPartialBody()
                    return .failed
                }
                return .data
            }
            x.logUpstream(.error, "upstream prematurely closed connection while reading upstream")
            x.endAfterPartialBody()
            return .failed
        } catch {
            x.logUpstream(.error, "\(error) while reading upstream")
            x.endAfterPartialBody()
            return .failed
        }
    }

    private func canAccept() -> Bool {
        if !buffering { return output.readableCount == 0 && spoolPending == 0 }
        if output.readableCount < memoryLimit && spoolPending == 0 { return true }
        return maxTempFileSize > 0 && spoolPending < maxTempFileSize
    }

    /// Decodes what is in `upstreamInput` into the client spool; false on a fatal error
    /// (the response was then abandoned).
    private func processBody(_ x: ProxyExchange) -> Bool {
        let inb = upstreamInput
        if var dec = responseChunked {
            var off = inb.readerIndex
            let buf = UnsafeRawBufferPointer(start: inb.base, count: inb.writerIndex)
            loop: while true {
                switch dec.next(buf, offset: &off) {
                case .data(let r):
                    if !emit(UnsafeRawBufferPointer(rebasing: buf[r])) {
                        x.endAfterPartialBody()
                        return false
                    }
                case .needMore:
                    break loop
                case .done:
                    responseChunked = dec
                    if off < inb.writerIndex { keepUpstream = false }
                    inb.clear()
                    if !bodyEnded() {
                        x.endAfterPartialBody()
                        return false
                    }
                    return true
                case .error:
                    responseChunked = dec
                    x.logUpstream(.error, "upstream sent invalid chunked response while reading upstream")
                    x.endAfterPartialBody()
                    return false
                }
            }
            responseChunked = dec
            inb.readerIndex = off
        } else if responseRemaining >= 0 {
            let take = Int(min(Int64(inb.readableCount), responseRemaining))
            if !emit(UnsafeRawBufferPointer(start: inb.base + inb.readerIndex, count: take)) {
                x.endAfterPartialBody()
                return false
            }
            responseRemaining -= Int64(take)
            inb.readerIndex += take
            if responseRemaining == 0 {
                if inb.readableCount > 0 {
                    x.logUpstream(.warn, "upstream sent more data than specified in \"Content-Length\" header")
                    keepUpstream = false
                    fastcgi.clean = false
                }
                inb.clear()
                if fastcgi.active {
                    // FastCGI: the body ends with END_REQUEST, maybe still to be read.
                    if !fastcgi.ended { return true }
                    if !recordsEnded(x) { return false }
                }
                if !bodyEnded() {
                    x.endAfterPartialBody()
                    return false
                }
                return true
            }
        } else {
            if !emit(UnsafeRawBufferPointer(start: inb.base + inb.readerIndex, count: inb.readableCount)) {
                x.endAfterPartialBody()
                return false
            }
            inb.readerIndex = inb.writerIndex
        }
        if inb.readableCount == 0 { inb.clear() }
        return true
    }

    /// The upstream's body ended: the coder's tail and the last chunk go into the
    /// spool; false when they could not be stored (the caller abandons the response).
    func bodyEnded() -> Bool {
        upstreamDone = true
        if let ssi, !ssiEnded(ssi) { return false }
        if !recodeCarry.isEmpty {
            // The body ended inside a UTF-8 character.
            recodeCarry.removeAll()
            if !Array("?".utf8).withUnsafeBytes({ encode($0) }) { return false }
        }
        if let encoder = encoder {
            encoded.removeAll(keepingCapacity: true)
            do { try encoder.finish(into: &encoded) } catch {
                request.logError("\(encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            }
            let tail = encoded
            if !tail.withUnsafeBytes({ frame($0) }) { return false }
        }
        if clientChunked && (sendTrailers || !passedTrailers.isEmpty) {
            let last = ResponseTrailers.lastChunk(request, upstream: passedTrailers, own: sendTrailers)
            return last.withUnsafeBytes { spool($0) }
        }
        if clientChunked { return spool(UnsafeRawBufferPointer(start: Self.lastChunk.utf8Start, count: 5)) }
        return true
    }

    static let lastChunk: StaticString = "0\r\n\r\n"

    /// Body bytes (compressed when a coding was chosen), framed for the client, into the
    /// spool; false on a failure (logged).
    func emit(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        if cacheWriter == nil && clientTake < 0 && ssi == nil && recoder == nil && encoder == nil && !clientChunked {
            // The usual body: nothing stores, cuts, filters, recodes, compresses or frames
            // it (what `frame` would do at the end of the chain below).
            request.bodyBytesSent += Int64(bytes.count)
            return spool(bytes)
        }
        var bytes = bytes
        if let w = cacheWriter {
            w.append(bytes)
            if cacheOnly { return true }
        }
        if clientTake >= 0 {
            // A byte range of the body (a cached or proxy_force_ranges answer) goes to the client.
            let skip = Int(min(clientSkip, Int64(bytes.count)))
            clientSkip -= Int64(skip)
            let take = Int(min(clientTake, Int64(bytes.count - skip)))
            clientTake -= Int64(take)
            bytes = UnsafeRawBufferPointer(rebasing: bytes[skip..<(skip + take)])
            if bytes.isEmpty { return true }
        }
        if let ssi { return ssiEmit(ssi, bytes) }
        return recodeAndEncode(bytes)
    }

    /// Bytes after the SSI filter: recoded, compressed, framed.
    func recodeAndEncode(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let recoder else { return encode(bytes) }
        // The charset module's recoding comes before compression.
        var recoded: [UInt8] = []
        recoded.reserveCapacity(bytes.count)
        recoder.recode(bytes, into: &recoded, carry: &recodeCarry, final: false)
        return recoded.withUnsafeBytes { encode($0) }
    }

    /// Bytes compressed when a coding was chosen, then framed.
    private func encode(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let encoder = encoder else { return frame(bytes) }
        encoded.removeAll(keepingCapacity: true)
        do {
            try encoder.compress(bytes, into: &encoded)
            // Unbuffered responses stream: each piece is flushed through the coder.
            if !buffering { try encoder.flush(into: &encoded) }
        } catch {
            request.logError("\(encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            return false
        }
        let out = encoded
        return out.isEmpty || out.withUnsafeBytes { frame($0) }
    }

    /// Bytes framed for the client (a chunk when chunked) into the spool.
    private func frame(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        request.bodyBytesSent += Int64(bytes.count)
        if !clientChunked { return spool(bytes) }
        var header: [UInt8] = []
        var n = bytes.count
        var digits: [UInt8] = []
        let hex = Array("0123456789abcdef".utf8)
        repeat {
            digits.append(hex[n & 15])
            n >>= 4
        } while n > 0
        header.append(contentsOf: digits.reversed())
        header.append(13)
        header.append(10)
        let crlf: [UInt8] = [13, 10]
        return header.withUnsafeBytes { spool($0) } && spool(bytes) && crlf.withUnsafeBytes { spool($0) }
    }

    /// Client-wire bytes: to memory, or to the temporary file once memory is full; false
    /// when the file cannot be written (logged).
    private func spool(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let toFile =
            spoolPending > 0
            || (buffering && maxTempFileSize > 0 && output.readableCount + bytes.count > memoryLimit)
        if !toFile {
            output.reserve(bytes.count)
            output.append(bytes)
            return true
        }
        do {
            if spoolFile < 0 {
                spoolFile = try FileSystem.openTemporary(in: worker.state.prefix + "proxy_temp")
            }
            if let base = bytes.baseAddress {
                try FileSystem.writeAll(spoolFile, base, bytes.count, at: spoolWritten)
            }
            spoolWritten += Int64(bytes.count)
            return true
        } catch {
            request.logError("\(error) while buffering a response to a temporary file", level: .crit)
            return false
        }
    }

    /// Writes memory, then the temporary file, to the client.
    func flush() -> FlushResult {
        if discarding {
            output.clear()
            spoolSent = spoolWritten
            return .done
        }
        if request.isSubrequest {
            // A subrequest's answer goes to its parent, not to the client; the body of
            // a header-only one (auth_request) is dropped as it comes.
            if request.headerOnlySubrequest { output.clear() }
            return .done
        }
        do {
            while output.readableCount > 0 {
                let allowed = request.clientAllowance()
                if allowed == 0 { return .blocked }
                switch try request.writeClient(
                    output.base + output.readerIndex, min(output.readableCount, allowed))
                {
                case .wouldBlock: return .blocked
                case .processed(let n):
                    output.readerIndex += n
                    request.clientSent(n)
                }
            }
            output.clear()
            request.writer.responseStart = 0
            while spoolPending > 0 {
                var offset = spoolSent
                let allowed = request.clientAllowance()
                if allowed == 0 { return .blocked }
                let count = Int(min(spoolPending, Int64(min(allowed, 1 << 30))))
                switch try request.sendfileClient(spoolFile, offset: &offset, count: count) {
                case .wouldBlock: return .blocked
                case .processed(0): return .failed
                case .processed(let n):
                    spoolSent += Int64(n)
                    request.clientSent(n)
                }
            }
            if spoolWritten > 0 {
                FileSystem.truncate(spoolFile)
                spoolWritten = 0
                spoolSent = 0
            }
            return .done
        } catch {
            request.logInfo("\(error) while sending to client")
            return .failed
        }
    }

    /// The whole response reached the client: release the upstream and go on.
    private func complete(_ x: ProxyExchange) {
        if cacheWriter != nil { x.cacheBodyEnded() }
        x.finishUpstream(reusable: keepUpstream)
        request.responseFinished()
    }

    // MARK: tunnel

    /// A 101 answer: both connections become a byte tunnel (the client's side buffered
    /// in the exchange's body memory, the upstream's in the output).
    func beginTunnel(_ x: ProxyExchange) {
        // Bytes the client sent after its upgrade request go upstream first.
        let up = x.bodyMemory
        up.clear()
        request.takeBufferedBody { up.append($0) }
        // Bytes the upstream sent after its 101 go to the client after the head.
        if upstreamInput.readableCount > 0 {
            // They count as body bytes, as every tunnelled byte does (nginx's $body_bytes_sent).
            request.bodyBytesSent += Int64(upstreamInput.readableCount)
            output.append(upstreamInput.readable)
            upstreamInput.clear()
        }
        request.keepAlive = false
        // A tunnel (a WebSocket) mostly waits: OpenSSL frees the client connection's
        // record buffers whenever they are empty, as for an idle connection.
        if request.stream == nil { request.tls?.releaseBuffersWhenEmpty() }
        x.phase = .tunnel
        x.wait(for: .tunnel, timeout: x.settings.readTimeout)
    }

    /// Copies bytes both ways until either side closes; false when waiting.
    func runTunnel(_ x: ProxyExchange) -> Bool {
        guard let u = x.upstream else { return true }
        let up = x.bodyMemory
        do {
            while true {
                var progress = false
                if output.readableCount == 0 && !upstreamDone {
                    output.clear()
                    output.reserve(16384)
                    switch try u.read(output.writable, output.writableCount) {
                    case .wouldBlock: break
                    case .processed(0): upstreamDone = true
                    case .processed(let n):
                        output.writerIndex += n
                        request.bodyBytesSent += Int64(n)
                        progress = true
                    }
                }
                if output.readableCount > 0 {
                    switch try request.writeClient(
                        output.base + output.readerIndex, output.readableCount)
                    {
                    case .wouldBlock: break
                    case .processed(let n):
                        output.readerIndex += n
                        progress = true
                    }
                }
                if upstreamDone && output.readableCount == 0 {
                    endTunnel(x)
                    return true
                }
                if up.readableCount == 0 && !clientDone {
                    up.clear()
                    up.reserve(16384)
                    switch try request.readBody(up.writable, up.writableCount) {
                    case .wouldBlock: break
                    case .processed(0):
                        // An HTTP/2 stream's END_STREAM is a half-close (RFC 8441 §5): the
                        // back end's answer to the client's last bytes (a WebSocket's
                        // close frame) still comes back. A client connection's FIN or a
                        // reset stream ends the tunnel, as nginx ends it.
                        guard let s = request.stream, !s.closed else {
                            endTunnel(x)
                            return true
                        }
                        clientDone = true
                        u.transport.shutdownWrite()
                        progress = true
                    case .processed(let n):
                        up.writerIndex += n
                        progress = true
                    }
                }
                if up.readableCount > 0 {
                    switch try u.write(up.base + up.readerIndex, up.readableCount) {
                    case .wouldBlock: break
                    case .processed(let n):
                        up.readerIndex += n
                        progress = true
                    }
                }
                if !progress {
                    request.schedule(after: x.settings.readTimeout)
                    return false
                }
            }
        } catch {
            endTunnel(x)
            return true
        }
    }

    private func endTunnel(_ x: ProxyExchange) {
        x.finishUpstream(reusable: false)
        request.keepAlive = false
        request.responseFinished()
    }
}
