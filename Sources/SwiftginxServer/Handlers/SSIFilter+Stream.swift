// A static SSI page sent as it becomes ready, nginx's postponed output: when the page
// has been parsed but includes still run, its head goes out at once, then its text up to
// the first include still running; each include's answer goes out when it is next in the
// page — straight from the subrequest (the bytes it holds, then the file region or the
// temporary file it would have sent), never copied into the page — and the text after
// it follows. An include that finishes before those ahead of it keeps its answer in its
// subrequest meanwhile: in memory up to its location's `proxy_buffers`, the rest in a
// temporary file in `proxy_temp_path` (the relay spools a subrequest's body as it spools
// a lagging client's). Over HTTP/1.x only (an HTTP/2 stream's page is sent whole when
// its last include has answered). The socket is written directly, with back-pressure:
// what it does not take waits for the next writable event, under `send_timeout`.

import SwiftginxPosix

final class SSIStream {
    enum Piece {
        case bytes([UInt8])
        case file(fd: Int32, offset: Int64, count: Int64)
        /// The include's answer is out: its subrequest is let go.
        case release(Subrequest)
    }

    let chunked: Bool
    /// Bytes of the filter's `output` queued so far.
    var queued = 0
    var pieces: [Piece] = []
    /// Bytes of the first piece already written.
    var written = 0
    /// The end of the body is queued.
    var ending = false

    init(chunked: Bool) { self.chunked = chunked }

    /// A page is streamed when it is the client's (not a subrequest's) over HTTP/1.x,
    /// and no file region of an earlier pipelined answer waits in the writer.
    static func applies(to r: Request) -> Bool {
        !r.isSubrequest && r.stream == nil && !r.isHeadOnly && r.trace == nil && r.writer.fileEntry == nil
    }

    func queueBytes(_ bytes: ArraySlice<UInt8>) {
        guard !bytes.isEmpty else { return }
        guard chunked else {
            pieces.append(.bytes(Array(bytes)))
            return
        }
        var framed = Array(String(bytes.count, radix: 16).utf8)
        framed.reserveCapacity(framed.count + bytes.count + 4)
        framed += [13, 10]
        framed += bytes
        framed += [13, 10]
        pieces.append(.bytes(framed))
    }

    func queueFile(_ fd: Int32, offset: Int64, count: Int64) {
        guard count > 0 else { return }
        if chunked { pieces.append(.bytes(Array(String(count, radix: 16).utf8) + [13, 10])) }
        pieces.append(.file(fd: fd, offset: offset, count: count))
        if chunked { pieces.append(.bytes([13, 10])) }
    }
}

extension SSIFilter {
    /// The page has been parsed and includes still run: the head goes out now and the
    /// page follows as it is ready.
    func startStream(writeHead: (Request) -> Bool) {
        let r = request
        let st = SSIStream(chunked: writeHead(r))
        stream = st
        r.ssiFilter = self
        if case .waitingForSubrequest = r.activeContent {} else { r.activate(.waitingForSubrequest) }
        // The head, from the writer.
        let out = r.output
        if out.readableCount > 0 {
            st.pieces.append(.bytes(Array(out.readable)))
            out.clear()
            r.writer.responseStart = 0
        }
        pumpStream()
    }

    /// Queues what is ready and writes what the socket takes; at the end, the request
    /// finishes (or waits for background cache updates of its includes).
    func pumpStream() {
        guard let st = stream, !completed else { return }
        let r = request
        while true {
            let readyEnd = holes.first?.offset ?? output.count
            if st.queued < readyEnd {
                st.queueBytes(output[st.queued..<readyEnd])
                r.bodyBytesSent += Int64(readyEnd - st.queued)
                st.queued = readyEnd
                continue
            }
            guard let h = holes.first, h.sub.finished else { break }
            holes.removeFirst()
            queueAnswer(st, h.sub)
        }
        if !st.ending && parsed && holes.isEmpty && st.queued == output.count {
            st.ending = true
            if st.chunked { st.pieces.append(.bytes(Array("0\r\n\r\n".utf8))) }
        }
        let before = st.pieces.count
        let written = st.written
        switch write(st) {
        case .blocked:
            // send_timeout runs from the last write that made progress, as nginx's.
            if st.pieces.count != before || st.written != written { r.ownDeadline = 0 }
            r.armSendTimer()
        case .failed:
            r.keepAlive = false
            r.aborted = true
            endStream(st)
        case .done:
            r.ownDeadline = 0
            if st.ending { endStream(st) }
        }
    }

