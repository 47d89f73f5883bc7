// The request body as the HTTP/1 connection handles it, and the transport calls it
// lends to the request's content handler: body bytes that came with the head are
// handed over (a proxy exchange stores or streams them), bytes read past a body go back
// for the next request, and a body nobody read is discarded (Content-Length or chunked)
// before the next request is read.

import SwiftginxHTTP
import SwiftginxPosix

extension HTTP1Connection {
    /// Request body bytes that arrived with the head are taken out of `input` (the
    /// head stays); the content handler stores them.
    func takeBufferedBody(_ body: (UnsafeRawBufferPointer) -> Void) {
        let bodyStart = headBase + request.head.headLength
        guard input.writerIndex > bodyStart else { return }
        body(UnsafeRawBufferPointer(start: input.base + bodyStart, count: input.writerIndex - bodyStart))
        input.writerIndex = bodyStart
    }

    /// The chunked framing of the body bytes that came with the head, checked without
    /// consuming them: the error when they are already malformed (nginx finds it when a
    /// handler first reads or discards the body, before it answers).
    func bufferedChunkedBodyError() -> RequestParseError? {
        let bodyStart = headBase + request.head.headLength
        guard input.writerIndex > bodyStart else { return nil }
        let buf = UnsafeRawBufferPointer(start: input.base + bodyStart, count: input.writerIndex - bodyStart)
        var dec = ChunkedDecoder()
        var off = 0
        while true {
            switch dec.next(buf, offset: &off) {
            case .data: continue
            case .needMore, .done: return nil
            case .error(let e): return e
            }
        }
    }

    /// Transport calls for the request's content handler (made in place: the
    /// transport is not copied out of the connection).
    @inline(__always) func read(_ buf: UnsafeMutableRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        try transport.read(buf, count)
    }

    @inline(__always) func write(_ buf: UnsafeRawPointer, _ count: Int) throws(SystemError) -> IOResult<Int> {
        try transport.write(buf, count)
    }

    func sendfile(_ file: Int32, offset: inout Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        try transport.sendfile(file, offset: &offset, count: count, bounce: worker.tlsBuffer)
    }

    /// Bytes read past the end of a body belong to the next request.
    func returnUnreadInput(_ bytes: [UInt8]) {
        input.append(bytes)
    }

    /// Consumes the request body; true when all of it is gone.
    func discardBody() -> Bool {
        while true {
            if var dec = chunked {
                var off = input.readerIndex
                let buf = UnsafeRawBufferPointer(start: input.base, count: input.writerIndex)
                var finished = false
                loop: while true {
                    switch dec.next(buf, offset: &off) {
                    case .data: continue
                    case .needMore: break loop
                    case .done:
                        finished = true
                        break loop
                    case .error(let e):
                        logInfo(e.logMessage)
                        chunked = nil
                        close()
                        return false
                    }
                }
                chunked = dec
                input.readerIndex = off
                if finished {
                    chunked = nil
                    return true
                }
            } else {
                let take = Int(min(Int64(input.readableCount), bodyRemaining))
                input.readerIndex += take
                bodyRemaining -= Int64(take)
                if bodyRemaining == 0 { return true }
            }
            // The head's bytes go with the buffer's compaction: log lines from here on do
            // not name the request.
            request.head.headLength = 0
            if input.readableCount == 0 { input.clear() } else { input.compact() }
            input.reserve(4096)
            do {
                let want = chunked == nil ? Int(min(Int64(input.writableCount), bodyRemaining)) : input.writableCount
                switch try transport.read(input.writable, want) {
                case .wouldBlock: return false
                case .processed(0):
                    close()
                    return false
                case .processed(let n):
                    input.writerIndex += n
                    worker.schedule(self, after: request.bodyTimeout)
                }
            } catch {
                close()
                return false
            }
        }
    }
}
