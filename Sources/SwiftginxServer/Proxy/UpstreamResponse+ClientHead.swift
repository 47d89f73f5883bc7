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
    private static let yesValue = Array("yes".utf8)

    /// What the head writer does with a field, by its name.
    private enum FieldKind {
        case other, hopByHop, upgrade, acceptRanges, location, refresh, setCookie, etag, contentType
    }

    /// A field's kind, and its bit among the fields nginx reads as single values (status,
    /// content-type, date, last-modified, etag, server, location, refresh, expires and
    /// the x-accel ones: a repeated one is ignored with a warning; 0: not one of them).
    private struct FieldClass {
        var kind: FieldKind
        var unique: UInt16
    }

    /// `name` equals `target` (lowercase letters and '-') whatever the letters' case:
    /// words compared with 0x20 set in each byte, which over header-name characters only
    /// makes an upper-case letter lower case. Two overlapping loads cover any length 2...16.
    @inline(__always)
    private static func named(_ buf: UnsafeRawBufferPointer, _ at: Int, _ n: Int, _ target: StaticString) -> Bool {
        let t = UnsafeRawPointer(target.utf8Start)
        if n >= 8 {
            let a = buf.loadUnaligned(fromByteOffset: at, as: UInt64.self) | 0x2020_2020_2020_2020
            let b = buf.loadUnaligned(fromByteOffset: at + n - 8, as: UInt64.self) | 0x2020_2020_2020_2020
            return a == t.loadUnaligned(as: UInt64.self) && b == t.loadUnaligned(fromByteOffset: n - 8, as: UInt64.self)
        }
        if n >= 4 {
            let a = buf.loadUnaligned(fromByteOffset: at, as: UInt32.self) | 0x2020_2020
            let b = buf.loadUnaligned(fromByteOffset: at + n - 4, as: UInt32.self) | 0x2020_2020
            return a == t.loadUnaligned(as: UInt32.self) && b == t.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)
        }
        return buf.loadUnaligned(fromByteOffset: at, as: UInt16.self) | 0x2020 == t.loadUnaligned(as: UInt16.self)
    }

    /// The field's class: one candidate by length and first letter, then one word
    /// comparison (a field of no interest costs a jump and a test).
    @inline(__always) private static func classify(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> FieldClass {
        let n = r.count
        let at = r.lowerBound
        let other = FieldClass(kind: .other, unique: 0)
        guard n >= 2 && n <= 18 else { return other }
        let first = buf[at] | 0x20
        let name: StaticString
        var result = other
        switch n {
        case 2:
            guard first == UInt8(ascii: "t") else { return other }
            (name, result.kind) = ("te", .hopByHop)
        case 4:
            if first == UInt8(ascii: "d") {
                (name, result.unique) = ("date", 1 << 2)
            } else if first == UInt8(ascii: "e") {
                (name, result.kind, result.unique) = ("etag", .etag, 1 << 4)
            } else {
                return other
            }
        case 6:
            guard first == UInt8(ascii: "s") else { return other }
            if buf[at + 1] | 0x20 == UInt8(ascii: "t") {
                (name, result.unique) = ("status", 1 << 0)
            } else {
                (name, result.unique) = ("server", 1 << 5)
            }
        case 7:
            switch first {
            case UInt8(ascii: "t"): (name, result.kind) = ("trailer", .hopByHop)
            case UInt8(ascii: "u"): (name, result.kind) = ("upgrade", .upgrade)
            case UInt8(ascii: "r"): (name, result.kind, result.unique) = ("refresh", .refresh, 1 << 7)
            case UInt8(ascii: "e"): (name, result.unique) = ("expires", 1 << 8)
            default: return other
            }
        case 8:
            guard first == UInt8(ascii: "l") else { return other }
            (name, result.kind, result.unique) = ("location", .location, 1 << 6)
        case 10:
            switch first {
            case UInt8(ascii: "c"): (name, result.kind) = ("connection", .hopByHop)
            case UInt8(ascii: "k"): (name, result.kind) = ("keep-alive", .hopByHop)
            case UInt8(ascii: "s"): (name, result.kind) = ("set-cookie", .setCookie)
            default: return other
            }
        case 12:
            guard first == UInt8(ascii: "c") else { return other }
            (name, result.kind, result.unique) = ("content-type", .contentType, 1 << 1)
        case 13:
            if first == UInt8(ascii: "l") {
                (name, result.unique) = ("last-modified", 1 << 3)
            } else if first == UInt8(ascii: "a") {
                (name, result.kind) = ("accept-ranges", .acceptRanges)
            } else {
                return other
            }
        case 14:
            guard first == UInt8(ascii: "c") else { return other }
            (name, result.kind) = ("content-length", .hopByHop)
        case 15:
            guard first == UInt8(ascii: "x") else { return other }
            (name, result.unique) = ("x-accel-expires", 1 << 9)
        case 16:
            if first == UInt8(ascii: "x") {
                (name, result.unique) = ("x-accel-redirect", 1 << 10)
            } else if first == UInt8(ascii: "p") {
                (name, result.kind) = ("proxy-connection", .hopByHop)
            } else {
                return other
            }
        case 17:
            guard first == UInt8(ascii: "t") else { return other }
            (name, result.kind) = ("transfer-encoding", .hopByHop)
        case 18:
            guard first == UInt8(ascii: "x") else { return other }
            (name, result.unique) = ("x-accel-limit-rate", 1 << 11)
        default:
            return other
        }
        return named(buf, at, n, name) ? result : other
    }

    /// `FieldClass.unique` of Server and Date.
    private static let serverBit: UInt16 = 1 << 5
    private static let dateBit: UInt16 = 1 << 2

    /// Where the field's line ends (after its CRLF) when the upstream wrote it exactly as
    /// the client head would ("Name: value\r\n": one SP, no trailing OWS); nil otherwise.
    @inline(__always)
    private static func canonicalLineEnd(_ buf: UnsafeRawBufferPointer, _ h: HeaderField) -> Int? {
        let colon = h.name.upperBound
        let end = h.value.upperBound
        guard h.value.lowerBound == colon &+ 2, end &+ 2 <= buf.count, buf[colon &+ 1] == ASCII.sp,
            buf[end] == ASCII.cr, buf[end &+ 1] == ASCII.lf
        else { return nil }
        return end &+ 2
    }

    /// Appends the pending run of unchanged upstream lines, if any, and empties it.
    @inline(__always)
    private func flushRun(_ buf: UnsafeRawBufferPointer, _ run: inout Range<Int>) {
        guard !run.isEmpty else { return }
        output.append(UnsafeRawBufferPointer(rebasing: buf[run]))
        run = run.upperBound..<run.upperBound
    }

    private func warnDuplicate(_ x: ProxyExchange, _ h: HeaderField, _ buf: UnsafeRawBufferPointer) {
        headVaries = true
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
    /// `xAccel`: what `mayHaveXAccelField()` answered for this head, when already asked;
    /// `relayFollows`: the exchange's drive loop relays at once (the relay arms the read or
    /// send timer itself whenever it waits, so none is armed here).
    func writeClientHead(_ x: ProxyExchange, xAccel: Bool? = nil, relayFollows: Bool = false) {
        // An error page answered by the proxy keeps the error's status (nginx's err_status,
        // with its own reason phrase); `error_page ... = uri` takes the upstream's.
        let status = request.overrideStatus ?? head.status
        // The location's settings are read in place through it (never copied whole).
        let location = request.location
        output.writerIndex = max(request.responseStart, output.readerIndex)
        request.bodyBytesSent = 0
        request.status = status
        output.append("HTTP/1.1 ")
        if status >= 100 && status <= 999 {
            // Three digits written as they are (the usual case; no general number formatting).
            output.append(UInt8(truncatingIfNeeded: 0x30 + status / 100))
            output.append(UInt8(truncatingIfNeeded: 0x30 + status / 10 % 10))
            output.append(UInt8(truncatingIfNeeded: 0x30 + status % 10))
        } else {
            output.append(decimal: Int64(status))
        }
        // The hidden names are read from the settings only for a field of a hidden length.
        let hiddenLengths = x.settings.hiddenLengths
        // With proxy_pass_header Server / Date, nginx adds neither of its own, even when
        // the upstream sent none.
        let passServer = !x.settings.hidesServer
        let passDate = !x.settings.hidesDate
        var coding: ContentCoding? = nil
        if recoder != nil { recoder = nil }
        if !recodeCarry.isEmpty { recodeCarry.removeAll() }
        if ssi != nil { ssi = nil }
        if let l = location, l.settings.ssi.enabled { startSSI(l) }
        headVaries = false
        if let l = location, l.settings.gzip.enabled || l.settings.brotli.enabled || l.settings.zstd.enabled {
            coding = chooseCoding(settings: l.settings)
        }
        headCopy.withUnsafeBytes { buf in
            let reason = buf[head.reason]
            if reason.isEmpty || status != head.status {
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
            // Fields passed unchanged whose line is already "Name: value\r\n" are copied
            // from the upstream's head in runs of adjacent lines (one append per run).
            var run = 0..<0
            for h in head.headers {
                let name = buf[h.name]
                let field = Self.classify(buf, h.name)
                if field.unique != 0 {
                    // nginx keeps the first of the fields it reads as single values.
                    if seen & field.unique != 0 {
                        warnDuplicate(x, h, buf)
                        continue
                    }
                    seen |= field.unique
                }
                let kind = field.kind
                if kind == .hopByHop { continue }
                // Upgrade goes to HTTP/1.x clients only (nginx 1.31.3: RFC 9113 forbids it on HTTP/2).
                if kind == .upgrade && request.stream != nil { continue }
                // Server and Date are told by their class (hidden exactly when the flags
                // say so); other names of a hidden length are looked up in the list.
                if field.unique == Self.serverBit {
                    if !passServer { continue }
                } else if field.unique == Self.dateBit {
                    if !passDate { continue }
                } else if hiddenLengths & (1 << UInt64(min(63, name.count))) != 0
                    && x.settings.hidden.contains(where: { asciiCaseEqual(name, $0) })
                {
                    continue
                }
                // A compressed body cannot be ranged: nginx's gzip filter drops Accept-Ranges.
                if coding != nil && kind == .acceptRanges { continue }
                if ssi != nil && Self.ssiDrops(kind == .acceptRanges || kind == .etag, name) { continue }
                let raw = buf[h.value]
                var value: [UInt8]? = nil
                let isLocation = kind == .location
                if isLocation || kind == .refresh {
                    headVaries = true
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
                        headVaries = true
                        value = CookieRewriter.rewrite(
                            UnsafeRawBufferPointer(rebasing: raw), settings: s, request: request)
                    }
                } else if coding != nil, kind == .etag, raw.first != UInt8(ascii: "W") {
                    value = Array("W/".utf8) + raw
                } else if kind == .contentType {
                    flushRun(buf, &run)
                    // The charset module may announce (and recode into) the location's charset.
                    if let l = location, !keepContentType { value = charsetContentType(raw, location: l, x) }
                    if !request.contentType.isEmpty { request.contentType.removeAll(keepingCapacity: true) }
                    if let value {
                        request.contentType.append(contentsOf: value)
                    } else if let base = buf.baseAddress {
                        // Typed bytes: appended with one copy (raw bytes go one by one).
                        let bytes = (base + raw.startIndex).assumingMemoryBound(to: UInt8.self)
                        request.contentType.append(contentsOf: UnsafeBufferPointer(start: bytes, count: raw.count))
                    }
                    // nginx writes its own "Content-Type" name (PHP sends "Content-type").
                    output.append("Content-Type: ")
                    if let value { output.append(value) } else { output.append(UnsafeRawBufferPointer(rebasing: raw)) }
                    output.append("\r\n")
                    continue
                }
                if value == nil, let end = Self.canonicalLineEnd(buf, h) {
                    if run.upperBound != h.name.lowerBound {
                        flushRun(buf, &run)
                        run = h.name.lowerBound..<h.name.lowerBound
                    }
                    run = run.lowerBound..<end
                    continue
                }
                flushRun(buf, &run)
                output.append(UnsafeRawBufferPointer(rebasing: name))
                output.append(": ")
                if let value {
                    output.append(value)
                } else {
                    output.append(UnsafeRawBufferPointer(rebasing: raw))
                }
                output.append("\r\n")
            }
            flushRun(buf, &run)
        }
        fieldsEnd = output.writerIndex
        // Body framing towards the client.
        // The fields read below, not a copy of the head (that would retain its array).
        let h = (
            contentLength: head.contentLength, isChunked: head.isChunked, keepAlive: head.keepAlive,
            headLength: head.headLength
        )
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
        if let n = h.contentLength, coding == nil, !sendTrailers, recoder?.keepsLength != false, ssi == nil {
            if status != 204 && status != 304 { request.appendContentLength(n) }
            responseRemaining = noBody ? 0 : n
        } else {
            responseChunked = h.isChunked && !noBody ? ChunkedDecoder() : nil
            responseRemaining = noBody ? 0 : (h.contentLength ?? -1)
            if !noBody {
                if cacheOnly || request.isSubrequest {
                    // No body follows for the client; a subrequest's goes unframed to its parent.
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
            !(xAccel ?? mayHaveXAccelField()) || !hasUpstreamHeader("x-accel-buffering")
                || x.settings.ignoreHeaders.contains("x-accel-buffering")
            ? nil : headerValue("x-accel-buffering")
        buffering = xab.map { asciiCaseEqual($0, Self.yesValue) } ?? x.settings.buffering
        memoryLimit = x.settings.buffers.count * x.settings.buffers.size
        maxTempFileSize = x.settings.maxTempFileSize
        // A subrequest's body is kept for its parent (an SSI include) and never held back:
        // in memory up to proxy_buffers, the rest in the temporary file.
        if request.isSubrequest {
            buffering = true
            maxTempFileSize = Int64.max / 2
        }
        keepUpstream =
            x.mayKeepConnection && h.keepAlive && status != 101 && (noBody || h.contentLength != nil || h.isChunked)
        // FastCGI: the connection is kept only after a clean END_REQUEST (recordsEnded);
        // HTTP/2: after the stream's clean end, which may have come with the head.
        if fastcgi.active { keepUpstream = fastcgi.http2 && fastcgi.ended && fastcgi.clean && x.mayKeepConnection }
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
        if !relayFollows { x.wait(for: .relaying, timeout: x.settings.readTimeout) }
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
