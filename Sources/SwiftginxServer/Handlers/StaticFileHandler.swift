// Static content, as nginx's index and static modules do it: map the URI to a
// path under `root` (or `alias`), try `index` files for a directory URI with an
// internal redirect, redirect a directory without its slash, answer conditional
// requests (304/412) and single byte ranges (206/416), and send the body with
// sendfile.

import Glibc
import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

extension Request {
    func serveStatic(_ location: Location) {
        let s = location.settings
        let method = self.errorPageUsed && head.method != .head ? HTTPMethod.get : head.method
        if method != .get && method != .head {
            trace?.note(
                "handler: static files answer \(String(decoding: headBytes[head.methodBytes], as: UTF8.self)) with 405")
            self.keepAlive = self.keepAlive && !self.bodyPending
            respondError(405)
            return
        }
        var path = pathBuffer
        pathBuffer = []  // hand the storage over without a copy; returned below
        defer { pathBuffer = path }
        documentPath(location, into: &path)
        if self.uri.last == UInt8(ascii: "/") {
            trace?.note("handler: index in \(String(decoding: path, as: UTF8.self))")
            serveIndex(location, directory: path)
            return
        }
        trace?.note("handler: static file \(String(decoding: path, as: UTF8.self))")
        if s.disableSymlinks != .off {
            var skip = 0
            if let from = s.disableSymlinksFrom {
                let f = evaluate(from)
                if path.starts(with: f) { skip = f.count }
            }
            if let e = FileSystem.symlinkViolation(path, skip: skip, ifNotOwner: s.disableSymlinks == .ifNotOwner) {
                logError(
                    "open() \"\(String(decoding: path, as: UTF8.self))\" failed (\(e.errno): \(SystemError.message(e.errno)))"
                )
                respondError(403)
                return
            }
        }
        let precompressed = s.gzipStatic != .off || s.brotliStatic != .off || s.zstdStatic != .off
        if precompressed, let (variant, coding) = precompressedVariant(path: &path, settings: s) {
            sendFile(variant, settings: s, encoding: coding, vary: true)
            return
        }
        switch lookupFile(&path, settings: s) {
        case .file(let entry):
            sendFile(entry, settings: s, vary: precompressed)
        case .directory:
            var target = self.uri
            target.append(UInt8(ascii: "/"))
            if self.hasArgs {
                target.append(UInt8(ascii: "?"))
                target += self.args
            }
            sendRedirect(301, location: target, settings: s)
        case .notRegular:
            logError("\"\(String(decoding: path, as: UTF8.self))\" is not a regular file")
            respondError(404)
        case .failure(let error, let call):
            if call == "fstat" {
                logError(
                    "fstat() \"\(String(decoding: path, as: UTF8.self))\" failed (\(error.errno): \(SystemError.message(error.errno)))",
                    level: .crit)
                respondError(500)
            } else {
                fileError(error, path: path, settings: s)
            }
        }
    }

