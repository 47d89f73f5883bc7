// On-the-fly compression of static files (`gzip`, `brotli`, `zstd` and their
// `_types`, `_comp_level`, `_min_length`, plus `gzip_http_version`, `gzip_proxied`,
// `gzip_disable`, `gzip_vary`), decided as nginx's gzip filter decides: a 200 for
// a GET whose type is listed, at least min_length long, from a client that accepts
// the coding. The whole file is compressed once and the result is kept on the
// open-file-cache entry (files up to 1 MiB), so a popular asset is compressed
// once per worker, not per request; it is then sent with a Content-Length. Files
// over 8 MiB are compressed while they are sent, block by block as the socket takes
// them (chunked). ETags become weak, as in nginx.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxPosix

extension Request {
    static let compressLimit: Int64 = 8 << 20
    static let compressCacheLimit: Int64 = 1 << 20

    /// Sends the file compressed when the configuration and the client allow it.
    func sendCompressed(_ entry: OpenFileCache.Entry, settings s: LocationSettings, etag: [UInt8]?) -> Bool {
        guard s.gzip.enabled || s.brotli.enabled || s.zstd.enabled else { return false }
        let size = entry.info.size
        let type = fileType(entry, settings: s)
        guard let (coding, config) = dynamicCoding(settings: s, type: type, length: size, isFile: true) else {
            return false
        }
        if size > Self.compressLimit {
            return startCompressedStream(
                entry, coding: coding, level: config.level, type: type, settings: s, etag: etag)
        }
        let body: [UInt8]
        if let cached = entry.compressed[coding], cached.level == config.level {
            body = cached.bytes
        } else {
            guard let fresh = compress(entry, coding: coding, level: config.level) else { return false }
            if size <= Self.compressCacheLimit { entry.compressed[coding] = (config.level, fresh) }
            body = fresh
        }
        beginHead(200)
        appendContentType(type)
        appendContentLength(Int64(body.count))
        output.appendHeader("Last-Modified", entry.lastModified)
        finishHead(settings: s, mtime: entry.info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag.first == UInt8(ascii: "W") ? etag : Array("W/".utf8) + etag) }
            o.appendHeader("Content-Encoding", Array(coding.rawValue.utf8))
            if s.gzipVary { o.append("Vary: Accept-Encoding\r\n") }
        }
        appendBody(body)
        flushResponse()
        return true
    }

    /// A large file compressed while it is sent: read in 64 KiB blocks only when the socket
    /// has taken the previous output, sent chunked (HTTP/1.1) or until close (HTTP/1.0).
    private func startCompressedStream(
        _ entry: OpenFileCache.Entry, coding: ContentCoding, level: Int, type: String, settings s: LocationSettings,
        etag: [UInt8]?
    ) -> Bool {
        guard let encoder = try? StreamingEncoder(coding: coding, level: level) else { return false }
        let chunked = head.version == .http11
        if !chunked { self.keepAlive = false }
        beginHead(200)
        appendContentType(type)
        if chunked { output.append("Transfer-Encoding: chunked\r\n") }
        output.appendHeader("Last-Modified", entry.lastModified)
        finishHead(settings: s, mtime: entry.info.mtime) { o in
            if let etag { o.appendHeader("ETag", etag.first == UInt8(ascii: "W") ? etag : Array("W/".utf8) + etag) }
            o.appendHeader("Content-Encoding", Array(coding.rawValue.utf8))
            if s.gzipVary { o.append("Vary: Accept-Encoding\r\n") }
        }
        writer.sendFile(entry, offset: 0, length: 0)
        writer.compressedStream = CompressedStream(encoder: encoder, size: entry.info.size, chunked: chunked)
        flushResponse()
        return true
    }

    /// Produces the next block of a compressed stream into `output`; false when it has ended.
    func produceCompressedBlock() -> Bool {
        guard let cs = writer.compressedStream, !cs.done, let entry = writer.fileEntry else { return false }
        let block = Int(min(Int64(cs.input.count), cs.size - cs.offset))
        cs.staging.removeAll(keepingCapacity: true)
        do {
            if block > 0 {
                let ok = cs.input.withUnsafeMutableBytes {
                    FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: block, offset: cs.offset)
                }
                if !ok {
                    // The file shrank under us: the framing is broken, close.
                    logError("pread() of \"\(String(decoding: pathBuffer, as: UTF8.self))\" came up short")
                    self.keepAlive = false
                    cs.done = true
                    return false
                }
                cs.offset += Int64(block)
                var failure: CompressionError? = nil
                var staging = cs.staging
                cs.staging = []
                cs.input.withUnsafeBytes { raw in
                    do throws(CompressionError) {
                        try cs.encoder.compress(UnsafeRawBufferPointer(rebasing: raw[0..<block]), into: &staging)
                    } catch {
                        failure = error
                    }
                }
                cs.staging = staging
                if let failure { throw failure }
            }
            if cs.offset >= cs.size {
                try cs.encoder.finish(into: &cs.staging)
                cs.done = true
            }
        } catch {
            logError("\(cs.encoder.coding.rawValue) compression failed: \(error)", level: .alert)
            self.keepAlive = false
            cs.done = true
            return false
        }
        if !cs.staging.isEmpty {
            if cs.chunked {
                output.append(string: String(cs.staging.count, radix: 16))
                output.append("\r\n")
            }
            output.append(cs.staging)
            if cs.chunked { output.append("\r\n") }
            bodyBytesSent += Int64(cs.staging.count)
        }
        if cs.done && cs.chunked { output.append("0\r\n\r\n") }
        return true
    }

    /// An in-memory body (`return` text, built-in error pages) compressed when nginx's gzip
    /// filter would compress it (status 200, 403 or 404); nil to send it as it is.
    func compressedBody(_ body: [UInt8], type: String, status: Int, settings s: LocationSettings?) -> (
        coding: ContentCoding, bytes: [UInt8], vary: Bool
    )? {
        guard let s, status == 200 || status == 403 || status == 404, !isHeadOnly,
            s.gzip.enabled || s.brotli.enabled || s.zstd.enabled,
            let (coding, config) = dynamicCoding(settings: s, type: type, length: Int64(body.count))
        else { return nil }
        guard let out = compressWhole(body, coding: coding, level: config.level) else { return nil }
        return (coding, out, s.gzipVary)
    }

    /// Appends Content-Type, Content-Length and Content-Encoding/Vary for an in-memory
    /// body, compressing it when that applies; returns the bytes to send.
    func appendMemoryBodyHeaders(_ body: [UInt8], type: String, status: Int, settings: LocationSettings?) -> [UInt8] {
        appendContentType(type)
        if let c = compressedBody(body, type: type, status: status, settings: settings) {
            appendContentLength(Int64(c.bytes.count))
            output.appendHeader("Content-Encoding", Array(c.coding.rawValue.utf8))
            if c.vary { output.append("Vary: Accept-Encoding\r\n") }
            return c.bytes
        }
        appendContentLength(Int64(body.count))
        if let s = settings, varyApplies(settings: s, type: type, length: Int64(body.count), status: status) {
            output.append("Vary: Accept-Encoding\r\n")
        }
        return body
    }

    /// nginx's gzip_vary: Vary is sent for every response the filters could compress,
    /// whether or not this client accepted a coding.
    func varyApplies(settings s: LocationSettings, type: String, length: Int64, status: Int) -> Bool {
        guard s.gzipVary, status == 200 || status == 403 || status == 404 else { return false }
        for c in [s.gzip, s.brotli, s.zstd] where c.enabled {
            if length >= Int64(c.minLength) && (c.types.contains(type) || c.types.contains("*")) { return true }
        }
        return false
    }

    /// The coding to use for a response of `type` and `length`, or nil (nginx's
    /// ngx_http_gzip_ok and the filters' type/length checks).
    /// The coding for a response, or nil. `proxied` decides gzip_proxied for an upstream's
    /// response (its own Expires, Cache-Control, Last-Modified, ETag); by default the
    /// decision is made from this location's settings.
    func dynamicCoding(
        settings s: LocationSettings, type: String, length: Int64, isFile: Bool = false,
        proxied: ((Set<String>) -> Bool)? = nil
    ) -> (ContentCoding, DynamicCompression)? {
        let buf = headBytes
        guard let accept = head.header(HeaderName.acceptEncoding, in: buf) else { return nil }
        if s.gzipHTTPVersion11 && head.version != .http11 { return nil }
        if head.header(HeaderName.via, in: buf) != nil {
            if let proxied {
                if !proxied(s.gzipProxied) { return nil }
            } else if !proxiedAllows(s, isFile: isFile) {
                return nil
            }
        }
        if !s.gzipDisable.isEmpty || s.gzipDisableMSIE6, let ua = head.header(HeaderName.userAgent, in: buf) {
            let agent = UnsafeRawBufferPointer(rebasing: buf[ua])
            if s.gzipDisableMSIE6 && Self.isMSIE6(agent) { return nil }
            for r in s.gzipDisable where r.matches(agent) { return nil }
        }
        var candidates: [(ContentCoding, DynamicCompression)] = []
        for (coding, c) in [(ContentCoding.br, s.brotli), (.zstd, s.zstd), (.gzip, s.gzip)] where c.enabled {
            if length < Int64(c.minLength) { continue }
            if !(c.types.contains(type) || c.types.contains("*")) { continue }
            candidates.append((coding, c))
        }
        if candidates.isEmpty { return nil }
        let value = UnsafeRawBufferPointer(rebasing: buf[accept])
        guard let chosen = AcceptEncoding.preferred(value, available: candidates.map { $0.0 }) else { return nil }
        return candidates.first { $0.0 == chosen }
    }

    /// nginx's gzip_proxied for a request that came through a proxy (`Via`): whether the
    /// response about to be sent qualifies. Static files carry Last-Modified (and ETag when
    /// `etag on`); in-memory bodies carry neither. Expires and Cache-Control come from
    /// `expires` and `add_header`.
    private func proxiedAllows(_ s: LocationSettings, isFile: Bool) -> Bool {
        let p = s.gzipProxied
        if p.contains("any") { return true }
        if p.contains("off") { return false }
        if p.contains("auth"), head.header(HeaderName.authorization, in: headBytes) != nil { return true }
        if p.contains("expired") {
            switch s.expires {
            case .epoch: return true
            case .access(let t) where t < 0: return true
            default: break
            }
        }
        var cacheControl: [UInt8] = []
        switch s.expires {
        case .epoch: cacheControl += Array("no-cache".utf8)
        case .access(let t) where t < 0: cacheControl += Array("no-cache".utf8)
        default: break
        }
        for h in s.addHeaders where h.name.lowercased() == "cache-control" { cacheControl += evaluate(h.value) }
        let cc = String(decoding: cacheControl, as: UTF8.self).lowercased()
        for token in ["no-cache", "no-store", "private"] where p.contains(token) && cc.contains(token) { return true }
        if p.contains("no_last_modified") && !isFile { return true }
        if p.contains("no_etag") && !(isFile && s.etag) { return true }
        return false
    }

    /// Reads and compresses the whole file.
    private func compress(_ entry: OpenFileCache.Entry, coding: ContentCoding, level: Int) -> [UInt8]? {
        let size = Int(entry.info.size)
        var original: [UInt8]
        if let contents = entry.contents {
            original = contents
        } else {
            original = [UInt8](repeating: 0, count: size)
            let ok = original.withUnsafeMutableBytes {
                FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: size, offset: 0)
            }
            if !ok { return nil }
        }
        return compressWhole(original, coding: coding, level: level)
    }

    /// Compresses a whole body with the worker's pooled encoder; nil (logged) on failure.
    private func compressWhole(_ body: [UInt8], coding: ContentCoding, level: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(body.count / 3 + 64)
        var failure: CompressionError? = nil
        do {
            let encoder = try worker.encoder(coding, level: level)
            body.withUnsafeBytes { raw in
                do throws(CompressionError) { try encoder.compress(raw, into: &out) } catch { failure = error }
            }
            if failure == nil { try encoder.finish(into: &out) }
        } catch {
            failure = error
        }
        if let failure {
            logError("\(coding.rawValue) compression failed: \(failure)", level: .alert)
            return nil
        }
        return out
    }

    /// nginx's `gzip_disable msie6`: "MSIE 4", "MSIE 5", "MSIE 6" without "SV1".
    private static func isMSIE6(_ ua: UnsafeRawBufferPointer) -> Bool {
        let a = Array(ua)
        guard let i = a.firstSubrange(Array("MSIE ".utf8)) else { return false }
        let next = i + 5
        guard next < a.count, a[next] >= UInt8(ascii: "4"), a[next] <= UInt8(ascii: "6") else { return false }
        return a.firstSubrange(Array("SV1".utf8)) == nil || a[next] != UInt8(ascii: "6")
    }
}

/// The state of one streamed compressed response.
final class CompressedStream {
    let encoder: StreamingEncoder
    let size: Int64
    let chunked: Bool
    var offset: Int64 = 0
    var done = false
    var input = [UInt8](repeating: 0, count: 64 * 1024)
    var staging: [UInt8] = []

    init(encoder: StreamingEncoder, size: Int64, chunked: Bool) {
        self.encoder = encoder
        self.size = size
        self.chunked = chunked
    }
}

extension Array where Element == UInt8 {
    func firstSubrange(_ needle: [UInt8]) -> Int? {
        guard needle.count <= count else { return nil }
        for i in 0...(count - needle.count) where self[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
