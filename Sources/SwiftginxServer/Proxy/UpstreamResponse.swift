// The response side of a proxied request: the upstream's answer from its first byte to
// the last byte the client takes. It parses the upstream's head (skipping 1xx, trying
// the next peer on http_5xx when `proxy_next_upstream` says so), acts on
// X-Accel-Redirect and `proxy_intercept_errors`, writes the client's head
// (UpstreamResponse+ClientHead.swift), relays the body with buffering and spooling, or
// runs the 101 tunnel (UpstreamResponse+Relay.swift). One per ProxyExchange, made with
// it and reset per try; it holds its request and output as `let`s (read without
// reference counting) and is driven by the exchange, which passes itself to each call:
// what it asks back is small — the upstream connection and settings, trying the next
// peer, finishing or abandoning the upstream, the `$upstream_*` accounting, the timers,
// and error-log lines with nginx's upstream context.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

final class UpstreamResponse {
    /// The worker owns this object and outlives it; `unowned(unsafe)` reads it without
    /// the checked reference count `unowned` costs (about 490 instructions per request).
    unowned(unsafe) let worker: Worker
    /// The request it answers (the exchange's).
    let request: Request
    /// The request's response buffer (the client side of the relay).
    let output: ByteBuffer

    var parser = ResponseParser()
    var head = ResponseHead()
    let upstreamInput = ByteBuffer(capacity: 4096)
    /// The upstream's response head bytes (`head`'s ranges index into it).
    var headCopy: [UInt8] = []
    var responseChunked: ChunkedDecoder? = nil
    /// Body bytes still expected from upstream; -1 = until it closes.
    var responseRemaining: Int64 = -1
    var upstreamDone = false
    /// An HTTP/2 tunnel's client ended its side (END_STREAM): the upstream's side is
    /// half-closed and its bytes still go to the client until it closes too.
    var clientDone = false
    var clientChunked = false
    /// `add_trailer` applies: the last chunk carries the trailer fields.
    var sendTrailers = false
    /// proxy_pass_trailers: the upstream's trailer lines for the last chunk (HTTP/2 upstreams).
    var passedTrailers: [UInt8] = []
    var noBody = false
    var headerSent = false
    /// `proxy_ignore_client_abort on` and the client has gone: the rest of the answer is
    /// read from the upstream and dropped.
    var discarding = false
    /// The upstream connection may go to the keep-alive cache afterwards.
    var keepUpstream = false
    /// proxy_buffering (or X-Accel-Buffering) of this response, the memory it may
    /// hold (proxy_buffers) and the temporary file's limit (proxy_max_temp_file_size).
    var buffering = true
    var memoryLimit = 0
    var maxTempFileSize: Int64 = 0
    /// The client-wire spool beyond memory.
    var spoolFile: Int32 = -1
    var spoolWritten: Int64 = 0
    var spoolSent: Int64 = 0
    /// On-the-fly compression of this response (gzip/brotli/zstd), with encoders kept
    /// per session by coding and level, and their output staged here.
    var encoder: StreamingEncoder? = nil
    /// The charset module's byte-for-byte recoding of the body, if any.
    var recoder: CharsetTable? = nil
    /// `ssi on`: the body goes through the SSI filter (UpstreamResponse+SSI.swift).
    var ssi: SSIFilter? = nil
    /// An incomplete UTF-8 character waiting for the next piece of the body.
    var recodeCarry: [UInt8] = []
    var encoders: [String: StreamingEncoder] = [:]
    var encoded: [UInt8] = []
    /// FastCGI's record layer (ProxyExchange+FastCGI.swift); inactive for other protocols.
    var fastcgi = FastCGIInput()
    /// proxy_cache: the entry the body is stored into (Cache/CacheEntryFile.swift).
    var cacheWriter: CacheWriter? = nil
    /// The body goes to the cache only (a HEAD request sent upstream as GET).
    var cacheOnly = false
    /// proxy_cache: a range of the body being stored goes to the client (-1: all of it).
    var clientSkip: Int64 = 0
    var clientTake: Int64 = -1
    var upstreamLength: Int64 = 0
    /// A multipart/byteranges answer from the cache: its Content-Type is not the charset
    /// module's (each part's is).
    var keepContentType = false
    /// The client head's end of the upstream's fields (before the framing fields), and
    /// whether those depended on the request (a rewritten Location, cookies, a duplicate
    /// warned about): a cache hit's head is reused only when not (CacheOpenEntries).
    var fieldsEnd = 0
    var headVaries = false

    private static let keptOnRedirectContentType = Array("content-type".utf8)
    /// Headers of an X-Accel-Redirect answer that are kept for the redirected response.
    private static let keptOnRedirect: [[UInt8]] = [
        "set-cookie", "content-disposition", "cache-control", "expires", "accept-ranges", "content-type",
    ].map { Array($0.utf8) }