    /// The open-file-cache lookup of `path` (passed inout only to append the NUL in place).
    private func lookupFile(_ path: inout [UInt8], settings s: LocationSettings) -> OpenFileCache.Lookup {
        // The cache key is the NUL-terminated path, usable as a C string as it is.
        path.append(0)
        defer { path.removeLast() }
        let policy = OpenFileCache.Policy(s.openFileCache)
        return path.withUnsafeBufferPointer { p in
            worker.files.lookup(
                path: path, cpath: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self),
                now: worker.now, policy: policy)
        }
    }

    /// `gzip_static` / `brotli_static` / `zstd_static`: the precompressed file next to
    /// `path` (".gz", ".br", ".zst") for the best coding the client accepts (q-values;
    /// ties go to br, zstd, gzip), or the first existing one switched to `always`. As in
    /// nginx the original file need not exist. HTTP/1.0 clients get no variant unless
    /// `always` (nginx's gzip_http_version 1.1).
    private func precompressedVariant(path: inout [UInt8], settings s: LocationSettings) -> (
        OpenFileCache.Entry, String
    )? {
        // Bit i of a mask stands for Self.staticCodings[i]; no arrays are built per self.
        var enabled = 0
        var always = 0
        func note(_ m: StaticCompression, _ bit: Int) {
            if m != .off { enabled |= bit }
            if m == .always { always |= bit }
        }
        note(s.brotliStatic, 1)
        note(s.zstdStatic, 2)
        note(s.gzipStatic, 4)
        let buf = headBytes
        let acceptValue = head.version == .http11 ? head.header(HeaderName.acceptEncoding, in: buf) : nil
        var remaining = enabled
        while remaining != 0 {
            let index: Int
            if remaining & always != 0 {
                index = (remaining & always).trailingZeroBitCount
            } else if let v = acceptValue,
                let coding = AcceptEncoding.preferred(
                    UnsafeRawBufferPointer(rebasing: buf[v]), available: Self.codingSets[remaining]),
                let i = Self.staticCodings.firstIndex(of: coding)
            {
                index = i
            } else {
                return nil
            }
            remaining &= ~(1 << index)
            let base = path.count
            path.append(contentsOf: Self.staticSuffixes[index])
            let lookup = lookupFile(&path, settings: s)
            path.removeLast(path.count - base)
            if case .file(let entry) = lookup { return (entry, Self.staticCodings[index].rawValue) }
        }
        return nil
    }

    /// Precompressed codings in preference order, their file suffixes, and the
    /// coding list for every subset (indexed by bit mask).
    static let staticCodings: [ContentCoding] = [.br, .zstd, .gzip]
    static let staticSuffixes: [[UInt8]] = [Array(".br".utf8), Array(".zst".utf8), Array(".gz".utf8)]
    static let codingSets: [[ContentCoding]] = (0..<8).map { mask in
        staticCodings.enumerated().filter { mask & (1 << $0.offset) != 0 }.map(\.element)
    }

    /// root + uri, or alias + (uri without the location's prefix).
    func documentPath(_ location: Location) -> [UInt8] {
        var p: [UInt8] = []
        documentPath(location, into: &p)
        return p
    }

    func documentPath(_ location: Location, into p: inout [UInt8]) {
        let s = location.settings
        p.removeAll(keepingCapacity: true)
        if let alias = s.alias {
            appendValue(alias, to: &p)
            if location.isRegex { return }
            let prefixCount = location.prefix.utf8.count
            if self.uri.count >= prefixCount {
                p += self.uri[prefixCount...]
            }
            return
        }
        appendValue(s.root, to: &p)
        if p.last == UInt8(ascii: "/") { p.removeLast() }
        p += self.uri
    }

    /// Appends a value without allocating when it is a single literal.
    private func appendValue(_ v: ComplexValue, to p: inout [UInt8]) {
        if v.segments.count == 1, case .literal(let b) = v.segments[0] {
            p += b
        } else {
            p += evaluate(v)
        }
    }

    /// A URI ending in '/': the first existing index file, by internal redirect.
    private func serveIndex(_ location: Location, directory: [UInt8]) {
        let s = location.settings
        for index in s.index {
            let name = evaluate(index)
            if name.first == UInt8(ascii: "/") {
                // An absolute index is used as it is, as the last resort (nginx).
                internalRedirect(to: name, args: nil)
                return
            }
            var candidate = directory + name
            candidate.append(0)
            let exists = candidate.withUnsafeBufferPointer { p in
                (try? FileSystem.info(path: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self)))
                    != nil
            }
            trace?.note(
                "index \(String(decoding: candidate.dropLast(), as: UTF8.self)): \(exists ? "exists" : "missing")")
            if exists {
                internalRedirect(to: self.uri + name, args: nil)
                return
            }
        }
        var dir = directory
        dir.append(0)
        let dirInfo = dir.withUnsafeBufferPointer { p in
            Result { () throws(SystemError) in
                try FileSystem.info(path: UnsafeRawPointer(p.baseAddress!).assumingMemoryBound(to: CChar.self))
            }
        }
        let dirPath = String(decoding: directory, as: UTF8.self)
        switch dirInfo {
        case .success(let info) where info.isDirectory:
            if s.autoindex {
                sendAutoindex(directory: directory, settings: s)
                return
            }
            logError("directory index of \"\(dirPath)\" is forbidden")
            respondError(403)
        case .success:
            respondError(404)
        case .failure(let e):
            if e.errno == ENOENT || e.errno == ENOTDIR {
                if s.logNotFound {
                    let first = s.index.first.map { String(decoding: evaluate($0), as: UTF8.self) } ?? ""
                    logError("\"\(dirPath)\(first)\" is not found (2: No such file or directory)")
                }
                respondError(404)
            } else {
                fileError(e, path: directory, settings: s)
            }
        }
    }

    private func fileError(_ e: SystemError, path: [UInt8], settings: LocationSettings) {
        func text() -> String {
            "open() \"\(String(decoding: path, as: UTF8.self))\" failed (\(e.errno): \(SystemError.message(e.errno)))"
        }
        switch e.errno {
        case ENOENT, ENOTDIR, ENAMETOOLONG:
            if settings.logNotFound { logError(text()) }
            respondError(404)
        case EACCES:
            logError(text())
            respondError(403)
        default:
            logError(text(), level: .crit)
            respondError(500)
        }
    }

    /// Conditional and range handling, then the head and a sendfile body.
    private func sendFile(
        _ entry: OpenFileCache.Entry, settings s: LocationSettings, encoding: String? = nil, vary: Bool = false
    ) {
        let info = entry.info
        let buf = headBytes
        let etag: [UInt8]? = s.etag ? entry.etag : nil
        var status = self.overrideStatus ?? 200
        let plain = self.overrideStatus == nil

        if plain {
            if let v = head.header(HeaderName.ifUnmodifiedSince, in: buf),
                let t = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buf[v])), info.mtime > t
            {
                respondError(412)
                return
            }
            if let v = head.header(HeaderName.ifMatch, in: buf), !etagMatches(buf[v], etag, weak: false) {
                respondError(412)
                return
            }
            var notModified = false
            if let v = head.header(HeaderName.ifNoneMatch, in: buf) {
                notModified = etagMatches(buf[v], etag, weak: true)
            } else if s.ifModifiedSince != .off, let v = head.header(HeaderName.ifModifiedSince, in: buf),
                let t = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: buf[v]))
            {
                notModified = s.ifModifiedSince == .exact ? t == info.mtime : info.mtime <= t
            }
            if notModified {
                beginHead(304)
                output.appendHeader("Last-Modified", entry.lastModified)
                finishHead(settings: s, mtime: info.mtime) { o in
                    if let etag { o.appendHeader("ETag", etag) }
                    if vary { o.append("Vary: Accept-Encoding\r\n") }
                }
                flushResponse()
                return
            }
        }

        if encoding == nil && status == 200 && plain && !isHeadOnly,
            sendCompressed(entry, settings: s, etag: etag)
        {
            return
        }

        var start: Int64 = 0
        var length = info.size
        var contentRange: [UInt8]? = nil
        let acceptRanges = plain && s.maxRanges != 0
        if acceptRanges, let r = head.header(HeaderName.range, in: buf), ifRangeAllows(buf, info: info, etag: etag) {
            switch ByteRangeSpec.evaluate(
                UnsafeRawBufferPointer(rebasing: buf[r]), size: info.size, maxRanges: s.maxRanges)
            {
            case .single(let range):
                status = 206
                start = range.lowerBound
                length = range.upperBound - range.lowerBound + 1
                contentRange = Array("bytes \(range.lowerBound)-\(range.upperBound)/\(info.size)".utf8)
            case .unsatisfiable:
                self.status = 416
                writeDefaultPage(416, settings: s) { o in
                    o.appendHeader("Content-Range", Array("bytes */\(info.size)".utf8))
                }
                return
            case .multiple(let ranges):
                sendMultipart(entry, ranges: ranges, etag: etag, settings: s)
                return
            case .ignore:
                break
            }
        }

        beginHead(status)
        let type = fileType(entry, settings: s)
        appendContentType(type)
        appendContentLength(length)
        let varyForCompression =
            !vary && encoding == nil && s.gzipVary
            && varyApplies(settings: s, type: type, length: info.size, status: status)
        // As nginx: Last-Modified only on 200, 206 (and 304), not on error_page answers.
        if status == 200 || status == 206 { output.appendHeader("Last-Modified", entry.lastModified) }
        finishHead(settings: s, mtime: info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag) }
            if acceptRanges && status != 206 || acceptRanges && contentRange == nil {
                o.append("Accept-Ranges: bytes\r\n")
            }
            if let contentRange { o.appendHeader("Content-Range", contentRange) }
            if let encoding { o.appendHeader("Content-Encoding", Array(encoding.utf8)) }
            if vary || varyForCompression { o.append("Vary: Accept-Encoding\r\n") }
        }
        if !isHeadOnly && length > 0 {
            if let contents = entry.contents {
                contents.withUnsafeBytes {
                    appendBody(UnsafeRawBufferPointer(rebasing: $0[Int(start)..<Int(start + length)]))
                }
            } else {
                writer.sendFile(entry, offset: start, length: length)
            }
        }
        flushResponse()
    }

    /// 206 with a multipart/byteranges body, laid out as nginx does: each part is
    /// "\r\n--boundary\r\nContent-Type: ..\r\nContent-Range: bytes a-b/size\r\n\r\n" and
    /// its bytes, then "\r\n--boundary--\r\n".
    private func sendMultipart(
        _ entry: OpenFileCache.Entry, ranges: [ClosedRange<Int64>], etag: [UInt8]?, settings s: LocationSettings
    ) {
        let size = entry.info.size
        let boundary = worker.nextBoundary()
        var type = fileType(entry, settings: s)
        if let charset = charset(for: type) { type += "; charset=" + charset }
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
        beginHead(206)
        output.append("Content-Type: multipart/byteranges; boundary=")
        output.append(string: boundary)
        output.append("\r\n")
        appendContentLength(total)
        output.appendHeader("Last-Modified", entry.lastModified)
        finishHead(settings: s, mtime: entry.info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag) }
        }
        if !isHeadOnly {
            if let contents = entry.contents {
                for (r, p) in zip(ranges, prefixes) {
                    appendBody(p)
                    contents.withUnsafeBytes {
                        appendBody(UnsafeRawBufferPointer(rebasing: $0[Int(r.lowerBound)...Int(r.upperBound)]))
                    }
                }
                appendBody(trailer)
            } else {
                appendBody(prefixes[0])
                writer.sendFile(
                    entry, offset: ranges[0].lowerBound, length: ranges[0].upperBound - ranges[0].lowerBound + 1)
                for (r, p) in zip(ranges.dropFirst(), prefixes.dropFirst()) {
                    writer.pendingParts.append(
                        BodyPart(prefix: p, offset: r.lowerBound, length: r.upperBound - r.lowerBound + 1))
                }
                writer.pendingParts.append(BodyPart(prefix: trailer, offset: 0, length: 0))
                // Prefix bytes are counted with the body, as nginx counts them.
                bodyBytesSent += Int64(prefixes.dropFirst().reduce(0) { $0 + $1.count } + trailer.count)
            }
        }
        flushResponse()
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
    private func ifRangeAllows(_ buf: UnsafeRawBufferPointer, info: FileInfo, etag: [UInt8]?) -> Bool {
        guard let v = head.header(HeaderName.ifRange, in: buf) else { return true }
        let value = buf[v]
        if value.first == UInt8(ascii: "\"") { return etag.map { Array(value) == $0 } ?? false }
        if let t = HTTPDate.parse(UnsafeRawBufferPointer(rebasing: value)) { return t == info.mtime }
        return false
    }

    /// The entry's MIME type for this request's URI and location (cached on the entry).
    func fileType(_ entry: OpenFileCache.Entry, settings s: LocationSettings) -> String {
        let typeKey = ObjectIdentifier(s.types)
        if let c = entry.contentType, c.types == typeKey, c.defaultType == s.defaultType { return c.value }
        let value = contentType(for: self.uri, settings: s)
        entry.contentType = (typeKey, s.defaultType, value)
        return value
    }

    /// MIME type from the URI's extension (`types`), else `default_type`.
    func contentType(for uri: [UInt8], settings: LocationSettings) -> String {
        var i = uri.count - 1
        while i >= 0 {
            let c = uri[i]
            if c == UInt8(ascii: ".") {
                var ext = ""
                ext.reserveCapacity(uri.count - i)
                for b in uri[(i + 1)...] {
                    ext.unicodeScalars.append(Unicode.Scalar(b >= 65 && b <= 90 ? b | 0x20 : b))
                }
                return settings.types.byExtension[ext] ?? settings.defaultType
            }
            if c == UInt8(ascii: "/") { break }
            i -= 1
        }
        return settings.defaultType
    }
}
