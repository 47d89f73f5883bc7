// The response head of a proxied request: parse the upstream's head (skipping 1xx,
// retrying on http_5xx when `proxy_next_upstream` says so), act on X-Accel-Redirect
// and `proxy_intercept_errors`, choose on-the-fly compression, and write the client's
// head (hop-by-hop and hidden fields dropped, `proxy_redirect` and `proxy_cookie_*`
// applied) with the client's framing: kept length, or chunked / close-delimited when
// the upstream's length is unknown. The body relay and the 101 tunnel are in
// ProxyExchange+Relay.swift.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ProxyExchange {
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
    func readUpstreamHead() -> Bool {
        guard let u = upstream else { return true }
        let inb = upstreamInput
        let limit = settings.bufferSize
        while true {
            guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return false }
            if inb.writableCount < 4096 { inb.reserve(max(limit + 1, 16384) - inb.writerIndex) }
            do {
                switch try upstreamRead(u, inb.writable, inb.writableCount) {
                case .wouldBlock:
                    u.readReady = false
                    return false
                case .processed(0):
                    if reused && inb.writerIndex == 0 {
                        retryOnFreshConnection()
                        return true
                    }
                    logUpstream(
                        .error, "upstream prematurely closed connection while reading response header from upstream")
                    nextUpstream(.error)
                    return true
                case .processed(let n):
                    inb.writerIndex += n
                    responseLengths[responseLengths.count - 1] += Int64(n)
                }
            } catch {
                if reused && inb.writerIndex == 0 {
                    retryOnFreshConnection()
                    return true
                }
                logUpstream(.error, "\(error) while reading response header from upstream")
                nextUpstream(.error)
                return true
            }
            while true {
                switch parser.parse(inb.readable, into: &head) {
                case .incomplete:
                    if inb.readableCount > limit {
                        logUpstream(
                            .error, "upstream sent too big header while reading response header from upstream")
                        nextUpstream(.invalidHeader)
                        return true
                    }
                case .error(let e):
                    logUpstream(.error, "\(e.logMessage) while reading response header from upstream")
                    nextUpstream(.invalidHeader)
                    return true
                case .complete:
                    let status = head.status
                    if status >= 100 && status < 200 && status != 101 {
                        // An interim answer (100 Continue, 103): dropped, the real one follows.
                        inb.readerIndex += head.headLength
                        inb.compact()
                        parser.reset()
                        head.reset()
                        if inb.readableCount > 0 { continue }
                        break
                    }
                    upstreamHeadComplete()
                    return true
                }
                break
            }
        }
    }

    /// Decides what the parsed head leads to.
    private func upstreamHeadComplete() {
        let inb = upstreamInput
        let status = head.status
        let last = statuses.count - 1
        statuses[last] = status
        headerTimes[last] = worker.clock.milliseconds - tryStartedAt
        // Keep a copy of the head for $upstream_http_* (ranges of `head` index into it).
        headCopy.removeAll(keepingCapacity: true)
        headCopy.append(contentsOf: UnsafeRawBufferPointer(start: inb.base, count: head.headLength))
        if let condition = NextUpstream.status(status), canTryNext(condition) {
            // nginx counts these as failures, except 403 and 404.
            releasePeer(failed: status != 403 && status != 404)
            if let u = upstream { worker.closeUpstream(u) }
            upstream = nil
            responseTimes[last] = worker.clock.milliseconds - tryStartedAt
            phase = .connecting
            return
        }
        let ignored = settings.ignoreHeaders
        if hasUpstreamHeader("x-accel-redirect"), !ignored.contains("x-accel-redirect"),
            let r = headerValue("x-accel-redirect"), !r.isEmpty
        {
            acceleratedRedirect(to: r)
            return
        }
        if settings.interceptErrors && status >= 300,
            let settings = request.location?.settings, settings.errorPages[status] != nil
        {
            finishUpstream(reusable: false)
            request.respondError(status)
            return
        }
        if status == 101 {
            guard request.head.upgrade != nil, settings.http11 else {
                logUpstream(.error, "upstream sent unexpected 101 while reading response header from upstream")
                nextUpstream(.invalidHeader)
                return
            }
        }
        writeProxyHead()
    }

    /// Whether the upstream's response has a field (no allocation).
    func hasUpstreamHeader(_ lowercasedName: StaticString) -> Bool {
        headCopy.withUnsafeBytes { head.header(lowercasedName, in: $0) != nil }
    }

    /// The value of a response header (first occurrence) from the head copy.
    func headerValue(_ lowercasedName: String) -> [UInt8]? {
        let name = Array(lowercasedName.utf8)
        return headCopy.withUnsafeBytes { buf in
            for h in head.headers where asciiCaseEqual(buf[h.name], name) { return Array(buf[h.value]) }
            return nil
        }
    }

    /// X-Accel-Redirect: an internal redirect to a URI or a named location, keeping
    /// the fields nginx keeps (Content-Type, Content-Disposition, Set-Cookie, ...).
    private func acceleratedRedirect(to target: [UInt8]) {
        request.carriedHeaders.removeAll(keepingCapacity: true)
        headCopy.withUnsafeBytes { buf in
            for h in head.headers where Self.keptOnRedirect.contains(where: { asciiCaseEqual(buf[h.name], $0) }) {
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
        finishUpstream(reusable: false)
        request.headOnly = request.isHeadOnly
        if target.first == UInt8(ascii: "@") {
            let name = String(decoding: target.dropFirst(), as: UTF8.self)
            if let server = request.server, let named = server.locations.named(name) {
                request.isInternal = true
                request.redirects += 1
                request.runLocation(named, captures: [])
                return
            }
            request.logError("could not find named location \"\(name)\"")
            request.respondError(500)
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
        request.internalRedirect(to: ok ? decoded : path, args: args ?? [])
    }

    /// Writes the client's response head from the upstream's, and sets up the body relay.
    private func writeProxyHead() {
        let status = head.status
        // The location's settings are read in place through it (never copied whole).
        let location = request.location
        output.writerIndex = max(request.responseStart, output.readerIndex)
        request.bodyBytesSent = 0
        request.status = status
        output.append("HTTP/1.1 ")
        output.append(decimal: Int64(status))
        let hidden = settings.hidden
        let passServer = !hidden.contains(Self.serverName) && hasUpstreamHeader("server")
        let passDate = !hidden.contains(Self.dateName) && hasUpstreamHeader("date")
        var coding: ContentCoding? = nil
        if let l = location, l.settings.gzip.enabled || l.settings.brotli.enabled || l.settings.zstd.enabled {
            coding = chooseProxyCoding(settings: l.settings)
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
                let tokens = location?.settings.serverTokens ?? true
                output.append(tokens ? "Server: swiftginx/0.1.0\r\n" : "Server: swiftginx\r\n")
            }
            if !passDate { output.append(worker.clock.dateHeader) }
            for h in head.headers {
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
                    let rewritten = rewriteRedirect(original, isRefresh: !isLocation)
                    if isLocation, rewritten != original, rewritten.first == UInt8(ascii: "/"),
                        let location, location.settings.absoluteRedirect
                    {
                        value = request.absolutePrefix(settings: location.settings) + rewritten
                    } else {
                        value = rewritten
                    }
                } else if asciiCaseEqual(name, Self.setCookieName) {
                    if !settings.cookieDomains.isEmpty || !settings.cookiePaths.isEmpty {
                        value = rewriteCookie(Array(raw))
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
        let h = head
        noBody = request.isHeadOnly || status == 204 || status == 304 || status == 101
        let clientHTTP11 = request.head.version != .http10
        if let coding {
            output.append("Content-Encoding: ")
            output.append(string: coding.rawValue)
            output.append("\r\n")
            if location?.settings.gzipVary == true { output.append("Vary: Accept-Encoding\r\n") }
        }
        if let n = h.contentLength, coding == nil {
            if status != 204 && status != 304 { request.appendContentLength(n) }
            responseRemaining = noBody ? 0 : n
        } else {
            responseChunked = h.isChunked && !noBody ? ChunkedDecoder() : nil
            responseRemaining = noBody ? 0 : (h.contentLength ?? -1)
            if !noBody {
                if clientHTTP11 && (location?.settings.chunkedTransferEncoding ?? true) {
                    output.append("Transfer-Encoding: chunked\r\n")
                    clientChunked = true
                } else {
                    request.keepAlive = false
                }
            }
        }
        let xab =
            !hasUpstreamHeader("x-accel-buffering") || settings.ignoreHeaders.contains("x-accel-buffering")
            ? nil : headerValue("x-accel-buffering")
        buffering = xab.map { asciiCaseEqual($0, Array("yes".utf8)) } ?? settings.buffering
        keepUpstream =
            pass?.proto == .http && (group?.keepalive ?? 0) > 0 && !sentConnectionClose && h.keepAlive
            && status != 101 && (noBody || h.contentLength != nil || h.isChunked)
        request.finishHead(location: location)
        headerSent = true
        upstreamInput.readerIndex = h.headLength
        if upstreamInput.readableCount == 0 { upstreamInput.clear() }
        if status == 101 {
            beginTunnel()
            return
        }
        if noBody {
            upstreamDone = true
            if upstreamInput.readableCount > 0 { keepUpstream = false }
        } else if responseRemaining == 0 {
            upstreamDone = true
        }
        phase = .relaying
        timer = .relaying
        request.schedule(after: settings.readTimeout)
    }

    // MARK: compression

    /// nginx's gzip filter on a proxied response: a 200/403/404 with a body, not already
    /// encoded, of a listed type, long enough when its length is known; gzip_proxied is
    /// decided from the upstream's own Expires / Cache-Control / Last-Modified / ETag.
    private func chooseProxyCoding(settings s: LocationSettings) -> ContentCoding? {
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

    // MARK: proxy_redirect and proxy_cookie_*

    private func rewriteRedirect(_ value: [UInt8], isRefresh: Bool) -> [UInt8] {
        // Refresh: "5; url=http://..." — the URL part is rewritten.
        var prefix: [UInt8] = []
        var url = value
        if isRefresh {
            guard let r = findURL(in: value) else { return value }
            prefix = Array(value[..<r])
            url = Array(value[r...])
        }
        switch settings.redirect {
        case .off:
            return value
        case .default:
            guard let pass = pass, pass.dynamic == nil, let location = request.location else { return value }
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
                    let replaced = request.evaluate(rule.to)
                    (request.captureRegex, request.captureSubject, request.captures) = saved
                    return prefix + replaced
                }
                guard let fromValue = rule.from else { continue }
                let from = request.evaluate(fromValue)
                if url.starts(with: from) { return prefix + request.evaluate(rule.to) + url[from.count...] }
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
    private func rewriteCookie(_ value: [UInt8]) -> [UInt8] {
        if settings.cookieDomains.isEmpty && settings.cookiePaths.isEmpty { return value }
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
                if let rule = settings.cookieDomains.first(where: { $0.from == text }) {
                    v = request.evaluate(rule.to)
                } else {
                    continue
                }
            } else if key == "path" {
                let text = String(decoding: v, as: UTF8.self)
                guard let rule = settings.cookiePaths.first(where: { text.hasPrefix($0.from) }) else { continue }
                v = request.evaluate(rule.to) + Array(text.utf8.dropFirst(rule.from.utf8.count))
            } else {
                continue
            }
            parts[i] = Array(repeating: 32, count: lead) + Array(attr[...eq]) + v
        }
        return Array(parts.joined(separator: [UInt8(ascii: ";")]))
    }
}
