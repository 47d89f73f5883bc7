// The client's response head of a proxied request, written from the upstream's:
// hop-by-hop and hidden fields dropped, `proxy_redirect` and `proxy_cookie_*` applied
// (ProxyHeaderRewriter), on-the-fly compression chosen (gzip_proxied from the
// upstream's own fields), and the client's framing: kept length, or chunked /
// close-delimited when the upstream's length is unknown. It then sets up the body
// relay or the 101 tunnel (UpstreamResponse+Relay.swift).

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP

extension UpstreamResponse {
    private static let serverName = Array("server".utf8)
    private static let dateName = Array("date".utf8)
    private static let yesValue = Array("yes".utf8)

    /// What the head writer does with a field, by its name.
    private enum FieldKind {
        case other, hopByHop, upgrade, acceptRanges, location, refresh, setCookie, etag, contentType
    }

    /// The field's kind: one candidate by length and first letter, then one
    /// case-insensitive comparison (a field of no interest costs two integer tests).
    @inline(__always) private static func fieldKind(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> FieldKind {
        let n = r.count
        guard n >= 2 && n <= 17 else { return .other }
        let name: StaticString
        let kind: FieldKind
        switch (n, buf[r.lowerBound] | 0x20) {
        case (2, UInt8(ascii: "t")): (name, kind) = ("te", .hopByHop)
        case (4, UInt8(ascii: "e")): (name, kind) = ("etag", .etag)
        case (7, UInt8(ascii: "t")): (name, kind) = ("trailer", .hopByHop)
        case (7, UInt8(ascii: "u")): (name, kind) = ("upgrade", .upgrade)
        case (7, UInt8(ascii: "r")): (name, kind) = ("refresh", .refresh)
        case (8, UInt8(ascii: "l")): (name, kind) = ("location", .location)
        case (10, UInt8(ascii: "c")): (name, kind) = ("connection", .hopByHop)
        case (10, UInt8(ascii: "k")): (name, kind) = ("keep-alive", .hopByHop)
        case (10, UInt8(ascii: "s")): (name, kind) = ("set-cookie", .setCookie)
        case (12, UInt8(ascii: "c")): (name, kind) = ("content-type", .contentType)
        case (13, UInt8(ascii: "a")): (name, kind) = ("accept-ranges", .acceptRanges)
        case (14, UInt8(ascii: "c")): (name, kind) = ("content-length", .hopByHop)
        case (16, UInt8(ascii: "p")): (name, kind) = ("proxy-connection", .hopByHop)
        case (17, UInt8(ascii: "t")): (name, kind) = ("transfer-encoding", .hopByHop)
        default: return .other
        }
        let lower = name.utf8Start
        for i in 1..<n {
            let c = buf[r.lowerBound + i]
            if (c >= 65 && c <= 90 ? c | 0x20 : c) != lower[i] { return .other }
        }
        return kind
    }

    /// Fields nginx reads as single values: a repeated one is ignored (with a warning).
    private static let uniqueNames: [[UInt8]] = [
        "status", "content-type", "date", "last-modified", "etag", "server", "location", "refresh", "expires",
        "x-accel-expires", "x-accel-redirect", "x-accel-limit-rate",
    ].map { Array($0.utf8) }

    /// The field's index in `uniqueNames`: one candidate by length and first letter,
    /// then one comparison (most fields cost two integer tests).
    @inline(__always) private static func uniqueIndex(_ buf: UnsafeRawBufferPointer, _ name: Range<Int>) -> Int? {
        let n = name.count
        guard n >= 4 && n <= 18 else { return nil }
        let first = buf[name.lowerBound] | 0x20
        let candidate: Int
        switch (n, first) {
        case (6, UInt8(ascii: "s")): candidate = buf[name.lowerBound + 1] | 0x20 == UInt8(ascii: "t") ? 0 : 5
        case (12, UInt8(ascii: "c")): candidate = 1
        case (4, UInt8(ascii: "d")): candidate = 2
        case (13, UInt8(ascii: "l")): candidate = 3
        case (4, UInt8(ascii: "e")): candidate = 4
        case (8, UInt8(ascii: "l")): candidate = 6
        case (7, UInt8(ascii: "r")): candidate = 7
        case (7, UInt8(ascii: "e")): candidate = 8
        case (15, UInt8(ascii: "x")): candidate = 9
        case (16, UInt8(ascii: "x")): candidate = 10
        case (18, UInt8(ascii: "x")): candidate = 11
        default: return nil
        }
        return uniqueNames[candidate].withUnsafeBufferPointer { lower in
            for i in 0..<n {
                let c = buf[name.lowerBound + i]
                if (c >= 65 && c <= 90 ? c | 0x20 : c) != lower[i] { return nil }
            }
            return candidate
        }
    }

    private func warnDuplicate(_ x: ProxyExchange, _ h: HeaderField, _ buf: UnsafeRawBufferPointer) {
        func line(_ f: HeaderField) -> String {
            String(decoding: buf[f.name], as: UTF8.self) + ": " + String(decoding: buf[f.value], as: UTF8.self)
        }
        let lower = buf[h.name].map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        guard let first = head.headers.first(where: { asciiCaseEqual(buf[$0.name], lower) }) else { return }
        x.logUpstream(
            .warn,
            "upstream sent duplicate header line: \"\(line(h))\", previous value: \"\(line(first))\", ignored"
                + " while reading response header from upstream")
    }

    /// Writes the client's response head from the upstream's, and sets up the body relay.
    func writeClientHead(_ x: ProxyExchange) {
        let status = head.status
        // The location's settings are read in place through it (never copied whole).
        let location = request.location
        output.writerIndex = max(request.responseStart, output.readerIndex)
        request.bodyBytesSent = 0
        request.status = status
        output.append("HTTP/1.1 ")
        output.append(decimal: Int64(status))
        let hidden = x.settings.hidden
        let hiddenLengths = x.settings.hiddenLengths
        // With proxy_pass_header Server / Date, nginx adds neither of its own, even when
        // the upstream sent none.
        let passServer = !hidden.contains(Self.serverName)
        let passDate = !hidden.contains(Self.dateName)
        var coding: ContentCoding? = nil
        recoder = nil
        recodeCarry.removeAll()
        if let l = location, l.settings.gzip.enabled || l.settings.brotli.enabled || l.settings.zstd.enabled {
            coding = chooseCoding(settings: l.settings)
        }
        headCopy.withUnsafeBytes { buf in
            let reason = buf[head.reason]
            if reason.isEmpty {
                let line = HTTPStatus.statusLine(status)
                // "HTTP/1.1 200 OK\r\n": the text after the code.
                output.append(Array(line.dropFirst(12).dropLast(2)))
            } else {
                output.append(UInt8(ascii: " "))
                output.append(UnsafeRawBufferPointer(rebasing: reason))
            }
            output.append("\r\n")
            if !passServer {
                output.append(ServerVersion.serverLine(location?.settings.serverTokens ?? .on))
            }
            if !passDate { output.append(worker.clock.dateHeader) }
            var seen: UInt16 = 0
            for h in head.headers {
                let name = buf[h.name]
                if let u = Self.uniqueIndex(buf, h.name) {
                    // nginx keeps the first of the fields it reads as single values.
                    if seen & (1 << u) != 0 {
                        warnDuplicate(x, h, buf)
                        continue
                    }
                    seen |= 1 << u
                }
                let kind = Self.fieldKind(buf, h.name)
                if kind == .hopByHop { continue }
                if status != 101 && kind == .upgrade { continue }
                if hiddenLengths & (1 << UInt64(min(63, name.count))) != 0
                    && hidden.contains(where: { asciiCaseEqual(name, $0) })
                {
                    continue
                }
                // A compressed body cannot be ranged: nginx's gzip filter drops Accept-Ranges.
                if coding != nil && kind == .acceptRanges { continue }
                let raw = buf[h.value]
                var value: [UInt8]? = nil
                let isLocation = kind == .location
                if isLocation || kind == .refresh {
                    // An upstream's relative Location stays relative; one that proxy_redirect
                    // rewrote to a relative URI is made absolute (absolute_redirect), as nginx does.
                    let original = Array(raw)
                    let rewritten = ProxyHeaderRewriter.redirect(
                        original, isRefresh: !isLocation, mode: x.settings.redirect, pass: x.pass, request: request)
                    if isLocation, rewritten != original, rewritten.first == UInt8(ascii: "/"),
                        let location, location.settings.absoluteRedirect
                    {
                        value = request.absolutePrefix(settings: location.settings) + rewritten
                    } else {
                        value = rewritten
                    }
                } else if kind == .setCookie {
                    let s = x.settings
                    if !s.cookieDomains.isEmpty || !s.cookiePaths.isEmpty || !s.cookieFlags.isEmpty {
                        value = CookieRewriter.rewrite(
                            UnsafeRawBufferPointer(rebasing: raw), settings: s, request: request)
                    }
                } else if coding != nil, kind == .etag, raw.first != UInt8(ascii: "W") {
                    value = Array("W/".utf8) + raw
                } else if kind == .contentType {
                    // The charset module may announce (and recode into) the location's charset.
                    if let l = location, !keepContentType { value = charsetContentType(raw, location: l, x) }
                    request.contentType.removeAll(keepingCapacity: true)
                    request.contentType.append(contentsOf: value ?? Array(raw))
                    // nginx writes its own "Content-Type" name (PHP sends "Content-type").
                    output.append("Content-Type: ")
                    if let value { output.append(value) } else { output.append(UnsafeRawBufferPointer(rebasing: raw)) }
                    output.append("\r\n")
                    continue
                }
                output.append(UnsafeRawBufferPointer(rebasing: name))
                output.append(": ")
                if let value {
                    output.append(value)
                } else {
                    output.append(UnsafeRawBufferPointer(rebasing: raw))
                }
                output.append("\r\n")
            }
        }
        // Body framing towards the client.
        let h = head
        // A HEAD sent upstream as GET for the cache: the body is stored, not sent.
        cacheOnly = request.isHeadOnly && cacheWriter != nil && x.cache.sendGET
        noBody = (request.isHeadOnly && !cacheOnly) || status == 204 || status == 304 || status == 101
        let clientHTTP11 = request.head.version != .http10
        if let coding {
            output.append("Content-Encoding: ")
            output.append(string: coding.rawValue)
            output.append("\r\n")
            if location?.settings.gzipVary == true { output.append("Vary: Accept-Encoding\r\n") }
        }
        // add_trailer: a body with trailers is chunked whatever the upstream's framing.
        sendTrailers = !noBody && ResponseTrailers.apply(request, status: status)
        if let n = h.contentLength, coding == nil, !sendTrailers, recoder?.keepsLength != false {
            if status != 204 && status != 304 { request.appendContentLength(n) }
            responseRemaining = noBody ? 0 : n
        } else {
            responseChunked = h.isChunked && !noBody ? ChunkedDecoder() : nil
            responseRemaining = noBody ? 0 : (h.contentLength ?? -1)
            if !noBody {
                if cacheOnly {
                    // No body follows for the client.
                } else if clientHTTP11 && (location?.settings.chunkedTransferEncoding ?? true) {
                    output.append("Transfer-Encoding: chunked\r\n")
                    clientChunked = true
                } else {
                    request.keepAlive = false
                }
            }
        }
        if clientTake >= 0 { responseRemaining = upstreamLength }
        let xab =
            !hasUpstreamHeader("x-accel-buffering") || x.settings.ignoreHeaders.contains("x-accel-buffering")
            ? nil : headerValue("x-accel-buffering")
        buffering = xab.map { asciiCaseEqual($0, Self.yesValue) } ?? x.settings.buffering
        memoryLimit = x.settings.buffers.count * x.settings.buffers.size
        maxTempFileSize = x.settings.maxTempFileSize
        keepUpstream =
            x.mayKeepConnection && h.keepAlive && status != 101 && (noBody || h.contentLength != nil || h.isChunked)
        // FastCGI: the connection is kept only after a clean END_REQUEST (recordsEnded).
        if fastcgi.active { keepUpstream = false }
        // `expires modified` counts from the upstream's Last-Modified, as nginx does.
        var mtime: Int? = nil
        if let l = location, l.settings.expires.usesModifiedTime, let v = headerValue("last-modified") {
            mtime = v.withUnsafeBytes { HTTPDate.parse($0) }
        }
        request.finishHead(location: location, mtime: mtime)
        headerSent = true
        upstreamInput.readerIndex = h.headLength
        if upstreamInput.readableCount == 0 { upstreamInput.clear() }
        if status == 101 {
            beginTunnel(x)
            return
        }
        if noBody {
            upstreamDone = true
            if upstreamInput.readableCount > 0 { keepUpstream = false }
        } else if responseRemaining == 0 {
            upstreamDone = true
        }
        x.phase = .relaying
        x.wait(for: .relaying, timeout: x.settings.readTimeout)
    }

    // MARK: compression

    /// nginx's gzip filter on a proxied response: a 200/403/404 with a body, not already
    /// encoded, of a listed type, long enough when its length is known; gzip_proxied is
    /// decided from the upstream's own Expires / Cache-Control / Last-Modified / ETag.
    private func chooseCoding(settings s: LocationSettings) -> ContentCoding? {
        guard s.gzip.enabled || s.brotli.enabled || s.zstd.enabled else { return nil }
        let status = head.status
        guard status == 200 || status == 403 || status == 404, !request.isHeadOnly else { return nil }
        guard !hasUpstreamHeader("content-encoding"), let ct = headerValue("content-type") else { return nil }
        let bare = ct.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != 32 && $0 != 9 }
        let type = String(decoding: bare, as: UTF8.self).lowercased()
        let length = head.contentLength ?? Int64.max
        guard
            let (coding, config) = request.dynamicCoding(
                settings: s, type: type, length: length, proxied: { self.upstreamAllowsCompression($0) })
        else { return nil }
        let key = "\(coding.rawValue)/\(config.level)"
        if let e = encoders[key], (try? e.reset()) != nil {
            encoder = e
        } else if let e = try? StreamingEncoder(coding: coding, level: config.level) {
            encoders[key] = e
            encoder = e
        } else {
            return nil
        }
        return coding
    }

    /// gzip_proxied from the upstream response's fields.
    private func upstreamAllowsCompression(_ rules: Set<String>) -> Bool {
        if rules.contains("any") { return true }
        if rules.contains("off") { return false }
        if rules.contains("auth"), request.head.header(HeaderName.authorization, in: request.headBytes) != nil {
            return true
        }
        if rules.contains("expired"), headerValue("expires") != nil { return true }
        let cc = String(decoding: headerValue("cache-control") ?? [], as: UTF8.self).lowercased()
        for token in ["no-cache", "no-store", "private"] where rules.contains(token) && cc.contains(token) {
            return true
        }
        if rules.contains("no_last_modified") && headerValue("last-modified") == nil { return true }
        if rules.contains("no_etag") && headerValue("etag") == nil { return true }
        return false
    }
}
