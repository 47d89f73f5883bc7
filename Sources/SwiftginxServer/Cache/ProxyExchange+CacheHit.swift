// Answering from a cache entry (HIT, STALE, UPDATING, REVALIDATED): the stored head
// goes through the same client-head writer as a fresh upstream answer (hidden fields,
// proxy_redirect, cookies, add_header, gzip), after nginx's not-modified and range
// filters have had their say on a whole 200 — a conditional request gets 304, a
// range request 206 (one range, or multipart/byteranges) or 416. The body is the
// entry's file region, sent with sendfile as a static file is; when the answer is
// compressed or recoded on the way, the body is read and passed through the coder.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ProxyExchange {
    /// Answers the request from `e` (its descriptor is owned from here on). `deferred`:
    /// the whole answer is put in the request's output, not flushed (a background
    /// update sends it while the upstream is asked).
    /// `open`: the worker keeps this entry open with its head parsed (a hot key's hit).
    func serveCached(
        _ e: CacheEntry, status: CacheStatus, deferred: Bool = false, open: CacheOpenEntries.Item? = nil
    ) {
        cache.status = status
        let r = request
        let bodyLength = e.header.bodyLength
        var head = e.head
        var region: (offset: Int64, length: Int64)? = (0, bodyLength)
        var parts: [ClosedRange<Int64>] = []
        var boundary = ""
        if let filtered = notModifiedHead(head) {
            head = filtered
            region = nil
        } else if let (h, rangeResult) = rangedHead(head, size: bodyLength) {
            head = h
            switch rangeResult {
            case .single(let range): region = (range.lowerBound, range.upperBound - range.lowerBound + 1)
            case .multiple(let ranges):
                parts = ranges
                region = nil
                boundary = cache.boundary
            default: region = nil
            }
        }
        let resp = response
        resp.reset()
        resp.upstreamInput.clear()
        head.withUnsafeBytes { resp.upstreamInput.append($0) }
        let rewritten =
            head.count != e.head.count || region == nil || !parts.isEmpty
            || region.map { $0.offset != 0 || $0.length != bodyLength } == true
        resp.headCopy = head
        if let open, !rewritten {
            resp.head = open.head
        } else {
            // An entry's head is an HTTP one whatever the protocol (the next try sets the kind again).
            resp.parser.kind = .http
            guard case .complete = head.withUnsafeBytes({ resp.parser.parse($0, into: &resp.head) }) else {
                if open == nil { FileSystem.close(e.fd) }
                cache.zone?.remove(cache.hash)
                r.respondError(500)
                return
            }
        }
        // nginx's charset filter runs before its range filter: each part of a multipart
        // answer carries the recoded type and bytes; the multipart type stays as it is.
        var partRecoder: CharsetTable? = nil
        if !parts.isEmpty, let l = r.location {
            let original = Array(cache.partType.utf8)
            if let t = original.withUnsafeBytes({ resp.charsetContentType($0[...], location: l, self) }) {
                cache.partType = String(decoding: t, as: UTF8.self)
            }
            partRecoder = resp.recoder?.keepsLength == true ? resp.recoder : nil
            resp.recoder = nil
            resp.keepContentType = true
        }
        let headStart = max(r.responseStart, r.output.readerIndex)
        resp.writeClientHead(self)
        if let open, !rewritten, !deferred, status == .hit, parts.isEmpty { memorizeHead(open, start: headStart) }
        phase = .finished
        let entry: OpenFileCache.Entry
        if let open {
            entry = open.file
        } else {
            entry = OpenFileCache.Entry(fd: e.fd, info: e.fileInfo, contents: nil, now: worker.now)
            entry.retired = true
        }
        worker.files.retain(entry)
        defer { worker.files.release(entry) }
        let base = e.header.bodyOffset
        if deferred {
            if !resp.noBody && resp.encoder == nil && resp.recoder == nil && !resp.clientChunked && parts.isEmpty,
                let region, region.length > 0
            {
                var body = [UInt8](repeating: 0, count: Int(region.length))
                if body.withUnsafeMutableBytes({
                    FileSystem.readFully(e.fd, into: $0.baseAddress!, count: $0.count, offset: base + region.offset)
                }) {
                    r.appendBody(body)
                } else {
                    r.keepAlive = false
                }
            }
            return
        }
        if resp.noBody || (region == nil && parts.isEmpty) {
            r.flushResponse()
            return
        }
        if !parts.isEmpty {
            let size = bodyLength
            let type = cache.partType
            let trailer = Array("\r\n--\(boundary)--\r\n".utf8)
            var first = true
            for p in parts {
                var prefix = Array("\r\n--\(boundary)\r\n".utf8)
                if !type.isEmpty { prefix += Array("Content-Type: \(type)\r\n".utf8) }
                prefix += Array("Content-Range: bytes \(p.lowerBound)-\(p.upperBound)/\(size)\r\n\r\n".utf8)
                if let partRecoder {
                    // Recoded parts go from memory (a byte-for-byte table keeps the lengths).
                    var raw = [UInt8](repeating: 0, count: Int(p.upperBound - p.lowerBound + 1))
                    _ = raw.withUnsafeMutableBytes {
                        FileSystem.readFully(e.fd, into: $0.baseAddress!, count: $0.count, offset: base + p.lowerBound)
                    }
                    var recoded: [UInt8] = []
                    partRecoder.recode(raw, into: &recoded)
                    r.appendBody(prefix)
                    r.appendBody(recoded)
                    continue
                }
                if first {
                    r.appendBody(prefix)
                    r.writer.sendFile(entry, offset: base + p.lowerBound, length: p.upperBound - p.lowerBound + 1)
                    first = false
                } else {
                    r.writer.pendingParts.append(
                        BodyPart(prefix: prefix, offset: base + p.lowerBound, length: p.upperBound - p.lowerBound + 1))
                    r.writer.bodyBytesSent += Int64(prefix.count)
                }
            }
            if partRecoder != nil {
                r.appendBody(trailer)
            } else {
                r.writer.pendingParts.append(BodyPart(prefix: trailer, offset: 0, length: 0))
                r.writer.bodyBytesSent += Int64(trailer.count)
            }
            r.flushResponse()
            return
        }
        guard let region else { return }
        if resp.encoder == nil && resp.recoder == nil && !resp.clientChunked && !resp.sendTrailers {
            if region.length > 0 { r.writer.sendFile(entry, offset: base + region.offset, length: region.length) }
            r.flushResponse()
            return
        }
        serveCodedBody(e, base: base, region: region)
    }

    /// A cached body compressed or recoded on the way (read from the entry, in memory).
    private func serveCodedBody(_ e: CacheEntry, base: Int64, region: (offset: Int64, length: Int64)) {
        let r = request
        let resp = response
        // Compressed or recoded on the way: the body passes through the coder in memory
        // and goes out as one chunk, as nginx sends a cached body it had in one buffer.
        resp.memoryLimit = Int.max
        let output = r.output
        let bodyStart = output.writerIndex
        let rechunk = resp.clientChunked && !resp.sendTrailers
        if rechunk { resp.clientChunked = false }
        var offset: Int64 = 0
        var chunk = [UInt8](repeating: 0, count: 65536)
        while offset < region.length {
            let n = Int(min(Int64(chunk.count), region.length - offset))
            let ok = chunk.withUnsafeMutableBytes {
                FileSystem.readFully(e.fd, into: $0.baseAddress!, count: n, offset: base + region.offset + offset)
            }
            guard ok, chunk.withUnsafeBytes({ resp.emit(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) else {
                r.keepAlive = false
                break
            }
            offset += Int64(n)
        }
        _ = resp.bodyEnded()
        if rechunk {
            let body = Array(
                UnsafeRawBufferPointer(start: output.base + bodyStart, count: output.writerIndex - bodyStart))
            output.writerIndex = bodyStart
            if !body.isEmpty {
                output.append(string: String(body.count, radix: 16))
                output.append("\r\n")
                output.append(body)
                output.append("\r\n")
            }
            output.append("0\r\n\r\n")
        }
        r.flushResponse()
    }

    // MARK: nginx's not-modified and range filters on a cached 200

    private static let dropOn304: [[UInt8]] = ["content-length", "accept-ranges"].map { Array($0.utf8) }

    /// A 304 head when the request's conditions match the entry's ETag / Last-Modified.
    private func notModifiedHead(_ head: [UInt8]) -> [UInt8]? {
        let r = request
        let buf = r.headBytes
        let inm = r.head.header(HeaderName.ifNoneMatch, in: buf)
        let ims = r.head.header(HeaderName.ifModifiedSince, in: buf)
        guard inm != nil || ims != nil else { return nil }
        var p = ResponseParser()
        var h = ResponseHead()
        guard case .complete = head.withUnsafeBytes({ p.parse($0, into: &h) }), h.status == 200 else { return nil }
        let matched: Bool = head.withUnsafeBytes { hb in
            if let inm {
                guard let etag = h.header("etag", in: hb) else { return false }
                let tag = Array(hb[etag])
                let list = Array(buf[inm])
                if list == [UInt8(ascii: "*")] { return true }
                let strip: ([UInt8]) -> [UInt8] = { $0.starts(with: Array("W/".utf8)) ? Array($0.dropFirst(2)) : $0 }
                for item in list.split(separator: UInt8(ascii: ",")) {
                    let t = Array(item.drop { $0 == 32 || $0 == 9 }.reversed().drop { $0 == 32 || $0 == 9 }.reversed())
                    if strip(t) == strip(tag) { return true }
                }
                return false
            }
            guard let ims, let lm = h.header("last-modified", in: hb),
                let since = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buf[ims])),
                let modified = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: hb[lm]))
            else { return false }
            return request.location?.settings.ifModifiedSince == .before ? modified <= since : modified == since
        }
        guard matched else { return nil }
        return rewrittenHead(head, h, statusLine: "HTTP/1.1 304 Not Modified\r\n", drop: Self.dropOn304, add: [])
    }

    /// A 206 (or 416) head for a Range request on a whole cached 200, with the result.
    func rangedHead(_ head: [UInt8], size: Int64) -> ([UInt8], ByteRangeSpec.Result)? {
        let r = request
        let buf = r.headBytes
        guard let rv = r.head.header(HeaderName.range, in: buf), let s = r.location?.settings, s.maxRanges != 0
        else { return nil }
        if let limit = settings.cache.maxRangeOffset, let start = Self.firstRangeStart(Array(buf[rv])), start > limit {
            return nil
        }
        var p = ResponseParser()
        var h = ResponseHead()
        guard case .complete = head.withUnsafeBytes({ p.parse($0, into: &h) }), h.status == 200 else { return nil }
        if let ir = r.head.header(HeaderName.ifRange, in: buf) {
            // If-Range: the entity tag (strong) or the exact Last-Modified date.
            let cond = Array(buf[ir])
            let matches: Bool = head.withUnsafeBytes { hb in
                if cond.first == UInt8(ascii: "\"") {
                    guard let et = h.header("etag", in: hb) else { return false }
                    return Array(hb[et]) == cond
                }
                guard let lm = h.header("last-modified", in: hb),
                    let a = cond.withUnsafeBytes({ HTTPDate.parse($0) }),
                    let b = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: hb[lm]))
                else { return false }
                return a == b
            }
            if !matches { return nil }
        }
        let result = ByteRangeSpec.evaluate(
            UnsafeRawBufferPointer(rebasing: buf[rv]), size: size, maxRanges: s.maxRanges)
        switch result {
        case .single(let range):
            let add = [
                "Content-Length: \(range.upperBound - range.lowerBound + 1)",
                "Content-Range: bytes \(range.lowerBound)-\(range.upperBound)/\(size)",
            ]
            return (
                rewrittenHead(
                    head, h, statusLine: "HTTP/1.1 206 Partial Content\r\n", drop: Self.rangeDropped, add: add), result
            )
        case .multiple(let ranges):
            let boundary = worker.nextBoundary()
            cache.boundary = boundary
            let type = head.withUnsafeBytes { hb in
                h.header("content-type", in: hb).map { String(decoding: hb[$0], as: UTF8.self) }
            }
            cache.partType = type ?? ""
            var total: Int64 = 0
            for x in ranges {
                var prefix = "\r\n--\(boundary)\r\n"
                if let type { prefix += "Content-Type: \(type)\r\n" }
                prefix += "Content-Range: bytes \(x.lowerBound)-\(x.upperBound)/\(size)\r\n\r\n"
                total += Int64(prefix.utf8.count) + x.upperBound - x.lowerBound + 1
            }
            total += Int64("\r\n--\(boundary)--\r\n".utf8.count)
            let add = ["Content-Type: multipart/byteranges; boundary=\(boundary)", "Content-Length: \(total)"]
            return (
                rewrittenHead(
                    head, h, statusLine: "HTTP/1.1 206 Partial Content\r\n", drop: Self.multipartDropped, add: add),
                result
            )
        case .unsatisfiable:
            let add = ["Content-Range: bytes */\(size)", "Content-Length: 0"]
            return (
                rewrittenHead(
                    head, h, statusLine: "HTTP/1.1 416 Requested Range Not Satisfiable\r\n", drop: Self.rangeDropped,
                    add: add), result
            )
        case .ignore:
            return nil
        }
    }

    /// A single range asked of an answer being stored: the client gets 206 with that part
    /// while the whole body goes into the entry (nginx's range filter on a cacheable answer).
    func applyRangeToStoredResponse() {
        let resp = response
        guard resp.head.status == 200, let full = resp.head.contentLength, !request.isHeadOnly,
            let (h, result) = rangedHead(resp.headCopy, size: full), case .single(let range) = result
        else { return }
        var p = ResponseParser()
        var parsed = ResponseHead()
        guard case .complete = h.withUnsafeBytes({ p.parse($0, into: &parsed) }) else { return }
        parsed.headLength = resp.head.headLength
        resp.headCopy = h
        resp.head = parsed
        resp.clientSkip = range.lowerBound
        resp.clientTake = range.upperBound - range.lowerBound + 1
        resp.upstreamLength = full
    }

    private static let rangeDropped: [[UInt8]] = ["content-length", "accept-ranges", "content-range"].map {
        Array($0.utf8)
    }
    private static let multipartDropped: [[UInt8]] = [
        "content-length", "accept-ranges", "content-type", "content-range",
    ].map { Array($0.utf8) }

    private static func firstRangeStart(_ v: [UInt8]) -> Int64? {
        guard let eq = v.firstIndex(of: UInt8(ascii: "=")) else { return nil }
        let digits = v[(eq + 1)...].drop { $0 == 32 }.prefix { $0 >= 48 && $0 <= 57 }
        return Int64(String(decoding: digits, as: UTF8.self))
    }

    private func rewrittenHead(_ raw: [UInt8], _ h: ResponseHead, statusLine: String, drop: [[UInt8]], add: [String])
        -> [UInt8]
    {
        var out = Array(statusLine.utf8)
        raw.withUnsafeBytes { buf in
            for f in h.headers where !drop.contains(where: { asciiCaseEqual(buf[f.name], $0) }) {
                out += buf[f.name]
                out += Array(": ".utf8)
                out += buf[f.value]
                out += [13, 10]
            }
        }
        for a in add { out += Array((a + "\r\n").utf8) }
        out += [13, 10]
        return out
    }
}