    /// The client did not take the page within send_timeout.
    func streamTimedOut() {
        guard let st = stream, !completed else { return }
        request.logInfo("client timed out (110: Connection timed out) while sending response to client")
        request.keepAlive = false
        request.aborted = true
        endStream(st)
    }

    /// An include's answer, from its subrequest: what it wrote after its head, its
    /// temporary file, the file region it would have sent.
    private func queueAnswer(_ st: SSIStream, _ sub: Subrequest) {
        let child = sub.request
        let w = child.writer
        let readable = w.output.readable
        let start = min(w.responseStart + w.responseHeadLength, readable.count)
        st.queueBytes(Array(readable[start...])[...])
        var count = Int64(readable.count - start)
        if let resp = child.proxy?.response, resp.spoolFile >= 0, resp.spoolPending > 0 {
            st.queueFile(resp.spoolFile, offset: resp.spoolSent, count: resp.spoolPending)
            count += resp.spoolPending
        }
        if let e = w.fileEntry, w.fileRemaining > 0 {
            st.queueFile(e.fd, offset: w.fileOffset, count: w.fileRemaining)
            count += w.fileRemaining
        }
        request.bodyBytesSent += count
        st.pieces.append(.release(sub))
    }

    private enum WriteResult { case done, blocked, failed }

    private func write(_ st: SSIStream) -> WriteResult {
        let r = request
        do {
            while !st.pieces.isEmpty {
                switch st.pieces[0] {
                case .bytes(let b):
                    let result = try b.withUnsafeBytes { p in
                        try r.writeClient(p.baseAddress! + st.written, b.count - st.written)
                    }
                    guard case .processed(let n) = result else { return .blocked }
                    st.written += n
                    if st.written < b.count { continue }
                case .file(let fd, var offset, let count):
                    guard case .processed(let n) = try r.sendfileClient(fd, offset: &offset, count: Int(count)) else {
                        return .blocked
                    }
                    if n == 0 { return .failed }
                    if Int64(n) < count {
                        st.pieces[0] = .file(fd: fd, offset: offset, count: count - Int64(n))
                        continue
                    }
                case .release(let sub):
                    SSISubrequest.release(r, sub)
                }
                st.pieces.removeFirst()
                st.written = 0
            }
            return .done
        } catch {
            return .failed
        }
    }

    /// The page is out (or the client is gone): the request ends, or waits for the
    /// background cache updates of its includes.
    private func endStream(_ st: SSIStream) {
        let r = request
        completed = true
        r.ownDeadline = 0
        if r.aborted {
            // What was not sent goes; the includes still running stop.
            for case .release(let sub) in st.pieces { SSISubrequest.release(r, sub) }
            st.pieces.removeAll()
            holes.removeAll()
            r.abandonConcurrentSubrequests()
        }
        if r.hasUpdatingSubrequests { return }
        if r.ssiFilter === self { r.ssiFilter = nil }
        r.activeContent = .none
        r.flushResponse()
    }
}

extension Request {
    /// The client did not take all of a streamed page: `send_timeout` runs, on this
    /// request's own deadline (the connection's timer is shared with its subrequests).
    func armSendTimer() {
        if ownDeadline == 0 { ownDeadline = worker.now + Int64(sendTimeout) }
        rearmSubrequestTimers()
    }
}
