// The response head of a proxied request: parse the upstream's head (skipping 1xx,
// retrying on http_5xx when `proxy_next_upstream` says so), act on X-Accel-Redirect
// and `proxy_intercept_errors`, choose on-the-fly compression, and write the client's
// head (hop-by-hop and hidden fields dropped, `proxy_redirect` and `proxy_cookie_*`
// applied) with the client's framing: kept length, or chunked / close-delimited when
// the upstream's length is unknown. The body relay and the 101 tunnel are in
// ClientConnection+ProxyRelay.swift.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ClientConnection {
    private static let serverName = Array("server".utf8)
    private static let dateName = Array("date".utf8)
    private static let upgradeName = Array("upgrade".utf8)
    private static let locationName = Array("location".utf8)
    private static let refreshName = Array("refresh".utf8)
    private static let setCookieName = Array("set-cookie".utf8)
    private static let etagName = Array("etag".utf8)

    private static let hopByHop: [[UInt8]] = [
        "connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te", "trailer",
    ].map { Array($0.utf8) }
    /// Headers of an X-Accel-Redirect answer that are kept for the redirected response.
    private static let keptOnRedirect: [[UInt8]] = [
        "set-cookie", "content-disposition", "cache-control", "expires", "accept-ranges", "content-type",
    ].map { Array($0.utf8) }

    // MARK: response head

    /// Reads and parses the response head; true when the phase changed.
    func readUpstreamHead(_ p: ProxySession) -> Bool {
        guard let u = p.upstream else { return true }
        let inb = p.upstreamInput
        let limit = p.settings.bufferSize
        while true {
            guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return false }
            if inb.writableCount < 4096 { inb.reserve(max(limit + 1, 16384) - inb.writerIndex) }
            do {
                switch try upstreamRead(u, inb.writable, inb.writableCount) {
                case .wouldBlock:
                    u.readReady = false
                    return false
                case .processed(0):
                    if p.reused && inb.writerIndex == 0 {
                        retryOnFreshConnection(p)
                        return true
                    }
                    logUpstream(
                        .error, "upstream prematurely closed connection while reading response header from upstream", p)
                    nextUpstream(p, .error)
                    return true
                case .processed(let n):
                    inb.writerIndex += n
                    p.responseLengths[p.responseLengths.count - 1] += Int64(n)
                }
            } catch {
                if p.reused && inb.writerIndex == 0 {
                    retryOnFreshConnection(p)
                    return true
                }
                logUpstream(.error, "\(error) while reading response header from upstream", p)
                nextUpstream(p, .error)
                return true
            }
            while true {
                switch p.parser.parse(inb.readable, into: &p.head) {
                case .incomplete:
                    if inb.readableCount > limit {
                        logUpstream(
                            .error, "upstream sent too big header while reading response header from upstream", p)
                        nextUpstream(p, .invalidHeader)
                        return true
                    }
                case .error(let e):
                    logUpstream(.error, "\(e.logMessage) while reading response header from upstream", p)
                    nextUpstream(p, .invalidHeader)
                    return true
                case .complete:
                    let status = p.head.status
                    if status >= 100 && status < 200 && status != 101 {
                        // An interim answer (100 Continue, 103): dropped, the real one follows.
                        inb.readerIndex += p.head.headLength
                        inb.compact()
                        p.parser.reset()
                        p.head.reset()
                        if inb.readableCount > 0 { continue }
                        break
                    }
                    upstreamHeadComplete(p)
                    return true
                }
                break
            }
        }
    }

    /// Decides what the parsed head leads to.
    private func upstreamHeadComplete(_ p: ProxySession) {
        let inb = p.upstreamInput
        let status = p.head.status
        let last = p.statuses.count - 1
        p.statuses[last] = status
        p.headerTimes[last] = worker.clock.milliseconds - p.tryStartedAt
        // Keep a copy of the head for $upstream_http_* (ranges of `head` index into it).
        p.headCopy.removeAll(keepingCapacity: true)
        p.headCopy.append(contentsOf: UnsafeRawBufferPointer(start: inb.base, count: p.head.headLength))
        if let condition = NextUpstream.status(status), canTryNext(p, condition) {
            // nginx counts these as failures, except 403 and 404.
            releasePeer(p, failed: status != 403 && status != 404)
            if let u = p.upstream { worker.closeUpstream(u) }
            p.upstream = nil
            p.responseTimes[last] = worker.clock.milliseconds - p.tryStartedAt
            p.phase = .connecting
            return
        }
        let ignored = p.settings.ignoreHeaders
        if hasUpstreamHeader(p, "x-accel-redirect"), !ignored.contains("x-accel-redirect"),
            let r = headerValue(p, "x-accel-redirect"), !r.isEmpty
        {
            acceleratedRedirect(p, to: r)
            return
        }
        if p.settings.interceptErrors && status >= 300,
            let settings = request.location?.settings, settings.errorPages[status] != nil
        {
            finishUpstream(p, reusable: false)
            state = .sending
            respondError(status)
            return
        }
        if status == 101 {
            guard head.upgrade != nil, p.settings.http11 else {
                logUpstream(.error, "upstream sent unexpected 101 while reading response header from upstream", p)
                nextUpstream(p, .invalidHeader)
                return
            }
        }
        writeProxyHead(p)
    }

    /// Whether the upstream's response has a field (no allocation).
    func hasUpstreamHeader(_ p: ProxySession, _ lowercasedName: StaticString) -> Bool {
        p.headCopy.withUnsafeBytes { p.head.header(lowercasedName, in: $0) != nil }
    }

    /// The value of a response header (first occurrence) from the head copy.
    func headerValue(_ p: ProxySession, _ lowercasedName: String) -> [UInt8]? {
        let name = Array(lowercasedName.utf8)
        return p.headCopy.withUnsafeBytes { buf in
            for h in p.head.headers where asciiCaseEqual(buf[h.name], name) { return Array(buf[h.value]) }
            return nil
        }
    }

    /// X-Accel-Redirect: an internal redirect to a URI or a named location, keeping
    /// the fields nginx keeps (Content-Type, Content-Disposition, Set-Cookie, ...).
    private func acceleratedRedirect(_ p: ProxySession, to target: [UInt8]) {
        request.carriedHeaders.removeAll(keepingCapacity: true)
        p.headCopy.withUnsafeBytes { buf in
            for h in p.head.headers where Self.keptOnRedirect.contains(where: { asciiCaseEqual(buf[h.name], $0) }) {
                if asciiCaseEqual(buf[h.name], Array("content-type".utf8)) {
                    request.carriedContentType = Array(buf[h.value])
                    continue
                }
                request.carriedHeaders += buf[h.name]
                request.carriedHeaders += Array(": ".utf8)
                request.carriedHeaders += buf[h.value]
                request.carriedHeaders += Array("\r\n".utf8)
            }
        }
        finishUpstream(p, reusable: false)
        state = .sending
        request.headOnly = isHeadOnly
        if target.first == UInt8(ascii: "@") {
            let name = String(decoding: target.dropFirst(), as: UTF8.self)
            if let server = request.server, let named = server.locations.named(name) {
                request.isInternal = true
                request.redirects += 1
                runLocation(named, captures: [])
                return
            }
            logError("could not find named location \"\(name)\"")
            respondError(500)
            return
        }
        var path = target
        var args: [UInt8]? = nil
        if let q = target.firstIndex(of: UInt8(ascii: "?")) {
            path = Array(target[..<q])
            args = Array(target[(q + 1)...])
        }
        // The target is a URI: decode %XX as nginx does for X-Accel-Redirect.
        var decoded: [UInt8] = []
        let ok = path.withUnsafeBytes { URINormalizer.normalize($0, mergeSlashes: false, into: &decoded) }
        internalRedirect(to: ok ? decoded : path, args: args ?? [])
    }

    /// Writes the client's response head from the upstream's, and sets up the body relay.
    private func writeProxyHead(_ p: ProxySession) {
        let status = p.head.status
        // The location's settings are read in place through it (never copied whole).
        let location = request.location
        output.writerIndex = max(responseStart, output.readerIndex)
        bodyBytesSent = 0
        request.status = status
        output.append("HTTP/1.1 ")
        output.append(decimal: Int64(status))
        let hidden = p.settings.hidden
        let passServer = !hidden.contains(Self.serverName) && hasUpstreamHeader(p, "server")
        let passDate = !hidden.contains(Self.dateName) && hasUpstreamHeader(p, "date")
        var coding: ContentCoding? = nil
        if let l = location, l.settings.gzip.enabled || l.settings.brotli.enabled || l.settings.zstd.enabled {
            coding = chooseProxyCoding(p, settings: l.settings)
        }
        p.headCopy.withUnsafeBytes { buf in
            let reason = buf[p.head.reason]
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
                let tokens = location?.settings.serverTokens ?? true
                output.append(tokens ? "Server: swiftginx/0.1.0\r\n" : "Server: swiftginx\r\n")
            }
            if !passDate { output.append(worker.clock.dateHeader) }
            for h in p.head.headers {
                let name = buf[h.name]
                if Self.hopByHop.contains(where: { asciiCaseEqual(name, $0) }) { continue }
                if status != 101 && asciiCaseEqual(name, Self.upgradeName) { continue }
                if hidden.contains(where: { asciiCaseEqual(name, $0) }) { continue }
                let raw = buf[h.value]
                var value: [UInt8]? = nil
                let isLocation = asciiCaseEqual(name, Self.locationName)
                if isLocation || asciiCaseEqual(name, Self.refreshName) {
                    // An upstream's relative Location stays relative; one that proxy_redirect
                    // rewrote to a relative URI is made absolute (absolute_redirect), as nginx does.
                    let original = Array(raw)
                    let rewritten = rewriteRedirect(p, original, isRefresh: !isLocation)
                    if isLocation, rewritten != original, rewritten.first == UInt8(ascii: "/"),
                        let location, location.settings.absoluteRedirect
                    {
                        value = absolutePrefix(settings: location.settings) + rewritten
                    } else {
                        value = rewritten
                    }
                } else if asciiCaseEqual(name, Self.setCookieName) {
                    if !p.settings.cookieDomains.isEmpty || !p.settings.cookiePaths.isEmpty {
                        value = rewriteCookie(p, Array(raw))
                    }
                } else if coding != nil, asciiCaseEqual(name, Self.etagName), raw.first != UInt8(ascii: "W") {
                    value = Array("W/".utf8) + raw
                } else if asciiCaseEqual(name, HeaderName.contentType) {
                    request.contentType.removeAll(keepingCapacity: true)
                    request.contentType.append(contentsOf: raw)
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
        let h = p.head
        p.noBody = isHeadOnly || status == 204 || status == 304 || status == 101
        let clientHTTP11 = head.version != .http10
        if let coding {
            output.append("Content-Encoding: ")
            output.append(string: coding.rawValue)
            output.append("\r\n")
            if location?.settings.gzipVary == true { output.append("Vary: Accept-Encoding\r\n") }
        }
        if let n = h.contentLength, coding == nil {
            if status != 204 && status != 304 { appendContentLength(n) }
            p.responseRemaining = p.noBody ? 0 : n
        } else {
            p.responseChunked = h.isChunked && !p.noBody ? ChunkedDecoder() : nil
            p.responseRemaining = p.noBody ? 0 : (h.contentLength ?? -1)
            if !p.noBody {
                if clientHTTP11 && (location?.settings.chunkedTransferEncoding ?? true) {
                    output.append("Transfer-Encoding: chunked\r\n")
                    p.clientChunked = true
                } else {
                    request.keepAlive = false
                }
            }
        }
        let xab =
            !hasUpstreamHeader(p, "x-accel-buffering") || p.settings.ignoreHeaders.contains("x-accel-buffering")
            ? nil : headerValue(p, "x-accel-buffering")
        p.buffering = xab.map { asciiCaseEqual($0, Array("yes".utf8)) } ?? p.settings.buffering
        p.keepUpstream =
            p.pass?.proto == .http && (p.group?.keepalive ?? 0) > 0 && !p.sentConnectionClose && h.keepAlive
            && status != 101 && (p.noBody || h.contentLength != nil || h.isChunked)
        finishHead(location: location)
        p.headerSent = true
        p.upstreamInput.readerIndex = h.headLength
        if p.upstreamInput.readableCount == 0 { p.upstreamInput.clear() }
        if status == 101 {
            beginTunnel(p)
            return
        }
        if p.noBody {
            p.upstreamDone = true
            if p.upstreamInput.readableCount > 0 { p.keepUpstream = false }
        } else if p.responseRemaining == 0 {
            p.upstreamDone = true
        }
        p.phase = .relaying
        p.timer = .relaying
        worker.schedule(self, after: p.settings.readTimeout)
    }

    // MARK: compression

    /// nginx's gzip filter on a proxied response: a 200/403/404 with a body, not already
    /// encoded, of a listed type, long enough when its length is known; gzip_proxied is
    /// decided from the upstream's own Expires / Cache-Control / Last-Modified / ETag.
    private func chooseProxyCoding(_ p: ProxySession, settings s: LocationSettings) -> ContentCoding? {
        guard s.gzip.enabled || s.brotli.enabled || s.zstd.enabled else { return nil }
        let status = p.head.status
        guard status == 200 || status == 403 || status == 404, !isHeadOnly else { return nil }
        guard !hasUpstreamHeader(p, "content-encoding"), let ct = headerValue(p, "content-type") else { return nil }
        let bare = ct.prefix { $0 != UInt8(ascii: ";") }.filter { $0 != 32 && $0 != 9 }
        let type = String(decoding: bare, as: UTF8.self).lowercased()
        let length = p.head.contentLength ?? Int64.max
        guard
            let (coding, config) = dynamicCoding(
                settings: s, type: type, length: length, proxied: { self.upstreamAllowsCompression(p, $0) })
        else { return nil }
        let key = "\(coding.rawValue)/\(config.level)"
        if let e = p.encoders[key], (try? e.reset()) != nil {
            p.encoder = e
        } else if let e = try? StreamingEncoder(coding: coding, level: config.level) {
            p.encoders[key] = e
            p.encoder = e
        } else {
            return nil
        }
        return coding
    }

    /// gzip_proxied from the upstream response's fields.
    private func upstreamAllowsCompression(_ p: ProxySession, _ rules: Set<String>) -> Bool {
        if rules.contains("any") { return true }
        if rules.contains("off") { return false }
        if rules.contains("auth"), head.header(HeaderName.authorization, in: headBytes) != nil { return true }
        if rules.contains("expired"), headerValue(p, "expires") != nil { return true }
        let cc = String(decoding: headerValue(p, "cache-control") ?? [], as: UTF8.self).lowercased()
        for token in ["no-cache", "no-store", "private"] where rules.contains(token) && cc.contains(token) {
            return true
        }
        if rules.contains("no_last_modified") && headerValue(p, "last-modified") == nil { return true }
        if rules.contains("no_etag") && headerValue(p, "etag") == nil { return true }
        return false
    }

    // MARK: proxy_redirect and proxy_cookie_*

    private func rewriteRedirect(_ p: ProxySession, _ value: [UInt8], isRefresh: Bool) -> [UInt8] {
        // Refresh: "5; url=http://..." — the URL part is rewritten.
        var prefix: [UInt8] = []
        var url = value
        if isRefresh {
            guard let r = findURL(in: value) else { return value }
            prefix = Array(value[..<r])
            url = Array(value[r...])
        }
        switch p.settings.redirect {
        case .off:
            return value
        case .default:
            guard let pass = p.pass, pass.dynamic == nil, let location = request.location else { return value }
            let from: [UInt8]
            let to: [UInt8]
            if let uri = pass.uri {
                from = Array(pass.schemeAndHost.utf8) + uri
                to = Array(location.prefix.utf8)
            } else {
                from = Array((pass.schemeAndHost + "/").utf8)
                to = Array("/".utf8)
            }
            if url.starts(with: from) { return prefix + to + url[from.count...] }
            return value
        case .rules(let rules):
            for rule in rules {
                if let regex = rule.regex {
                    let caps = url.withUnsafeBytes { regex.match($0) }
                    guard let caps else { continue }
                    let saved = (request.captureRegex, request.captureSubject, request.captures)
                    request.captureRegex = regex
                    request.captureSubject = url
                    request.captures = caps
                    let replaced = evaluate(rule.to)
                    (request.captureRegex, request.captureSubject, request.captures) = saved
                    return prefix + replaced
                }
                guard let fromValue = rule.from else { continue }
                let from = evaluate(fromValue)
                if url.starts(with: from) { return prefix + evaluate(rule.to) + url[from.count...] }
            }
            return value
        }
    }

    private func findURL(in value: [UInt8]) -> Int? {
        let lower = value.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }
        let needle = Array("url=".utf8)
        guard lower.count >= needle.count else { return nil }
        for i in 0...(lower.count - needle.count) where Array(lower[i..<(i + needle.count)]) == needle {
            return i + needle.count
        }
        return nil
    }

    /// `proxy_cookie_domain` / `proxy_cookie_path` on one Set-Cookie value.
    private func rewriteCookie(_ p: ProxySession, _ value: [UInt8]) -> [UInt8] {
        if p.settings.cookieDomains.isEmpty && p.settings.cookiePaths.isEmpty { return value }
        var parts = value.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false).map { Array($0) }
        for i in parts.indices.dropFirst() {
            var attr = parts[i]
            let lead = attr.prefix { $0 == 32 }.count
            attr.removeFirst(lead)
            guard let eq = attr.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = String(decoding: attr[..<eq], as: UTF8.self).lowercased()
            var v = Array(attr[(eq + 1)...])
            if key == "domain" {
                var bare = v
                if bare.first == UInt8(ascii: ".") { bare.removeFirst() }
                let text = String(decoding: bare, as: UTF8.self).lowercased()
                if let rule = p.settings.cookieDomains.first(where: { $0.from == text }) {
                    v = evaluate(rule.to)
                } else {
                    continue
                }
            } else if key == "path" {
                let text = String(decoding: v, as: UTF8.self)
                guard let rule = p.settings.cookiePaths.first(where: { text.hasPrefix($0.from) }) else { continue }
                v = evaluate(rule.to) + Array(text.utf8.dropFirst(rule.from.utf8.count))
            } else {
                continue
            }
            parts[i] = Array(repeating: 32, count: lead) + Array(attr[...eq]) + v
        }
        return Array(parts.joined(separator: [UInt8(ascii: ";")]))
    }
}