extension UpstreamResponse {
    /// A background update's answer: its body goes into the cache entry only (the client
    /// has the stale entry, which the relay keeps sending from the output meanwhile).
    func beginBackgroundBody(_ x: ProxyExchange) {
        let h = cacheWriter?.head ?? head
        clientTake = -1
        cacheOnly = true
        clientChunked = false
        sendTrailers = false
        encoder = nil
        recoder = nil
        noBody = false
        buffering = true
        memoryLimit = x.settings.buffers.count * x.settings.buffers.size
        // A subrequest's output keeps the stale answer until its parent takes it: the
        // update (stored only) must not wait for that room.
        if x.request.isSubrequest { memoryLimit = Int.max / 2 }
        maxTempFileSize = 0
        responseChunked = h.isChunked ? ChunkedDecoder() : nil
        responseRemaining = h.isChunked ? -1 : (h.contentLength ?? -1)
        keepUpstream = x.mayKeepConnection && h.keepAlive && (h.contentLength != nil || h.isChunked)
        headerSent = true
        upstreamInput.readerIndex = h.headLength
        if upstreamInput.readableCount == 0 { upstreamInput.clear() }
        if responseRemaining == 0 { upstreamDone = true }
        x.phase = .relaying
        x.wait(for: .relaying, timeout: x.settings.readTimeout)
    }
}