    init(request: Request) {
        self.worker = request.worker
        self.request = request
        self.output = request.output
    }

    /// Clears what one try left (before the first try and the next upstream; buffers
    /// and encoders are kept).
    func reset() {
        parser.reset()
        head.reset()
        upstreamInput.clear()
        if responseChunked != nil { responseChunked = nil }
        responseRemaining = -1
        upstreamDone = false
        clientDone = false
        clientChunked = false
        sendTrailers = false
        if !passedTrailers.isEmpty { passedTrailers.removeAll(keepingCapacity: true) }
        noBody = false
        headerSent = false
        spoolWritten = 0
        spoolSent = 0
        if encoder != nil { encoder = nil }
        discarding = false
        clientTake = -1
        keepContentType = false
        // headCopy is left as it is: `head` (reset above) holds no range into it until
        // headComplete replaces its bytes (one call, not a removeAll and an append).
    }

    /// A new request starts: the previous answer's head is no longer reported
    /// (`$upstream_http_*` read it only while `head.headLength > 0`). Nothing else of it
    /// is read before the first try, which resets the whole response (`reset()`).
    @inline(__always) func forgetHead() {
        head.headLength = 0
    }

    var spoolPending: Int64 { spoolWritten - spoolSent }

    /// The client connection closed: the temporary file goes.
    func close() {
        if spoolFile >= 0 {
            FileSystem.close(spoolFile)
            spoolFile = -1
        }
    }

    // MARK: upstream header fields

    /// Whether some field may be one of the `X-Accel-*` ones nginx acts on (15 to 18
    /// bytes, starting with "x"): one cheap pass instead of a name comparison per field
    /// and per name in the usual response that has none.
    func mayHaveXAccelField() -> Bool {
        headCopy.withUnsafeBytes { buf in
            for h in head.headers where h.name.count &- 15 < 4 && buf[h.name.lowerBound] | 0x20 == UInt8(ascii: "x") {
                return true
            }
            return false
        }
    }

    /// Whether the upstream's response has a field (no allocation).
    func hasUpstreamHeader(_ lowercasedName: StaticString) -> Bool {
        headCopy.withUnsafeBytes { head.header(lowercasedName, in: $0) != nil }
    }

    /// The value of a response header (first occurrence) from the head copy
    /// (`$upstream_http_*` too).
    func headerValue(_ lowercasedName: String) -> [UInt8]? {
        let name = Array(lowercasedName.utf8)
        return headCopy.withUnsafeBytes { buf in
            for h in head.headers where asciiCaseEqual(buf[h.name], name) { return Array(buf[h.value]) }
            return nil
        }
    }

    /// `$upstream_http_<name>`: every value of the field, joined by ", " as nginx joins
    /// repeated fields (Set-Cookie too).
    func appendHeaderValues(named lowercasedName: String, to out: ByteBuffer) {
        let name = Array(lowercasedName.utf8)
        headCopy.withUnsafeBytes { buf in
            var first = true
            for h in head.headers where asciiCaseEqual(buf[h.name], name) {
                if !first { out.append(", ") }
                first = false
                out.append(UnsafeRawBufferPointer(rebasing: buf[h.value]))
            }
        }
    }

    /// `$upstream_cookie_<name>`: the value of the first Set-Cookie field that sets the
    /// cookie `name` (caseless; spaces around '=' skipped, the value up to ';'), as
    /// nginx's Set-Cookie line parser finds it.
    func appendSetCookieValue(named name: String, to out: ByteBuffer) {
        let key = Array(name.utf8)
        headCopy.withUnsafeBytes { buf in
            for h in head.headers where asciiCaseEqual(buf[h.name], Self.setCookieName) {
                let v = buf[h.value]
                guard key.count < v.count, asciiCaseEqual(v.prefix(key.count), key) else { continue }
                var i = v.startIndex + key.count
                while i < v.endIndex && v[i] == 32 { i += 1 }
                guard i < v.endIndex, v[i] == UInt8(ascii: "=") else { continue }
                i += 1
                while i < v.endIndex && v[i] == 32 { i += 1 }
                var end = i
                while end < v.endIndex && v[end] != UInt8(ascii: ";") { end += 1 }
                out.append(UnsafeRawBufferPointer(rebasing: buf[i..<end]))
                return
            }
        }
    }

    private static let setCookieName = Array("set-cookie".utf8)
    private static let wwwAuthenticateName = Array("www-authenticate".utf8)

    // MARK: response head

