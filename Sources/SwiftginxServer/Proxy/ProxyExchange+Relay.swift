// The body of a proxied response on its way to the client, and the tunnel a 101
// answer opens: read the upstream until it would block (straight into the client's
// buffer when no reframing is needed), decode its framing (length, chunked, until
// close), compress when a coding was chosen, frame for the client (length, chunked,
// until close), and write to the client first — spilling to a temporary file only while
// the client lags (`proxy_buffering on`, nginx's event pipe) or stopping the upstream
// reads (`off`). The head side is in ProxyExchange+ResponseHead.swift.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ProxyExchange {
    // MARK: body relay

    enum FlushResult { case done, blocked, failed }

    /// Moves body bytes towards the client; true when the phase changed. The upstream
    /// is read until it would block (or memory and file are full) before the client is
    /// written, so large bodies go out in large writes.
    func relayResponse() -> Bool {
        guard let u = upstream else { return true }
        var readBlocked = false
        var clientBlocked = false
        let memory = settings.buffers.count * settings.buffers.size
        while true {
            // With memory full, the client is written first; a temporary file takes the
            // overflow only while the client is not taking bytes (nginx's event pipe).
            let memoryFull = output.readableCount >= memory || spoolPending > 0
            if !upstreamDone && !readBlocked && canAccept() && (!memoryFull || clientBlocked) {
                if upstreamInput.readableCount > 0 {
                    if !processResponseBody() { return true }
                    continue
                }
                switch readUpstreamBody(u) {
                case .data: continue
                case .blocked: readBlocked = true
                case .failed: return true
                }
            }
            let flushed = flushProxy()
            if flushed == .failed {
                abortProxy(status: request.status)
                return true
            }
            clientBlocked = flushed == .blocked
            if upstreamDone {
                if flushed == .blocked {
                    timer = .sending
                    request.schedule(after: request.sendTimeout)
                    return false
                }
                completeProxy()
                return true
            }
            if flushed == .blocked {
                if readBlocked || !canAccept() {
                    timer = .sending
                    request.schedule(after: request.sendTimeout)
                    return false
                }
                continue
            }
            if readBlocked {
                timer = .relaying
                request.schedule(after: settings.readTimeout)
                return false
            }
        }
    }

    enum ReadOutcome { case data, blocked, failed }

    /// One read of body bytes from the upstream: straight into the client's output when
    /// no reframing is needed, else into `upstreamInput` for decoding.
    func readUpstreamBody(_ u: UpstreamConnection) -> ReadOutcome {
        guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return .blocked }
        let memory = settings.buffers.count * settings.buffers.size
        let direct =
            responseChunked == nil && !clientChunked && encoder == nil && spoolPending == 0
            && output.readableCount < memory
        do {
            let n: Int
            if direct {
                if output.readableCount == 0 { output.clear() }
                output.reserve(min(memory, 65536))
                var want = min(output.writableCount, max(memory - output.readableCount, 4096))
                if responseRemaining >= 0 { want = Int(min(Int64(want), responseRemaining)) }
                switch try upstreamRead(u, output.writable, want) {
                case .wouldBlock:
                    u.readReady = false
                    return .blocked
                case .processed(let got): n = got
                }
                if n > 0 {
                    output.writerIndex += n
                    request.bodyBytesSent += Int64(n)
                    responseLengths[responseLengths.count - 1] += Int64(n)
                    if responseRemaining >= 0 {
                        responseRemaining -= Int64(n)
                        if responseRemaining == 0 { upstreamBodyEnded() }
                    }
                    return .data
                }
            } else {
                upstreamInput.clear()
                switch try upstreamRead(u, upstreamInput.writable, upstreamInput.writableCount) {
                case .wouldBlock:
                    u.readReady = false
                    return .blocked
                case .processed(let got): n = got
                }
                if n > 0 {
                    upstreamInput.writerIndex += n
                    responseLengths[responseLengths.count - 1] += Int64(n)
                    return .data
                }
            }
            // The upstream closed: the end of a close-delimited body, else premature.
            if responseRemaining < 0 && responseChunked == nil {
                upstreamBodyEnded()
                keepUpstream = false
                return .data
            }
            logUpstream(.error, "upstream prematurely closed connection while reading upstream")
            endAfterPartialBody()
            return .failed
        } catch {
            logUpstream(.error, "\(error) while reading upstream")
            endAfterPartialBody()
            return .failed
        }
    }

    /// The upstream broke off mid-body: what was received goes out, then the client
    /// connection closes (its framing cannot be completed).
    func endAfterPartialBody() {
        releasePeer(failed: false)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        _ = flushProxy()
        abortProxy(status: request.status)
    }

    func canAccept() -> Bool {
        if !buffering { return output.readableCount == 0 && spoolPending == 0 }
        let memory = settings.buffers.count * settings.buffers.size
        if output.readableCount < memory && spoolPending == 0 { return true }
        return settings.maxTempFileSize > 0 && spoolPending < settings.maxTempFileSize
    }

    /// Decodes what is in `upstreamInput` into the client spool; false on a fatal error.
    func processResponseBody() -> Bool {
        let inb = upstreamInput
        if var dec = responseChunked {
            var off = inb.readerIndex
            let buf = UnsafeRawBufferPointer(start: inb.base, count: inb.writerIndex)
            loop: while true {
                switch dec.next(buf, offset: &off) {
                case .data(let r):
                    if !emit(UnsafeRawBufferPointer(rebasing: buf[r])) { return false }
                case .needMore:
                    break loop
                case .done:
                    responseChunked = dec
                    if off < inb.writerIndex { keepUpstream = false }
                    inb.clear()
                    upstreamBodyEnded()
                    return true
                case .error:
                    responseChunked = dec
                    logUpstream(.error, "upstream sent invalid chunked response while reading upstream")
                    endAfterPartialBody()
                    return false
                }
            }
            responseChunked = dec
            inb.readerIndex = off
        } else if responseRemaining >= 0 {
            let take = Int(min(Int64(inb.readableCount), responseRemaining))
            if !emit(UnsafeRawBufferPointer(start: inb.base + inb.readerIndex, count: take)) { return false }
            responseRemaining -= Int64(take)
            inb.readerIndex += take
            if responseRemaining == 0 {
                if inb.readableCount > 0 {
                    logUpstream(.warn, "upstream sent more data than specified in \"Content-Length\" header")
                    keepUpstream = false
                }
                inb.clear()
                upstreamBodyEnded()
                return true
            }
        } else {
            if !emit(UnsafeRawBufferPointer(start: inb.base + inb.readerIndex, count: inb.readableCount)) {
                return false
            }
            inb.readerIndex = inb.writerIndex
        }
        if inb.readableCount == 0 { inb.clear() }
        return true
    }

    func upstreamBodyEnded() {
        upstreamDone = true
        if let encoder = encoder {
            encoded.removeAll(keepingCapacity: true)
            do { try encoder.finish(into: &encoded) } catch {
                request.logError("\(encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            }
            let tail = encoded
            _ = tail.withUnsafeBytes { frame($0) }
        }
        if clientChunked { _ = spool(UnsafeRawBufferPointer(start: Self.lastChunk.utf8Start, count: 5)) }
    }

    static let lastChunk: StaticString = "0\r\n\r\n"

    /// Body bytes (compressed when a coding was chosen), framed for the client, into the spool.
    func emit(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        guard let encoder = encoder else { return frame(bytes) }
        encoded.removeAll(keepingCapacity: true)
        do {
            try encoder.compress(bytes, into: &encoded)
            // Unbuffered responses stream: each piece is flushed through the coder.
            if !buffering { try encoder.flush(into: &encoded) }
        } catch {
            request.logError("\(encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            endAfterPartialBody()
            return false
        }
        let out = encoded
        return out.isEmpty || out.withUnsafeBytes { frame($0) }
    }

    /// Bytes framed for the client (a chunk when chunked) into the spool.
    func frame(_ bytes: UnsafeRawBufferPointer) -> Bool {
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

    /// Client-wire bytes: to memory, or to the temporary file once memory is full.
    func spool(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let memory = settings.buffers.count * settings.buffers.size
        let toFile =
            spoolPending > 0
            || (buffering && settings.maxTempFileSize > 0 && output.readableCount + bytes.count > memory)
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
            endAfterPartialBody()
            return false
        }
    }

    /// Writes memory, then the temporary file, to the client.
    func flushProxy() -> FlushResult {
        if request.isSubrequest {
            // A subrequest's answer goes to its parent, not to the client; the body of
            // a header-only one (auth_request) is dropped as it comes.
            if request.headerOnlySubrequest { output.clear() }
            return .done
        }
        do {
            while output.readableCount > 0 {
                switch try request.writeClient(
                    output.base + output.readerIndex, output.readableCount)
                {
                case .wouldBlock: return .blocked
                case .processed(let n): output.readerIndex += n
                }
            }
            output.clear()
            request.writer.responseStart = 0
            while spoolPending > 0 {
                var offset = spoolSent
                switch try request.sendfileClient(spoolFile, offset: &offset, count: Int(min(spoolPending, 1 << 30))) {
                case .wouldBlock: return .blocked
                case .processed(0): return .failed
                case .processed(let n): spoolSent += Int64(n)
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
    func completeProxy() {
        finishUpstream(reusable: keepUpstream)
        request.responseFinished()
    }

    /// Ends the upstream's part: the peer is released, the connection cached or closed.
    func finishUpstream(reusable: Bool) {
        let last = responseTimes.count - 1
        if last >= 0 { responseTimes[last] = worker.clock.milliseconds - tryStartedAt }
        releasePeer(failed: false)
        if let u = upstream {
            rememberUpstreamSession(u)
            u.requests += 1
            if !(reusable && upstreamInput.readableCount == 0 && worker.cacheUpstream(u)) { worker.closeUpstream(u) }
        }
        upstream = nil
        phase = .finished
        restoreLeftover()
    }

    // MARK: tunnel

    func beginTunnel() {
        // Bytes the client sent after its upgrade request go upstream first.
        bodyMemory.clear()
        request.takeBufferedBody { bodyMemory.append($0) }
        // Bytes the upstream sent after its 101 go to the client after the head.
        if upstreamInput.readableCount > 0 {
            output.append(upstreamInput.readable)
            upstreamInput.clear()
        }
        request.keepAlive = false
        phase = .tunnel
        timer = .tunnel
        request.schedule(after: settings.readTimeout)
    }

    /// Copies bytes both ways until either side closes; false when waiting.
    func runTunnel() -> Bool {
        guard let u = upstream else { return true }
        let up = bodyMemory
        do {
            while true {
                var progress = false
                if output.readableCount == 0 && !upstreamDone {
                    output.clear()
                    output.reserve(16384)
                    switch try upstreamRead(u, output.writable, output.writableCount) {
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
                    endTunnel()
                    return true
                }
                if up.readableCount == 0 {
                    up.clear()
                    up.reserve(16384)
                    switch try request.readBody(up.writable, up.writableCount) {
                    case .wouldBlock: break
                    case .processed(0):
                        endTunnel()
                        return true
                    case .processed(let n):
                        up.writerIndex += n
                        progress = true
                    }
                }
                if up.readableCount > 0 {
                    switch try upstreamWrite(u, up.base + up.readerIndex, up.readableCount) {
                    case .wouldBlock: break
                    case .processed(let n):
                        up.readerIndex += n
                        progress = true
                    }
                }
                if !progress {
                    request.schedule(after: settings.readTimeout)
                    return false
                }
            }
        } catch {
            endTunnel()
            return true
        }
    }

    func endTunnel() {
        finishUpstream(reusable: false)
        request.keepAlive = false
        request.responseFinished()
    }
}
