// On-the-fly compression of static files (`gzip`, `brotli`, `zstd` and their
// `_types`, `_comp_level`, `_min_length`, plus `gzip_http_version`, `gzip_proxied`,
// `gzip_disable`, `gzip_vary`), decided as nginx's gzip filter decides: a 200 for
// a GET whose type is listed, at least min_length long, from a client that accepts
// the coding. The whole file is compressed once and the result is kept on the
// open-file-cache entry (files up to 1 MiB), so a popular asset is compressed
// once per worker, not per request; it is then sent with a Content-Length. Files
// over 8 MiB are sent uncompressed (see README). ETags become weak, as in nginx.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxPosix

extension ClientConnection {
    static let compressLimit: Int64 = 8 << 20
    static let compressCacheLimit: Int64 = 1 << 20

    /// Sends the file compressed when the configuration and the client allow it.
    func sendCompressed(_ entry: OpenFileCache.Entry, settings s: LocationSettings, etag: [UInt8]?) -> Bool {
        guard s.gzip.enabled || s.brotli.enabled || s.zstd.enabled else { return false }
        let size = entry.info.size
        guard size <= Self.compressLimit else { return false }
        let type = fileType(entry, settings: s)
        guard let (coding, config) = dynamicCoding(settings: s, type: type, length: size) else { return false }
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

    /// The coding to use for a response of `type` and `length`, or nil (nginx's
    /// ngx_http_gzip_ok and the filters' type/length checks).
    private func dynamicCoding(settings s: LocationSettings, type: String, length: Int64) -> (
        ContentCoding, DynamicCompression
    )? {
        let buf = headBytes
        guard let accept = head.header(HeaderName.acceptEncoding, in: buf) else { return nil }
        if s.gzipHTTPVersion11 && head.version != .http11 { return nil }
        if head.header(HeaderName.via, in: buf) != nil && !s.gzipProxied.contains("any") { return nil }
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
        var out: [UInt8] = []
        out.reserveCapacity(size / 3 + 64)
        var failure: CompressionError? = nil
        do {
            let encoder = try worker.encoder(coding, level: level)
            original.withUnsafeBytes { raw in
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

extension Array where Element == UInt8 {
    func firstSubrange(_ needle: [UInt8]) -> Int? {
        guard needle.count <= count else { return nil }
        for i in 0...(count - needle.count) where self[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
