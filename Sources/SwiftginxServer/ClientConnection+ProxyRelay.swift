// The body of a proxied response on its way to the client, and the tunnel a 101
// answer opens: read the upstream until it would block (straight into the client's
// buffer when no reframing is needed), decode its framing (length, chunked, until
// close), compress when a coding was chosen, frame for the client (length, chunked,
// until close), and write to the client first — spilling to a temporary file only while
// the client lags (`proxy_buffering on`, nginx's event pipe) or stopping the upstream
// reads (`off`). The head side is in ClientConnection+ProxyResponse.swift.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ClientConnection {
    // MARK: body relay

    enum FlushResult { case done, blocked, failed }

    /// Moves body bytes towards the client; true when the phase changed. The upstream
    /// is read until it would block (or memory and file are full) before the client is
    /// written, so large bodies go out in large writes.
    func relayResponse(_ p: ProxySession) -> Bool {
        guard let u = p.upstream else { return true }
        var readBlocked = false
        var clientBlocked = false
        let memory = p.settings.buffers.count * p.settings.buffers.size
        while true {
            // With memory full, the client is written first; a temporary file takes the
            // overflow only while the client is not taking bytes (nginx's event pipe).
            let memoryFull = output.readableCount >= memory || p.spoolPending > 0
            if !p.upstreamDone && !readBlocked && canAccept(p) && (!memoryFull || clientBlocked) {
                if p.upstreamInput.readableCount > 0 {
                    if !processResponseBody(p) { return true }
                    continue
                }
                switch readUpstreamBody(p, u) {
                case .data: continue
                case .blocked: readBlocked = true
                case .failed: return true
                }
            }
            let flushed = flushProxy(p)
            if flushed == .failed {
                abortProxy(status: request.status)
                return true
            }
            clientBlocked = flushed == .blocked
            if p.upstreamDone {
                if flushed == .blocked {
                    p.timer = .sending
                    worker.schedule(self, after: request.sendTimeout)
                    return false
                }
                completeProxy(p)
                return true
            }
            if flushed == .blocked {
                if readBlocked || !canAccept(p) {
                    p.timer = .sending
                    worker.schedule(self, after: request.sendTimeout)
                    return false
                }
                continue
            }
            if readBlocked {
                p.timer = .relaying
                worker.schedule(self, after: p.settings.readTimeout)
                return false
            }
        }
    }

    enum ReadOutcome { case data, blocked, failed }

    /// One read of body bytes from the upstream: straight into the client's output when
    /// no reframing is needed, else into `upstreamInput` for decoding.
    func readUpstreamBody(_ p: ProxySession, _ u: UpstreamConnection) -> ReadOutcome {
        guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return .blocked }
        let memory = p.settings.buffers.count * p.settings.buffers.size
        let direct =
            p.responseChunked == nil && !p.clientChunked && p.encoder == nil && p.spoolPending == 0
            && output.readableCount < memory
        do {
            let n: Int
            if direct {
                if output.readableCount == 0 { output.clear() }
                output.reserve(min(memory, 65536))
                var want = min(output.writableCount, max(memory - output.readableCount, 4096))
                if p.responseRemaining >= 0 { want = Int(min(Int64(want), p.responseRemaining)) }
                switch try upstreamRead(u, output.writable, want) {
                case .wouldBlock:
                    u.readReady = false
                    return .blocked
                case .processed(let got): n = got
                }
                if n > 0 {
                    output.writerIndex += n
                    bodyBytesSent += Int64(n)
                    p.responseLengths[p.responseLengths.count - 1] += Int64(n)
                    if p.responseRemaining >= 0 {
                        p.responseRemaining -= Int64(n)
                        if p.responseRemaining == 0 { upstreamBodyEnded(p) }
                    }
                    return .data
                }
            } else {
                p.upstreamInput.clear()
                switch try upstreamRead(u, p.upstreamInput.writable, p.upstreamInput.writableCount) {
                case .wouldBlock:
                    u.readReady = false
                    return .blocked
                case .processed(let got): n = got
                }
                if n > 0 {
                    p.upstreamInput.writerIndex += n
                    p.responseLengths[p.responseLengths.count - 1] += Int64(n)
                    return .data
                }
            }
            // The upstream closed: the end of a close-delimited body, else premature.
            if p.responseRemaining < 0 && p.responseChunked == nil {
                upstreamBodyEnded(p)
                p.keepUpstream = false
                return .data
            }
            logUpstream(.error, "upstream prematurely closed connection while reading upstream", p)
            endAfterPartialBody(p)
            return .failed
        } catch {
            logUpstream(.error, "\(error) while reading upstream", p)
            endAfterPartialBody(p)
            return .failed
        }
    }

    /// The upstream broke off mid-body: what was received goes out, then the client
    /// connection closes (its framing cannot be completed).
    func endAfterPartialBody(_ p: ProxySession) {
        releasePeer(p, failed: false)
        if let u = p.upstream { worker.closeUpstream(u) }
        p.upstream = nil
        _ = flushProxy(p)
        abortProxy(status: request.status)
    }

    func canAccept(_ p: ProxySession) -> Bool {
        if !p.buffering { return output.readableCount == 0 && p.spoolPending == 0 }
        let memory = p.settings.buffers.count * p.settings.buffers.size
        if output.readableCount < memory && p.spoolPending == 0 { return true }
        return p.settings.maxTempFileSize > 0 && p.spoolPending < p.settings.maxTempFileSize
    }

    /// Decodes what is in `upstreamInput` into the client spool; false on a fatal error.
    func processResponseBody(_ p: ProxySession) -> Bool {
        let inb = p.upstreamInput
        if var dec = p.responseChunked {
            var off = inb.readerIndex
            let buf = UnsafeRawBufferPointer(start: inb.base, count: inb.writerIndex)
            loop: while true {
                switch dec.next(buf, offset: &off) {
                case .data(let r):
                    if !emit(p, UnsafeRawBufferPointer(rebasing: buf[r])) { return false }
                case .needMore:
                    break loop
                case .done:
                    p.responseChunked = dec
                    if off < inb.writerIndex { p.keepUpstream = false }
                    inb.clear()
                    upstreamBodyEnded(p)
                    return true
                case .error:
                    p.responseChunked = dec
                    logUpstream(.error, "upstream sent invalid chunked response while reading upstream", p)
                    endAfterPartialBody(p)
                    return false
                }
            }
            p.responseChunked = dec
            inb.readerIndex = off
        } else if p.responseRemaining >= 0 {
            let take = Int(min(Int64(inb.readableCount), p.responseRemaining))
            if !emit(p, UnsafeRawBufferPointer(start: inb.base + inb.readerIndex, count: take)) { return false }
            p.responseRemaining -= Int64(take)
            inb.readerIndex += take
            if p.responseRemaining == 0 {
                if inb.readableCount > 0 {
                    logUpstream(.warn, "upstream sent more data than specified in \"Content-Length\" header", p)
                    p.keepUpstream = false
                }
                inb.clear()
                upstreamBodyEnded(p)
                return true
            }
        } else {
            if !emit(p, UnsafeRawBufferPointer(start: inb.base + inb.readerIndex, count: inb.readableCount)) {
                return false
            }
            inb.readerIndex = inb.writerIndex
        }
        if inb.readableCount == 0 { inb.clear() }
        return true
    }

    func upstreamBodyEnded(_ p: ProxySession) {
        p.upstreamDone = true
        if let encoder = p.encoder {
            p.encoded.removeAll(keepingCapacity: true)
            do { try encoder.finish(into: &p.encoded) } catch {
                logError("\(encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            }
            let tail = p.encoded
            _ = tail.withUnsafeBytes { frame(p, $0) }
        }
        if p.clientChunked { _ = spool(p, UnsafeRawBufferPointer(start: Self.lastChunk.utf8Start, count: 5)) }
    }

    static let lastChunk: StaticString = "0\r\n\r\n"

    /// Body bytes (compressed when a coding was chosen), framed for the client, into the spool.
    func emit(_ p: ProxySession, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        guard let encoder = p.encoder else { return frame(p, bytes) }
        p.encoded.removeAll(keepingCapacity: true)
        do {
            try encoder.compress(bytes, into: &p.encoded)
            // Unbuffered responses stream: each piece is flushed through the coder.
            if !p.buffering { try encoder.flush(into: &p.encoded) }
        } catch {
            logError("\(encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            endAfterPartialBody(p)
            return false
        }
        let out = p.encoded
        return out.isEmpty || out.withUnsafeBytes { frame(p, $0) }
    }

    /// Bytes framed for the client (a chunk when chunked) into the spool.
    func frame(_ p: ProxySession, _ bytes: UnsafeRawBufferPointer) -> Bool {
        guard !bytes.isEmpty else { return true }
        bodyBytesSent += Int64(bytes.count)
        if !p.clientChunked { return spool(p, bytes) }
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
        return header.withUnsafeBytes { spool(p, $0) } && spool(p, bytes) && crlf.withUnsafeBytes { spool(p, $0) }
    }

    /// Client-wire bytes: to memory, or to the temporary file once memory is full.
    func spool(_ p: ProxySession, _ bytes: UnsafeRawBufferPointer) -> Bool {
        let memory = p.settings.buffers.count * p.settings.buffers.size
        let toFile =
            p.spoolPending > 0
            || (p.buffering && p.settings.maxTempFileSize > 0 && output.readableCount + bytes.count > memory)
        if !toFile {
            output.reserve(bytes.count)
            output.append(bytes)
            return true
        }
        do {
            if p.spoolFile < 0 {
                p.spoolFile = try FileSystem.openTemporary(in: worker.state.prefix + "proxy_temp")
            }
            if let base = bytes.baseAddress {
                try FileSystem.writeAll(p.spoolFile, base, bytes.count, at: p.spoolWritten)
            }
            p.spoolWritten += Int64(bytes.count)
            return true
        } catch {
            logError("\(error) while buffering a response to a temporary file", level: .crit)
            endAfterPartialBody(p)
            return false
        }
    }

    /// Writes memory, then the temporary file, to the client.
    func flushProxy(_ p: ProxySession) -> FlushResult {
        do {
            while output.readableCount > 0 {
                switch try clientWrite(output.base + output.readerIndex, output.readableCount) {
                case .wouldBlock: return .blocked
                case .processed(let n): output.readerIndex += n
                }
            }
            output.clear()
            responseStart = 0
            while p.spoolPending > 0 {
                var offset = p.spoolSent
                switch try clientSendfile(p.spoolFile, offset: &offset, count: Int(min(p.spoolPending, 1 << 30))) {
                case .wouldBlock: return .blocked
                case .processed(0): return .failed
                case .processed(let n): p.spoolSent += Int64(n)
                }
            }
            if p.spoolWritten > 0 {
                FileSystem.truncate(p.spoolFile)
                p.spoolWritten = 0
                p.spoolSent = 0
            }
            return .done
        } catch {
            logInfo("\(error) while sending to client")
            return .failed
        }
    }

    /// The whole response reached the client: release the upstream and go on.
    func completeProxy(_ p: ProxySession) {
        finishUpstream(p, reusable: p.keepUpstream)
        state = .sending
        finishResponse()
    }

    /// Ends the upstream's part: the peer is released, the connection cached or closed.
    func finishUpstream(_ p: ProxySession, reusable: Bool) {
        let last = p.responseTimes.count - 1
        if last >= 0 { p.responseTimes[last] = worker.clock.milliseconds - p.tryStartedAt }
        releasePeer(p, failed: false)
        if let u = p.upstream {
            rememberUpstreamSession(p, u)
            u.requests += 1
            if !(reusable && p.upstreamInput.readableCount == 0 && worker.cacheUpstream(u)) { worker.closeUpstream(u) }
        }
        p.upstream = nil
        p.phase = .finished
        restoreLeftover(p)
    }

    // MARK: tunnel

    func beginTunnel(_ p: ProxySession) {
        // Bytes the client sent after its upgrade request go upstream first.
        let after = headBase + head.headLength
        p.bodyMemory.clear()
        if input.writerIndex > after {
            p.bodyMemory.append(UnsafeRawBufferPointer(start: input.base + after, count: input.writerIndex - after))
            input.writerIndex = after
        }
        // Bytes the upstream sent after its 101 go to the client after the head.
        if p.upstreamInput.readableCount > 0 {
            output.append(p.upstreamInput.readable)
            p.upstreamInput.clear()
        }
        request.keepAlive = false
        p.phase = .tunnel
        p.timer = .tunnel
        worker.schedule(self, after: p.settings.readTimeout)
    }

    /// Copies bytes both ways until either side closes; false when waiting.
    func runTunnel(_ p: ProxySession) -> Bool {
        guard let u = p.upstream else { return true }
        let up = p.bodyMemory
        do {
            while true {
                var progress = false
                if output.readableCount == 0 && !p.upstreamDone {
                    output.clear()
                    output.reserve(16384)
                    switch try upstreamRead(u, output.writable, output.writableCount) {
                    case .wouldBlock: break
                    case .processed(0): p.upstreamDone = true
                    case .processed(let n):
                        output.writerIndex += n
                        bodyBytesSent += Int64(n)
                        progress = true
                    }
                }
                if output.readableCount > 0 {
                    switch try clientWrite(output.base + output.readerIndex, output.readableCount) {
                    case .wouldBlock: break
                    case .processed(let n):
                        output.readerIndex += n
                        progress = true
                    }
                }
                if p.upstreamDone && output.readableCount == 0 {
                    endTunnel(p)
                    return true
                }
                if up.readableCount == 0 {
                    up.clear()
                    up.reserve(16384)
                    switch try clientRead(up.writable, up.writableCount) {
                    case .wouldBlock: break
                    case .processed(0):
                        endTunnel(p)
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
                    worker.schedule(self, after: p.settings.readTimeout)
                    return false
                }
            }
        } catch {
            endTunnel(p)
            return true
        }
    }

    func endTunnel(_ p: ProxySession) {
        finishUpstream(p, reusable: false)
        request.keepAlive = false
        state = .sending
        finishResponse()
    }
}
