// `add_trailer`: fields sent after the body, as nginx's headers and chunked filters
// send them. When a location has trailers that apply to the status (2xx/3xx ones
// listed by nginx, or `always`), the client speaks HTTP/1.1, `chunked_transfer_encoding`
// is on and the answer has a body (not HEAD, 204, 304 or 1xx), the response loses its
// Content-Length and is chunked, ending with "0", the trailer fields and a blank line.
// An answer made in memory or a single file region (static files, return, error pages)
// is re-framed when it is handed to the connection (`frameAnswer`); a proxied answer is
// chunked from its head on and ends with the trailers (UpstreamResponse). Trailers are
// evaluated in order, so `$sent_trailer_<name>` sees the ones before it. Only
// locations with `add_trailer` come here.

import SwiftginxConfig
import SwiftginxHTTP

enum ResponseTrailers {
    /// Whether the request's answer with `status` is sent chunked with trailers.
    static func apply(_ r: Request, status: Int) -> Bool {
        guard let l = r.location, !l.settings.addTrailers.isEmpty, !r.isSubrequest else { return false }
        guard r.head.version != .http10, r.head.version.major >= 1, l.settings.chunkedTransferEncoding,
            !r.isHeadOnly, status >= 200, status != 204, status != 304
        else { return false }
        let safe = isSafe(status)
        return l.settings.addTrailers.contains { $0.always || safe }
    }

    /// nginx's statuses that take every trailer (others only the `always` ones).
    private static func isSafe(_ status: Int) -> Bool {
        switch status {
        case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308: true
        default: false
        }
    }

    /// "0\r\n", the trailer fields with a value, and the blank line.
    /// `upstream`: an upstream's trailer lines passed on (proxy_pass_trailers), first, as
    /// nginx lists them; `own`: the location's add_trailer lines apply.
    static func lastChunk(_ r: Request, upstream: [UInt8] = [], own: Bool = true) -> [UInt8] {
        r.sentTrailers.removeAll(keepingCapacity: true)
        r.sentTrailers += upstream
        if own, let l = r.location {
            let safe = isSafe(r.status)
            for t in l.settings.addTrailers where t.always || safe {
                let v = r.evaluate(t.value)
                if v.isEmpty { continue }
                r.sentTrailers += Array(t.name.utf8) + [58, 32] + v + [13, 10]
            }
        }
        return Array("0\r\n".utf8) + r.sentTrailers + [13, 10]
    }

    /// `$sent_trailer_<name>`.
    static func appendSent(_ r: Request, named name: String, to out: ByteBuffer) {
        guard !r.sentTrailers.isEmpty else { return }
        r.sentTrailers.withUnsafeBytes { block in
            var first = true
            ResponseHeadScan.forEachValue(of: Array(name.utf8), in: block, underscoresAsDashes: true) { value in
                // Repeated trailers joined by ", ", as nginx joins fields.
                if !first { out.append(", ") }
                first = false
                out.append(value)
            }
        }
    }

    /// Re-frames an answer made in memory (or a memory head and one file region) as a
    /// chunked body with trailers, when they apply.
    static func frameAnswer(_ r: Request) {
        let w = r.writer
        guard w.responseHeadLength > 0, w.pendingParts.isEmpty, w.compressedStream == nil,
            apply(r, status: r.status)
        else { return }
        if let stream = r.stream {
            // HTTP/2 frames the trailers itself: a HEADERS frame after the body.
            stream.trailersAtEnd = true
            return
        }
        let output = r.output
        let start = w.responseStart
        let headEnd = start + w.responseHeadLength
        guard headEnd <= output.writerIndex else { return }
        let all = Array(UnsafeRawBufferPointer(start: output.base + start, count: output.writerIndex - start))
        guard let head = chunkedHead(all[..<w.responseHeadLength]) else { return }
        let body = all[w.responseHeadLength...]
        var framed = head
        let fileLength = w.fileRemaining
        if !body.isEmpty { framed += chunk(size: body.count) + body + [13, 10] }
        if fileLength > 0 {
            // The file region follows as one chunk; its end, the trailers, come after it.
            framed += chunk(size: Int(fileLength))
            w.pendingParts = [BodyPart(prefix: [13, 10] + lastChunk(r), offset: 0, length: 0)]
        } else {
            framed += lastChunk(r)
        }
        output.writerIndex = start
        output.append(framed)
        w.responseHeadLength = head.count
        w.bodyBytesSent = Int64(framed.count - head.count)
        if !w.lastResponseHead.isEmpty {
            w.lastResponseHead.removeAll(keepingCapacity: true)
            w.lastResponseHead += head
        }
    }

    /// The head with its Content-Length line replaced by "Transfer-Encoding: chunked"
    /// (added before the blank line when there was none); nil when it is already chunked.
    private static func chunkedHead(_ head: ArraySlice<UInt8>) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(head.count + 28)
        var replaced = false
        var i = head.startIndex
        while i < head.endIndex {
            var end = i
            while end + 1 < head.endIndex && !(head[end] == 13 && head[end + 1] == 10) { end += 1 }
            let lineEnd = min(end + 2, head.endIndex)
            let line = head[i..<end]
            if startsCaseless(line, "transfer-encoding:") { return nil }
            if startsCaseless(line, "content-length:") {
                out += Array("Transfer-Encoding: chunked\r\n".utf8)
                replaced = true
            } else if line.isEmpty && !replaced {
                out += Array("Transfer-Encoding: chunked\r\n\r\n".utf8)
                replaced = true
            } else {
                out += head[i..<lineEnd]
            }
            i = lineEnd
        }
        return out
    }

    private static func startsCaseless(_ line: ArraySlice<UInt8>, _ prefix: String) -> Bool {
        let p = Array(prefix.utf8)
        guard line.count >= p.count else { return false }
        return asciiCaseEqual(line.prefix(p.count), p)
    }

    /// "<hex size>\r\n".
    static func chunk(size: Int) -> [UInt8] {
        Array(String(size, radix: 16).utf8) + [13, 10]
    }
}
