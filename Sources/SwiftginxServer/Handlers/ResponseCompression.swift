// nginx's gzip filter decisions, shared by every content handler that answers with
// a body it could compress (static files, `return`, error pages, the upstream status
// page, proxied responses): whether a response of a type, length and status is
// compressed and with which coding (`gzip`, `brotli`, `zstd`, their `_types` and
// `_min_length`, `gzip_http_version`, `gzip_proxied`, `gzip_disable`), whether it
// carries `Vary: Accept-Encoding` (`gzip_vary`), and compressing a body held in
// memory with the worker's pooled encoders. Like StaticFileHandler it is made for
// one call and is only the request reference. Request keeps two forwarders,
// `dynamicCoding` and `appendMemoryBodyHeaders`, for the handlers that call them
// on the request.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP

/// The compression decisions for one request's response.
struct ResponseCompression {
    let request: Request

    /// An in-memory body (`return` text, built-in error pages) compressed when nginx's gzip
    /// filter would compress it (status 200, 403 or 404); nil to send it as it is.
    func compressedBody(_ body: [UInt8], type: String, status: Int, settings s: LocationSettings?) -> (
        coding: ContentCoding, bytes: [UInt8], vary: Bool
    )? {
        guard let s, status == 200 || status == 403 || status == 404, !request.isHeadOnly,
            s.gzip.enabled || s.brotli.enabled || s.zstd.enabled,
            let (coding, config) = dynamicCoding(settings: s, type: type, length: Int64(body.count))
        else { return nil }
        guard let out = compressWhole(body, coding: coding, level: config.level) else { return nil }
        return (coding, out, s.gzipVary)
    }

    /// Appends Content-Type, Content-Length and Content-Encoding/Vary for an in-memory
    /// body, compressing it when that applies; returns the bytes to send.
    func appendMemoryBodyHeaders(_ body: [UInt8], type: String, status: Int, settings: LocationSettings?) -> [UInt8] {
        request.appendContentType(type)
        let output = request.output
        if let c = compressedBody(body, type: type, status: status, settings: settings) {
            request.appendContentLength(Int64(c.bytes.count))
            output.appendHeader("Content-Encoding", Array(c.coding.rawValue.utf8))
            if c.vary { output.append("Vary: Accept-Encoding\r\n") }
            return c.bytes
        }
        request.appendContentLength(Int64(body.count))
        if let s = settings, Self.varyApplies(settings: s, type: type, length: Int64(body.count), status: status) {
            output.append("Vary: Accept-Encoding\r\n")
        }
        return body
    }

    /// nginx's gzip_vary: Vary is sent for every response the filters could compress,
    /// whether or not this client accepted a coding.
    static func varyApplies(settings s: LocationSettings, type: String, length: Int64, status: Int) -> Bool {
        guard s.gzipVary, status == 200 || status == 403 || status == 404 else { return false }
        for c in [s.gzip, s.brotli, s.zstd] where c.enabled {
            if length >= Int64(c.minLength) && (c.types.contains(type) || c.types.contains("*")) { return true }
        }
        return false
    }

    /// The coding for a response of `type` and `length`, or nil (nginx's ngx_http_gzip_ok
    /// and the filters' type/length checks). `proxied` decides gzip_proxied for an
    /// upstream's response (its own Expires, Cache-Control, Last-Modified, ETag); by
    /// default the decision is made from this location's settings.
    func dynamicCoding(
        settings s: LocationSettings, type: String, length: Int64, isFile: Bool = false,
        proxied: ((Set<String>) -> Bool)? = nil
    ) -> (ContentCoding, DynamicCompression)? {
        let buf = request.headBytes
        guard let accept = request.head.header(HeaderName.acceptEncoding, in: buf) else { return nil }
        if s.gzipHTTPVersion11 && request.head.version != .http11 { return nil }
        if request.head.header(HeaderName.via, in: buf) != nil {
            if let proxied {
                if !proxied(s.gzipProxied) { return nil }
            } else if !proxiedAllows(s, isFile: isFile) {
                return nil
            }
        }
        if !s.gzipDisable.isEmpty || s.gzipDisableMSIE6, let ua = request.head.header(HeaderName.userAgent, in: buf) {
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
        if p.contains("auth"), request.head.header(HeaderName.authorization, in: request.headBytes) != nil {
            return true
        }
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
        for h in s.addHeaders where h.name.lowercased() == "cache-control" {
            cacheControl += request.evaluate(h.value)
        }
        let cc = String(decoding: cacheControl, as: UTF8.self).lowercased()
        for token in ["no-cache", "no-store", "private"] where p.contains(token) && cc.contains(token) { return true }
        if p.contains("no_last_modified") && !isFile { return true }
        if p.contains("no_etag") && !(isFile && s.etag) { return true }
        return false
    }

    /// Compresses a whole body with the worker's pooled encoder; nil (logged) on failure.
    func compressWhole(_ body: [UInt8], coding: ContentCoding, level: Int) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(body.count / 3 + 64)
        var failure: CompressionError? = nil
        do {
            let encoder = try request.worker.encoder(coding, level: level)
            body.withUnsafeBytes { raw in
                do throws(CompressionError) { try encoder.compress(raw, into: &out) } catch { failure = error }
            }
            if failure == nil { try encoder.finish(into: &out) }
        } catch {
            failure = error
        }
        if let failure {
            request.logError("\(coding.rawValue) compression failed: \(failure)", level: .alert)
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

extension Request {
    /// ResponseCompression.dynamicCoding, for the proxy exchange's response filter.
    func dynamicCoding(
        settings s: LocationSettings, type: String, length: Int64, isFile: Bool = false,
        proxied: ((Set<String>) -> Bool)? = nil
    ) -> (ContentCoding, DynamicCompression)? {
        ResponseCompression(request: self).dynamicCoding(
            settings: s, type: type, length: length, isFile: isFile, proxied: proxied)
    }

    /// ResponseCompression.appendMemoryBodyHeaders, for the handlers answering from memory
    /// (return, error pages, the upstream status page).
    func appendMemoryBodyHeaders(_ body: [UInt8], type: String, status: Int, settings: LocationSettings?) -> [UInt8] {
        ResponseCompression(request: self).appendMemoryBodyHeaders(
            body, type: type, status: status, settings: settings)
    }
}

extension Array where Element == UInt8 {
    func firstSubrange(_ needle: [UInt8]) -> Int? {
        guard needle.count <= count else { return nil }
        for i in 0...(count - needle.count) where self[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}
