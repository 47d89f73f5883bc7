// A fresh cache hit at the cost of a static file. The key is evaluated into the worker's
// key buffer and looked up in its hot table (CacheOpenEntries: by the key's bytes, no
// md5, no dictionary, the keys zone's lock taken once a second or when the zone
// changed); the entry is open already; and the client head is the one the previous hit
// of the same location wrote (its fields filtered once: hidden fields, Content-Type,
// the status line, Server), with the current Date, Content-Length and the request's
// own fields (Connection, expires, add_header) added as for any answer. A small body
// (up to 32 KiB, as the open-file cache's small files) goes from memory in the head's
// write; a larger one with sendfile from the open descriptor. A request with a condition or a range, a
// location whose head depends on the request (gzip, proxy_redirect of a Location,
// cookie rewriting, a charset from a variable, add_trailer, `expires modified`), a
// subrequest, a bypass or a purge take the general path (ProxyExchange+Cache.swift).

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

extension ProxyExchange {
    /// Answers a fresh hit of a key this worker holds open (true), or leaves the request
    /// to the general lookup. The settings are read field by field (never copied whole).
    func cacheFastHit() -> Bool {
        guard settings.cache.zoneValue == nil, let zoneName = settings.cache.zone, settings.cache.purge.isEmpty,
            fastHitAllowed(), let l = request.location,
            let zone = worker.cacheEntries.zone(named: zoneName, in: worker.generation)
        else { return false }
        if !settings.cache.bypass.isEmpty && Self.anyTrue(settings.cache.bypass, request) { return false }
        let entries = worker.cacheEntries
        let keyBuffer = entries.keyBuffer
        keyBuffer.clear()
        if let key = settings.cache.key {
            request.evaluate(key, into: keyBuffer)
        } else if pass?.proto == .http {
            request.evaluate(Self.defaultKey, into: keyBuffer)
        }
        let keyBytes = keyBuffer.readable
        guard
            let item = entries.hotItem(
                zone, key: keyBytes, keyHash: CacheOpenEntries.keyHash(keyBytes), now: Int64(worker.clock.seconds),
                nowMs: worker.now)
        else { return false }
        if let memo = item.memo, memo.location === l {
            serveMemoHit(item, memo, location: l)
        } else {
            cache.zone = zone
            cache.hash = item.hash
            cache.mainHash = item.hash
            serveCached(item.entry, status: .hit, open: item)
        }
        return true
    }

    /// Whether the request may be answered from a memorized head: GET or HEAD, not a
    /// subrequest, no Range, If-Range, If-None-Match or If-Modified-Since (nginx's
    /// not-modified and range filters would change the answer).
    func fastHitAllowed() -> Bool {
        let r = request
        guard r.head.method == .get || r.head.method == .head, !r.isSubrequest else { return false }
        let buf = r.headBytes
        for h in r.head.headers {
            let n = h.name.count
            guard n == 5 || n == 8 || n == 13 || n == 17 else { continue }
            let first = buf[h.name.lowerBound] | 0x20
            if first == UInt8(ascii: "r") || first == UInt8(ascii: "i") {
                let name = UnsafeRawBufferPointer(rebasing: buf[h.name])
                if ASCII.equalsLowercased(name, "range") || ASCII.equalsLowercased(name, "if-range")
                    || ASCII.equalsLowercased(name, "if-none-match")
                    || ASCII.equalsLowercased(name, "if-modified-since")
                {
                    return false
                }
            }
        }
        return true
    }

    /// Answers a fresh hit from `item` with `memo`, its head for this location.
    func serveMemoHit(_ item: CacheOpenEntries.Item, _ memo: CacheOpenEntries.HeadMemo, location l: Location) {
        let r = request
        cache.zone = item.zone
        cache.hash = item.hash
        cache.mainHash = item.hash
        cache.status = .hit
        // $upstream_http_* read the stored head, as for any hit.
        let resp = response
        resp.head = item.head
        resp.headCopy = item.entry.head
        resp.headerSent = true
        resp.noBody = r.isHeadOnly
        let output = r.output
        output.writerIndex = max(r.responseStart, output.readerIndex)
        r.bodyBytesSent = 0
        r.status = memo.status
        output.append(memo.beforeDate)
        if memo.hasDate {
            output.append(worker.clock.dateHeader)
            output.append(memo.afterDate)
        }
        r.contentType.removeAll(keepingCapacity: true)
        r.contentType.append(contentsOf: memo.contentType)
        let length = item.bodyLength
        r.appendContentLength(length)
        r.finishHead(location: l, mtime: nil)
        phase = .finished
        if !r.isHeadOnly && length > 0, let body = item.body {
            r.appendBody(body)
        } else if !r.isHeadOnly && length > 0 {
            let files = worker.files
            files.retain(item.file)
            r.writer.sendFile(item.file, offset: item.bodyOffset, length: length)
            files.release(item.file)
        }
        r.flushResponse()
    }

    /// After a hit from an open entry wrote its head (from `start` in the output): keeps
    /// the head for the location's next hits when nothing in it depends on the request
    /// (a location that compresses chooses per request, by Accept-Encoding).
    func memorizeHead(_ open: CacheOpenEntries.Item, start: Int) {
        let r = request
        let resp = response
        guard let l = r.location, !r.isSubrequest, !resp.headVaries, resp.encoder == nil, resp.recoder == nil,
            !resp.clientChunked, !resp.sendTrailers, !resp.keepContentType, resp.clientTake < 0,
            resp.head.contentLength != nil, r.status != 204, r.status != 304, r.status != 101,
            !l.settings.gzip.enabled, !l.settings.brotli.enabled, !l.settings.zstd.enabled,
            l.settings.addTrailers.isEmpty, !l.settings.expires.usesModifiedTime, l.settings.charsetVariable == nil,
            !resp.hasUpstreamHeader("x-accel-charset")
        else { return }
        let output = r.output
        let end = resp.fieldsEnd
        guard end > start, end <= output.writerIndex else { return }
        let head = UnsafeRawBufferPointer(start: output.base + start, count: end - start)
        let date = worker.clock.dateHeader
        var beforeDate = Array(head)
        var afterDate: [UInt8] = []
        let hasDate = settings.hidden.contains(Array("date".utf8))
        if hasDate {
            // The worker's Date line, right after the status line (and Server).
            guard let at = Self.find(date, in: head) else { return }
            beforeDate = Array(head[0..<at])
            afterDate = Array(head[(at + date.count)...])
        }
        open.memo = CacheOpenEntries.HeadMemo(
            location: l, status: r.status, beforeDate: beforeDate, afterDate: afterDate, hasDate: hasDate,
            contentType: r.contentType)
    }

    private static func find(_ needle: [UInt8], in hay: UnsafeRawBufferPointer) -> Int? {
        guard !needle.isEmpty, hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if needle.withUnsafeBytes({ n in (0..<n.count).allSatisfy { hay[i + $0] == n[$0] } }) { return i }
        }
        return nil
    }
}

extension Request {
    /// Appends a value with variables to `out` (no array is made).
    func evaluate(_ value: ComplexValue, into out: ByteBuffer) {
        for seg in value.segments {
            switch seg {
            case .literal(let b): out.append(b)
            case .variable(let v): appendVariable(v, to: out)
            }
        }
    }
}
