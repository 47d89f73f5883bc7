// The answer for a file the static handler found: conditional requests (304/412,
// If-Match, If-None-Match, If-Modified-Since, If-Unmodified-Since), single byte
// ranges (206/416, If-Range) and multipart/byteranges, the response head, and the
// body — from the cached contents of a small file, or by sendfile through the
// request's ResponseWriter. The MIME type comes from `types` / `default_type` and
// is cached on the open-file-cache entry.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension StaticFileHandler {
    /// Conditional and range handling, then the head and a sendfile body.
    /// The location's settings are read through `l` field by field (a copy of the whole
    /// struct costs ~150 instructions); only rare paths pass them whole.
    func sendFile(
        _ entry: OpenFileCache.Entry, _ l: Location, encoding: String? = nil, vary: Bool = false
    ) {
        let info = entry.info
        let buf = request.headBytes
        let etag: [UInt8]? = l.settings.etag ? entry.etag : nil
        // `add_header ETag` replaces the file's in the head (conditions use the file's).
        let shownETag = Self.addsHeader(l.settings.addHeaders, "etag") ? nil : etag
        var status = request.overrideStatus ?? 200
        let plain = request.overrideStatus == nil

        if plain {
            if let v = request.head.header(HeaderName.ifUnmodifiedSince, in: buf),
                let t = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buf[v])), info.mtime > t
            {
                request.respondError(412)
                return
            }
            if let v = request.head.header(HeaderName.ifMatch, in: buf), !etagMatches(buf[v], etag, weak: false) {
                request.respondError(412)
                return
            }
            var notModified = false
            if let v = request.head.header(HeaderName.ifNoneMatch, in: buf) {
                notModified = etagMatches(buf[v], etag, weak: true)
            } else if l.settings.ifModifiedSince != .off,
                let v = request.head.header(HeaderName.ifModifiedSince, in: buf),
                let t = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buf[v]))
            {
                notModified = l.settings.ifModifiedSince == .exact ? t == info.mtime : info.mtime <= t
            }
            if notModified {
                request.beginHead(304)
                request.output.appendHeader("Last-Modified", entry.lastModified)
                request.finishHead(location: l, mtime: info.mtime) { o in
                    if let shownETag { o.appendHeader("ETag", shownETag) }
                    if vary { o.append("Vary: Accept-Encoding\r\n") }
                }
                request.flushResponse()
                return
            }
        }

        // source_charset → charset through a charset_map: the recoded bytes are served
        // (not compressed); a byte-for-byte table keeps lengths and ranges.
        // `ssi on`: the file's commands run and the answer is sent without a length.
        if l.settings.ssi.enabled, encoding == nil, status == 200, plain, case let type = fileType(entry, l),
            l.settings.ssi.processes(type: type), sendSSI(entry, settings: l.settings, type: type, etag: shownETag)
        {
            return
        }
        let recoded =
            l.settings.sourceCharset == nil || encoding != nil ? nil : recodedContents(entry, settings: l.settings)
        if recoded == nil && encoding == nil && status == 200 && plain,
            l.settings.gzip.enabled || l.settings.brotli.enabled || l.settings.zstd.enabled,
            sendCompressed(entry, settings: l.settings, etag: shownETag)
        {
            return
        }

        let size = recoded.map { Int64($0.bytes.count) } ?? info.size
        var start: Int64 = 0
        var length = size
        var contentRange: [UInt8]? = nil
        let acceptRanges = plain && l.settings.maxRanges != 0 && recoded?.keepsLength != false
        // `add_header Last-Modified` replaces the file's (nginx's headers filter runs
        // before the range filter): its date, or none when empty, decides If-Range.
        let replacedLastModified = addedLastModified(l.settings.addHeaders)
        if acceptRanges, let r = request.head.header(HeaderName.range, in: buf),
            ifRangeAllows(buf, mtime: replacedLastModified ?? info.mtime, etag: etag)
        {
            switch ByteRangeSpec.evaluate(
                UnsafeRawBufferPointer(rebasing: buf[r]), size: size, maxRanges: l.settings.maxRanges)
            {
            case .single(let range):
                status = 206
                start = range.lowerBound
                length = range.upperBound - range.lowerBound + 1
                contentRange = Array("bytes \(range.lowerBound)-\(range.upperBound)/\(size)".utf8)
            case .unsatisfiable:
                request.status = 416
                request.writeDefaultPage(416, settings: l.settings) { o in
                    o.appendHeader("Content-Range", Array("bytes */\(size)".utf8))
                }
                return
            case .multiple(let ranges):
                sendMultipart(
                    entry, ranges: ranges, etag: shownETag, settings: l.settings, contents: recoded?.bytes,
                    encoded: encoding != nil)
                return
            case .ignore:
                break
            }
        }

        request.beginHead(status)
        let type = fileType(entry, l)
        request.appendContentType(type, encoded: encoding != nil)
        request.appendContentLength(length)
        let varyForCompression =
            !vary && encoding == nil && l.settings.gzipVary
            && ResponseCompression.varyApplies(settings: l.settings, type: type, length: size, status: status)
        // As nginx: Last-Modified only on 200, 206 (and 304), not on error_page answers.
        if (status == 200 || status == 206) && replacedLastModified == nil {
            request.output.appendHeader("Last-Modified", entry.lastModified)
        }
        request.finishHead(location: l, mtime: info.mtime) { o in
            if let shownETag { o.appendHeader("ETag", shownETag) }
            if acceptRanges && status != 206 || acceptRanges && contentRange == nil {
                o.append("Accept-Ranges: bytes\r\n")
            }
            if let contentRange { o.appendHeader("Content-Range", contentRange) }
            if let encoding { o.appendHeader("Content-Encoding", Array(encoding.utf8)) }
            if vary || varyForCompression { o.append("Vary: Accept-Encoding\r\n") }
        }
        if !request.isHeadOnly && length > 0 {
            if let contents = recoded?.bytes ?? entry.contents {
                contents.withUnsafeBytes {
                    request.appendBody(UnsafeRawBufferPointer(rebasing: $0[Int(start)..<Int(start + length)]))
                }
            } else {
                request.writer.sendFile(entry, offset: start, length: length)
            }
        }
        request.flushResponse()
    }

    /// 206 with a multipart/byteranges body, laid out as nginx does: each part is
    /// "\r\n--boundary\r\nContent-Type: ..\r\nContent-Range: bytes a-b/size\r\n\r\n" and
    /// its bytes, then "\r\n--boundary--\r\n".
    private func sendMultipart(
        _ entry: OpenFileCache.Entry, ranges: [ClosedRange<Int64>], etag: [UInt8]?, settings s: LocationSettings,
        contents recoded: [UInt8]? = nil, encoded: Bool = false
    ) {
        let size = recoded.map { Int64($0.count) } ?? entry.info.size
        let boundary = request.worker.nextBoundary()
        var type = fileType(entry, settings: s)
        if let charset = request.charset(for: type, encoded: encoded) { type += "; charset=" + charset }
        var prefixes: [[UInt8]] = []
        var total: Int64 = 0
        for r in ranges {
            let p = Array(
                "\r\n--\(boundary)\r\nContent-Type: \(type)\r\nContent-Range: bytes \(r.lowerBound)-\(r.upperBound)/\(size)\r\n\r\n"
                    .utf8)
            prefixes.append(p)
            total += Int64(p.count) + (r.upperBound - r.lowerBound + 1)
        }
        let trailer = Array("\r\n--\(boundary)--\r\n".utf8)
        total += Int64(trailer.count)
        request.beginHead(206)
        let output = request.output
        output.append("Content-Type: multipart/byteranges; boundary=")
        output.append(string: boundary)
        output.append("\r\n")
        request.appendContentLength(total)
        output.appendHeader("Last-Modified", entry.lastModified)
        request.finishHead(settings: s, mtime: entry.info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag) }
        }
        if !request.isHeadOnly {
            if let contents = recoded ?? entry.contents {
                for (r, p) in zip(ranges, prefixes) {
                    request.appendBody(p)
                    contents.withUnsafeBytes {
                        request.appendBody(UnsafeRawBufferPointer(rebasing: $0[Int(r.lowerBound)...Int(r.upperBound)]))
                    }
                }
                request.appendBody(trailer)
            } else {
                let writer = request.writer
                request.appendBody(prefixes[0])
                writer.sendFile(
                    entry, offset: ranges[0].lowerBound, length: ranges[0].upperBound - ranges[0].lowerBound + 1)
                for (r, p) in zip(ranges.dropFirst(), prefixes.dropFirst()) {
                    writer.pendingParts.append(
                        BodyPart(prefix: p, offset: r.lowerBound, length: r.upperBound - r.lowerBound + 1))
                }
                writer.pendingParts.append(BodyPart(prefix: trailer, offset: 0, length: 0))
                // Prefix bytes are counted with the body, as nginx counts them.
                writer.bodyBytesSent += Int64(prefixes.dropFirst().reduce(0) { $0 + $1.count } + trailer.count)
            }
        }
        request.flushResponse()
    }

    /// Whether an If-Match / If-None-Match list matches the entity tag.
    private func etagMatches(_ value: Slice<UnsafeRawBufferPointer>, _ etag: [UInt8]?, weak: Bool) -> Bool {
        let v = Array(value)
        if v.count == 1 && v[0] == UInt8(ascii: "*") { return true }
        guard let etag else { return false }
        var i = 0
        while i < v.count {
            while i < v.count && (v[i] == 32 || v[i] == 9 || v[i] == UInt8(ascii: ",")) { i += 1 }
            var j = i
            while j < v.count && v[j] != UInt8(ascii: ",") { j += 1 }
            var tag = Array(v[i..<j])
            while let l = tag.last, l == 32 || l == 9 { tag.removeLast() }
            if weak && tag.starts(with: Array("W/".utf8)) { tag.removeFirst(2) }
            if tag == etag { return true }
            i = j
        }
        return false
    }

    /// If-Range: a date equal to Last-Modified or the strong ETag.
    private func ifRangeAllows(_ buf: UnsafeRawBufferPointer, mtime: Int, etag: [UInt8]?) -> Bool {
        guard let v = request.head.header(HeaderName.ifRange, in: buf) else { return true }
        let value = buf[v]
        if value.first == UInt8(ascii: "\"") { return etag.map { Array(value) == $0 } ?? false }
        if mtime >= 0, let t = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: value)) { return t == mtime }
        return false
    }

    /// The time of an `add_header Last-Modified` of the location (-1: empty or not a
    /// date), nil when it has none. The last such line counts, as in nginx.
    private func addedLastModified(_ addHeaders: [AddHeader]) -> Int? {
        for h in addHeaders.reversed() where h.name.utf8.count == 13 && h.name.lowercased() == "last-modified" {
            let v = request.evaluate(h.value)
            return v.withUnsafeBytes { HTTPDate.parse($0) } ?? -1
        }
        return nil
    }

    /// Whether the location has an `add_header` of this (lowercased) name.
    static func addsHeader(_ addHeaders: [AddHeader], _ name: String) -> Bool {
        addHeaders.contains { $0.name.utf8.count == name.utf8.count && $0.name.lowercased() == name }
    }

    /// The entry's MIME type for this request's URI and location (cached on the entry).
    func fileType(_ entry: OpenFileCache.Entry, settings s: LocationSettings) -> String {
        fileType(entry, types: s.types, defaultType: s.defaultType)
    }

    /// The same, the settings read in place through the location.
    func fileType(_ entry: OpenFileCache.Entry, _ l: Location) -> String {
        fileType(entry, types: l.settings.types, defaultType: l.settings.defaultType)
    }

    private func fileType(_ entry: OpenFileCache.Entry, types: MimeTypes, defaultType: String) -> String {
        let typeKey = ObjectIdentifier(types)
        if let c = entry.contentType, c.types == typeKey, c.defaultType == defaultType { return c.value }
        let value = Self.contentType(for: request.uri, types: types, defaultType: defaultType)
        entry.contentType = (typeKey, defaultType, value)
        return value
    }

    /// MIME type from the URI's extension (`types`), else `default_type`.
    static func contentType(for uri: [UInt8], types: MimeTypes, defaultType: String) -> String {
        var i = uri.count - 1
        while i >= 0 {
            let c = uri[i]
            if c == UInt8(ascii: ".") {
                var ext = ""
                ext.reserveCapacity(uri.count - i)
                for b in uri[(i + 1)...] {
                    ext.unicodeScalars.append(Unicode.Scalar(b >= 65 && b <= 90 ? b | 0x20 : b))
                }
                return types.byExtension[ext] ?? defaultType
            }
            if c == UInt8(ascii: "/") { break }
            i -= 1
        }
        return defaultType
    }
}