    /// Reads and parses the response head; true when the exchange's phase changed.
    func readHead(_ x: ProxyExchange) -> Bool {
        guard let u = x.upstream else { return true }
        let inb = upstreamInput
        let limit = x.settings.bufferSize
        while true {
            guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return false }
            if inb.writableCount < 4096 { inb.reserve(max(limit + 1, 16384) - inb.writerIndex) }
            let asked = inb.writableCount
            do {
                switch try u.read(inb.writable, asked) {
                case .wouldBlock:
                    u.readReady = false
                    // HTTP/2: an answer decoded while the request body was being sent.
                    if !fastcgi.http2 || inb.readableCount == 0 { return false }
                case .processed(0):
                    if x.reused && inb.writerIndex == 0 {
                        x.retryOnFreshConnection()
                        return true
                    }
                    x.logUpstream(
                        .error, "upstream prematurely closed connection while reading response header from upstream")
                    x.nextUpstream(.error)
                    return true
                case .processed(let n):
                    inb.writerIndex += n
                    x.countReceived(n)
                    u.noteRead(asked: asked, got: n)
                    if fastcgi.active {
                        if !deframe(x, from: inb.writerIndex - n) { return true }
                    }
                }
            } catch {
                if x.reused && inb.writerIndex == 0 {
                    x.retryOnFreshConnection()
                    return true
                }
                x.logUpstream(.error, "\(error) while reading response header from upstream")
                x.nextUpstream(.error)
                return true
            }
            while true {
                switch parser.parse(inb.readable, into: &head) {
                case .incomplete:
                    if fastcgi.ended || fastcgi.stdoutClosed {
                        x.logUpstream(
                            .error,
                            "upstream prematurely closed FastCGI stdout while reading response header from upstream")
                        x.nextUpstream(.invalidHeader)
                        return true
                    }
                    if inb.readableCount > limit {
                        x.logUpstream(
                            .error, "upstream sent too big header while reading response header from upstream")
                        x.nextUpstream(.invalidHeader)
                        return true
                    }
                case .error(let e):
                    if e == .headerTooBig && parser.maxHeadBytes < limit {
                        // proxy_buffer_size is larger than the parser's default limit.
                        parser.reset()
                        head.reset()
                        parser.maxHeadBytes = limit
                        continue
                    }
                    x.logUpstream(.error, "\(e.logMessage) while reading response header from upstream")
                    x.nextUpstream(.invalidHeader)
                    return true
                case .complete:
                    let status = head.status
                    if status >= 100 && status < 200 && status != 101 {
                        // An interim answer (100 Continue, 103): dropped, the real one follows
                        // (a 103 is passed on first where `early_hints` says so).
                        if status == 103 { passEarlyHints(x) }
                        x.countHead(head.headLength)
                        inb.readerIndex += head.headLength
                        inb.compact()
                        parser.reset()
                        head.reset()
                        if inb.readableCount > 0 { continue }
                        break
                    }
                    headComplete(x)
                    return true
                }
                break
            }
        }
    }

    /// Decides what the parsed head leads to.
    private func headComplete(_ x: ProxyExchange) {
        let inb = upstreamInput
        let status = head.status
        x.recordHeader(status: status)
        x.countHead(head.headLength)
        // Keep a copy of the head for $upstream_http_* (ranges of `head` index into it).
        let bytes = UnsafeRawBufferPointer(start: inb.base, count: head.headLength)
        if headCopy.count == bytes.count {
            // The usual case, a head as long as the last one (the same upstream answering
            // alike): copied over in place, without the generic replacement's cost.
            headCopy.withUnsafeMutableBytes { $0.copyMemory(from: bytes) }
        } else {
            headCopy.replaceSubrange(headCopy.startIndex..<headCopy.endIndex, with: bytes)
        }
        if let condition = NextUpstream.status(status), x.canTryNext(condition) {
            x.tryNext(afterStatus: status)
            return
        }
        if x.cache.zone != nil && x.cacheResponseHead(status: status) { return }
        if x.settings.cache.forceRanges && cacheWriter == nil { x.applyRangeToStoredResponse() }
        let ignored = x.settings.ignoreHeaders
        // The parser noted whether a field may be one of them (the head was parsed into `head`).
        let xAccel = head.mayHaveXAccelField
        if xAccel, hasUpstreamHeader("x-accel-limit-rate"), !ignored.contains("x-accel-limit-rate"),
            let v = headerValue("x-accel-limit-rate"), let n = Int(String(decoding: v, as: UTF8.self)), n >= 0
        {
            // The response's limit_rate, whatever location answers (nginx's limit_rate_set).
            request.limitRateOverride = n
        }
        if xAccel, hasUpstreamHeader("x-accel-redirect"), !ignored.contains("x-accel-redirect"),
            let r = headerValue("x-accel-redirect"), !r.isEmpty
        {
            acceleratedRedirect(x, to: r)
            return
        }
        if x.settings.interceptErrors && status >= 300,
            let settings = request.location?.settings, settings.errorPages[status] != nil
        {
            if status == 401 {
                // nginx keeps the upstream's challenges on an intercepted 401.
                headCopy.withUnsafeBytes { buf in
                    for h in head.headers where asciiCaseEqual(buf[h.name], Self.wwwAuthenticateName) {
                        request.carriedHeaders += Array("WWW-Authenticate: ".utf8) + buf[h.value] + [13, 10]
                    }
                }
            }
            x.finishUpstream(reusable: false)
            request.respondError(status)
            return
        }
        if status == 101 {
            guard request.head.upgrade != nil, x.settings.http11 else {
                x.logUpstream(.error, "upstream sent unexpected 101 while reading response header from upstream")
                x.nextUpstream(.invalidHeader)
                return
            }
        }
        // readHead returns to the exchange's drive loop, which relays next.
        writeClientHead(x, xAccel: xAccel, relayFollows: true)
    }

    /// X-Accel-Redirect: an internal redirect to a URI or a named location, keeping
    /// the fields nginx keeps (Content-Type, Content-Disposition, Set-Cookie, ...).
    private func acceleratedRedirect(_ x: ProxyExchange, to target: [UInt8]) {
        request.carriedHeaders.removeAll(keepingCapacity: true)
        headCopy.withUnsafeBytes { buf in
            for h in head.headers where Self.keptOnRedirect.contains(where: { asciiCaseEqual(buf[h.name], $0) }) {
                if asciiCaseEqual(buf[h.name], Self.keptOnRedirectContentType) {
                    request.carriedContentType = Array(buf[h.value])
                    continue
                }
                request.carriedHeaders += buf[h.name]
                request.carriedHeaders += Array(": ".utf8)
                request.carriedHeaders += buf[h.value]
                request.carriedHeaders += Array("\r\n".utf8)
            }
        }
        x.finishUpstream(reusable: false)
        request.headOnly = request.isHeadOnly
        if target.first == UInt8(ascii: "@") {
            let name = String(decoding: target.dropFirst(), as: UTF8.self)
            if let server = request.server, let named = server.locations.named(name) {
                request.runNamedLocation(named, name: name, captures: [])
                return
            }
            request.logError("could not find named location \"\(name)\"")
            request.respondError(500)
            return
        }
        guard let (uri, args) = Self.safeURI(target) else {
            request.logError("unsafe URI \"\(String(decoding: target, as: UTF8.self))\" was detected")
            request.respondError(404)
            return
        }
        request.methodIsGET = true
        request.internalRedirectFromServer(to: uri, args: args)
    }

    /// nginx's check of an X-Accel-Redirect URI: split at '?', no "..", "/../" or
    /// "/.." segment and no NUL, before and after %XX is decoded; the decoded path
    /// otherwise stays as written. nil when unsafe.
    static func safeURI(_ value: [UInt8]) -> (uri: [UInt8], args: [UInt8])? {
        func isSafe(_ p: ArraySlice<UInt8>) -> Bool {
            let b = Array(p)
            if b.count >= 2 && b[0] == UInt8(ascii: ".") && b[1] == UInt8(ascii: ".")
                && (b.count == 2 || b[2] == UInt8(ascii: "/"))
            {
                return false
            }
            for i in b.indices {
                if b[i] == 0 { return false }
                if b[i] == UInt8(ascii: "/") && b.count - i > 2 && b[i + 1] == UInt8(ascii: ".")
                    && b[i + 2] == UInt8(ascii: ".") && (b.count - i == 3 || b[i + 3] == UInt8(ascii: "/"))
                {
                    return false
                }
            }
            return true
        }
        guard let first = value.first, first != UInt8(ascii: "?") else { return nil }
        var path = value[...]
        var args: [UInt8] = []
        if let q = value.firstIndex(of: UInt8(ascii: "?")) {
            path = value[..<q]
            args = Array(value[(q + 1)...])
        }
        guard isSafe(path) else { return nil }
        guard path.contains(UInt8(ascii: "%")) else { return (Array(path), args) }
        let decoded = percentDecoded(path)
        guard isSafe(decoded[...]) else { return nil }
        return (decoded, args)
    }

    /// %XX decoded (a '%' without two hex digits stays as it is).
    private static func percentDecoded(_ s: ArraySlice<UInt8>) -> [UInt8] {
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(s.count)
        var i = s.startIndex
        while i < s.endIndex {
            if s[i] == UInt8(ascii: "%"), i + 2 < s.endIndex,
                let h = hex(s[i + 1]), let l = hex(s[i + 2])
            {
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }
}
