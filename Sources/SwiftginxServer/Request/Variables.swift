// Variable values for a request (`$remote_addr`, `$uri`, `$http_user_agent`, …),
// written straight into a byte buffer: used by `log_format`, `return`,
// `add_header`, `root` and every other value that contains variables. A namespace
// of functions taking the request (borrowed: no reference counting per call); the
// request keeps `evaluate(_:)` and `appendVariable(_:to:)` as forwarders for the
// handlers that call it.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

enum Variables {
    /// Evaluates a value to bytes.
    /// Re-entrant: a variable whose value is itself evaluated (a map, $document_root with
    /// variables) gets a buffer of its own instead of the worker's scratch buffer.
    static func evaluate(_ r: Request, _ value: ComplexValue) -> [UInt8] {
        if value.segments.count == 1, case .literal(let b) = value.segments[0] { return b }
        let worker = r.worker
        let nested = worker.evaluating
        let out = nested ? ByteBuffer(capacity: 256) : worker.scratch
        out.clear()
        worker.evaluating = true
        defer { worker.evaluating = nested }
        for seg in value.segments {
            switch seg {
            case .literal(let b): out.append(b)
            case .variable(let v): append(r, v, to: out)
            }
        }
        return Array(out.readable)
    }

    /// `set` / `auth_request_set`: a variable of the configuration, or one of nginx's
    /// changeable built-in ones (`$args` sets the request's arguments).
    static func set(_ r: Request, _ name: String, _ value: [UInt8]) {
        if name == "args" {
            r.args = value
            r.hasArgs = !value.isEmpty
            return
        }
        r.customVariables[name] = value
    }

    /// One variable's value as bytes (re-entrant as `evaluate`).
    static func evaluate(_ r: Request, variable v: Variable) -> [UInt8] {
        let worker = r.worker
        let nested = worker.evaluating
        let out = nested ? ByteBuffer(capacity: 256) : worker.scratch
        out.clear()
        worker.evaluating = true
        defer { worker.evaluating = nested }
        append(r, v, to: out)
        return Array(out.readable)
    }

    /// Appends a variable's value (nothing when it is not set).
    static func append(_ r: Request, _ v: Variable, to out: ByteBuffer) {
        let hasHead = r.head.headLength > 0
        let buf = r.headBytes
        switch v {
        case .remoteAddr: out.append(r.remoteAddressText)
        case .remotePort:
            // No port (a realip address given without one) is empty, as nginx prints it.
            let port = r.peer.port
            if port > 0 { out.append(decimal: Int64(port)) }
        case .limitConnStatus: out.append(r.limitConnStatus.text)
        case .limitReqStatus: out.append(r.limitReqStatus.text)
        case .realipRemoteAddr: out.append(r.connectionAddressText)
        case .realipRemotePort: if r.connection.peer.port > 0 { out.append(decimal: Int64(r.connection.peer.port)) }
        case .remoteUser: AuthBasicHandler.appendUser(r, to: out)
        case .timeLocal: out.append(r.worker.clock.timeLocal)
        case .timeISO8601: out.append(r.worker.clock.timeISO8601)
        case .msec: out.append(seconds: r.worker.clock.milliseconds)
        case .dateLocal, .dateGMT: out.append(SSIText.date(gmt: v == .dateGMT, SSIFilter.defaultTimefmt))
        case .request:
            if hasHead { out.append(UnsafeRawBufferPointer(rebasing: buf[r.head.requestLine])) }
        case .status:
            let s = r.status
            if s < 100 { out.append("000") } else { out.append(decimal: Int64(s)) }
        case .bodyBytesSent: out.append(decimal: r.bodyBytesSent)
        case .bytesSent: out.append(decimal: Int64(r.responseHeadLength) + r.bodyBytesSent)
        case .requestTime: out.append(seconds: max(0, r.worker.clock.milliseconds - r.startMilliseconds))
        case .host:
            if hasHead, let h = r.head.hostName {
                for c in buf[h] { out.append(c >= 65 && c <= 90 ? c | 0x20 : c) }
            } else if let s = r.server {
                out.append(string: s.primaryName)
            }
        case .hostname: out.append(string: ProcessControl.hostname)
        case .uri, .documentUri: out.append(r.uri)
        case .args, .queryString: out.append(r.args)
        case .isArgs: if r.hasArgs { out.append(UInt8(ascii: "?")) }
        case .requestUri:
            if hasHead { out.append(UnsafeRawBufferPointer(rebasing: buf[r.head.target])) }
        case .requestMethod:
            if r.methodIsGET && !r.isHeadOnly {
                out.append("GET")
            } else if hasHead {
                out.append(UnsafeRawBufferPointer(rebasing: buf[r.head.methodBytes]))
            }
        case .requestLength: out.append(decimal: Int64(r.stream?.requestLength ?? r.head.headLength))
        case .scheme: out.append(r.tls != nil ? "https" : "http")
        case .serverName: if let s = r.server { out.append(string: s.primaryName) }
        case .serverPort: if r.group.address.port > 0 { out.append(decimal: Int64(r.group.address.port)) }
        case .serverAddr:
            if let l = r.localAddress {
                var b: [UInt8] = []
                l.appendHost(to: &b)
                out.append(b)
            }
        case .serverProtocol:
            if hasHead {
                out.append(r.stream != nil ? "HTTP/2.0" : r.head.version == .http10 ? "HTTP/1.0" : "HTTP/1.1")
            }
        case .http2: if let h2 = r.connection?.http2 { out.append(h2.protocolName) }
        case .connection: out.append(decimal: Int64(r.connectionNumber))
        case .connectionTime: out.append(seconds: max(0, r.worker.now - (r.connection?.acceptedAt ?? r.worker.now)))
        case .connectionRequests: out.append(decimal: Int64(r.connectionRequests))
        case .contentType: if hasHead { appendHeaderValues(r, named: "content-type", buf: buf, to: out) }
        case .contentLength:
            if let n = r.head.contentLength, hasHead {
                out.append(decimal: n)
            } else if hasHead, r.head.isChunked, !r.bodyPending, let p = r.proxy, p.pass != nil, !p.streaming {
                // A chunked body once read whole: its length, as nginx sets it.
                out.append(decimal: p.bodyLength)
            }
        case .documentRoot, .realpathRoot:
            if let l = r.location { out.append(evaluate(r, l.settings.alias ?? l.settings.root)) }
        case .requestFilename:
            if let l = r.location { out.append(StaticFileHandler(request: r).documentPath(l)) }
        case .pid: out.append(decimal: Int64(ProcessControl.pid))
        case .nginxVersion: out.append(string: ServerVersion.nginxCompatible)
        case .pipe: out.append(r.connection.pipelined ? UInt8(ascii: "p") : UInt8(ascii: "."))
        case .httpHeader(let name):
            if hasHead {
                appendHeaderValues(r, named: name, buf: buf, to: out)
            }
        case .sentHeader(let name): appendSentHeader(r, name, to: out)
        case .limitRate: out.append(decimal: Int64(r.currentLimitRate))
        case .connectionsActive: out.append(decimal: Int64(r.worker.state.connectionCounts.active))
        case .connectionsReading: out.append(decimal: Int64(r.worker.state.connectionCounts.reading))
        case .connectionsWriting: out.append(decimal: Int64(r.worker.state.connectionCounts.writing))
        case .connectionsWaiting: out.append(decimal: Int64(r.worker.state.connectionCounts.waiting))
        case .arg(let name): appendArgument(r, name, to: out)
        case .cookie(let name):
            // The first `name=` among all Cookie lines, in order.
            if hasHead {
                for h in r.head.headers
                where h.name.count == 6
                    && ASCII.equalsLowercased(UnsafeRawBufferPointer(rebasing: buf[h.name]), "cookie")
                {
                    if appendCookie(name, in: buf[h.value], to: out) { break }
                }
            }
        case .capture(let n):
            appendCapture(r, n, to: out)
        case .custom(let name):
            if let v = r.customVariables[name] {
                out.append(v)
            } else if let map = r.worker.generation.config.maps[name], r.mapDepth < 8 {
                // A map is evaluated when used (its source may be another map: bounded).
                // Unless `volatile`, the value is kept for the rest of the request (also
                // across internal redirects), as nginx caches a variable's value.
                r.mapDepth += 1
                let key = evaluate(r, map.source)
                var result: [UInt8] = []
                if let (value, regex, captures) = map.lookupWithCaptures(key) {
                    if let regex {
                        // The value sees the map regex's captures ($1, named groups).
                        let saved = (r.captureRegex, r.captureSubject, r.captures)
                        r.captureRegex = regex
                        r.captureSubject = key
                        r.captures = captures
                        result = evaluate(r, value)
                        (r.captureRegex, r.captureSubject, r.captures) = saved
                    } else {
                        result = evaluate(r, value)
                    }
                }
                out.append(result)
                if !map.volatile { r.customVariables[name] = result }
                r.mapDepth -= 1
            } else if let geo = r.worker.generation.config.geos[name] {
                // Cached for the rest of the request unless `volatile`, as a map.
                let result = geoValue(r, geo)
                out.append(result)
                if !geo.volatile { r.customVariables[name] = result }
            } else if let split = r.worker.generation.config.splits[name] {
                if let value = split.lookup(evaluate(r, split.source)) { out.append(evaluate(r, value)) }
            }
        case .namedCapture(let name):
            if let n = r.captureRegex?.namedGroups[name] {
                appendCapture(r, n, to: out)
            } else if let v = r.customVariables[name] {
                // A named group of the server_name regex keeps its value (nginx sets it
                // as a variable when the server is chosen).
                out.append(v)
            }
        case .requestId:
            // Subrequests (auth_request) carry their main request's id.
            var main = r
            while let p = main.parent { main = p }
            if main.requestID == (0, 0) {
                var rng = SystemRandomNumberGenerator()
                main.requestID = (rng.next(), rng.next() | 1)
            }
            let digits: StaticString = "0123456789abcdef"
            for word in [main.requestID.0, main.requestID.1] {
                for shift in stride(from: 60, through: 0, by: -4) {
                    out.append(digits.utf8Start[Int((word >> UInt64(shift)) & 15)])
                }
            }
        case .binaryRemoteAddr: out.append(r.peer.rawAddress)
        case .requestCompletion: if r.status > 0 && !r.aborted { out.append("OK") }
        case .https: if r.tls != nil { out.append("on") }
        // The body a proxy read, when it is all in memory (nginx's $request_body is empty
        // for a body in a file); `$request_body_file` names the file.
        case .requestBody:
            if let p = r.proxy, p.bodyFileName == nil, let b = p.requestBodyInMemory { out.append(b) }
        case .requestBodyFile: if let p = r.proxy, let name = p.bodyFileName { out.append(string: name) }
        case .requestPort:
            if hasHead, let port = r.head.requestPort(in: buf) { out.append(decimal: Int64(port)) }
        case .isRequestPort: if hasHead, r.head.requestPort(in: buf) != nil { out.append(UInt8(ascii: ":")) }
        case .ssl(let field): appendTLS(r, field, to: out)
        case .proxyProtocol(let field): r.connection.appendProxyProtocol(field, to: out)
        case .proxyProtocolTLV(let key): r.connection.appendProxyProtocolTLV(key, to: out)
        case .proxyAddXForwardedFor:
            if hasHead, r.head.header(HeaderName.xForwardedFor, in: buf) != nil {
                appendHeaderValues(r, named: "x-forwarded-for", buf: buf, to: out)
                out.append(", ")
            }
            out.append(r.remoteAddressText)
        case .proxyHost: if let p = r.proxy, p.pass != nil { out.append(string: p.proxyHost) }
        case .proxyPort: if let p = r.proxy, p.pass != nil { out.append(string: p.proxyPort) }
        case .fastcgiScriptName, .fastcgiPathInfo:
            // fastcgi_split_path_info and fastcgi_index of the location (FastCGISettings).
            let parts = (r.location?.settings.fastcgi.fastcgi ?? FastCGISettings()).split(r.uri)
            out.append(v == .fastcgiScriptName ? parts.scriptName : parts.pathInfo)
        case .upstreamAddr:
            if let p = r.proxy, p.pass != nil { appendList(p.addresses.map { Array($0.utf8) }, to: out) }
        case .upstreamStatus:
            if let p = r.proxy, p.pass != nil {
                appendList(p.statuses.map { $0 == 0 ? Array("-".utf8) : Array(String($0).utf8) }, to: out)
            }
        case .upstreamResponseTime: if let p = r.proxy, p.pass != nil { appendTimes(p.responseTimes, to: out) }
        case .upstreamConnectTime: if let p = r.proxy, p.pass != nil { appendTimes(p.connectTimes, to: out) }
        case .upstreamHeaderTime: if let p = r.proxy, p.pass != nil { appendTimes(p.headerTimes, to: out) }
        case .upstreamResponseLength:
            if let p = r.proxy, p.pass != nil { appendList(p.responseLengths.map { Array(String($0).utf8) }, to: out) }
        case .upstreamHeader(let name):
            if let p = r.proxy, p.pass != nil, p.response.head.headLength > 0 {
                p.response.appendHeaderValues(named: name, to: out)
            }
        case .upstreamBytesReceived:
            if let p = r.proxy, p.pass != nil { appendList(p.bytesReceived.map { Array(String($0).utf8) }, to: out) }
        case .upstreamBytesSent:
            if let p = r.proxy, p.pass != nil { appendList(p.bytesSent.map { Array(String($0).utf8) }, to: out) }
        case .upstreamCookie(let name):
            if let p = r.proxy, p.pass != nil, p.response.head.headLength > 0 {
                p.response.appendSetCookieValue(named: name, to: out)
            }
        case .sentTrailer(let name):
            ResponseTrailers.appendSent(r, named: name, to: out)
        case .upstreamCacheStatus: if let p = r.proxy, p.pass != nil { out.append(string: p.cache.status.text) }
        }
    }

    /// An empty value nginx logs as empty, not "-" (a value found but empty, where most
    /// empty variables are "not found"): `$uri` of a request whose URI was refused.
    static func foundWhenEmpty(_ r: Request, _ v: Variable) -> Bool {
        switch v {
        case .uri, .documentUri: return r.head.headLength > 0
        default: return false
        }
    }

    /// `$sent_http_name`: the value of that field in the response head sent (all of
    /// them joined by ", " when repeated).
    private static func appendSentHeader(_ r: Request, _ name: String, to out: ByteBuffer) {
        var first = true
        func scan(_ head: UnsafeRawBufferPointer) {
            // `$sent_http_x_y` names "X-Y": underscores in the field's name match too.
            ResponseHeadScan.forEachValue(of: Array(name.utf8), in: head, underscoresAsDashes: true) { value in
                if !first { out.append(", ") }
                first = false
                out.append(value)
            }
        }
        if r.writer.buildingHead {
            // An add_header value: the fields written so far for this response.
            let output = r.output
            scan(
                UnsafeRawBufferPointer(
                    start: output.base + r.responseStart, count: output.writerIndex - r.responseStart))
        } else {
            r.lastResponseHead.withUnsafeBytes { scan($0) }
        }
    }

    /// nginx's ", "-separated per-try lists of the `$upstream_*` variables.
    private static func appendList(_ items: [[UInt8]], to out: ByteBuffer) {
        for (i, item) in items.enumerated() {
            if i > 0 { out.append(", ") }
            out.append(item)
        }
    }

    /// Milliseconds as seconds with three decimals; "-" for a try that did not get there.
    private static func appendTimes(_ times: some Collection<Int64>, to out: ByteBuffer) {
        for (i, t) in times.enumerated() {
            if i > 0 { out.append(", ") }
            if t < 0 { out.append("-") } else { out.append(seconds: t) }
        }
    }

    /// `$1`..`$9` and named groups: bytes of the URI the location's regex captured.
    private static func appendCapture(_ r: Request, _ n: Int, to out: ByteBuffer) {
        guard n > 0 && n < r.captures.count else { return }
        let range = r.captures[n]
        guard !range.isEmpty, range.upperBound <= r.captureSubject.count else { return }
        r.captureSubject.withUnsafeBytes { out.append(UnsafeRawBufferPointer(rebasing: $0[range])) }
    }

    /// `$http_name`: all values of that header joined by ", " (nginx joins cookies with "; ").
    private static func appendHeaderValues(
        _ r: Request, named name: String, buf: UnsafeRawBufferPointer, to out: ByteBuffer
    ) {
        var first = true
        let nameCount = name.utf8.count
        for h in r.head.headers where h.name.count == nameCount {
            var eq = true
            var i = h.name.lowerBound
            for expected in name.utf8 {
                var c = buf[i]
                if c >= 65 && c <= 90 { c |= 0x20 }
                if c == UInt8(ascii: "_") { c = UInt8(ascii: "-") }
                if c != expected {
                    eq = false
                    break
                }
                i += 1
            }
            if !eq { continue }
            if !first { out.append(name == "cookie" ? "; " : ", ") }
            first = false
            out.append(UnsafeRawBufferPointer(rebasing: buf[h.value]))
        }
    }

    private static func appendArgument(_ r: Request, _ name: String, to out: ByteBuffer) {
        _ = r.args.withUnsafeBytes { appendNamedValue(name, in: $0, separator: UInt8(ascii: "&"), to: out) }
    }

    /// nginx's cookie lookup in one Cookie line: items split at `;`, the name compared
    /// without case, spaces allowed around `=`; the value runs to the next `;`.
    private static func appendCookie(_ name: String, in line: Slice<UnsafeRawBufferPointer>, to out: ByteBuffer)
        -> Bool
    {
        let v = UnsafeRawBufferPointer(rebasing: line)
        let n = name.utf8
        let end = v.count
        var i = 0
        while i < end {
            var matches = end - i >= n.count
            if matches {
                var k = i
                for c in n {
                    let b = v[k]
                    if (b >= 65 && b <= 90 ? b | 0x20 : b) != c {
                        matches = false
                        break
                    }
                    k += 1
                }
                if matches {
                    while k < end && v[k] == 32 { k += 1 }
                    if k < end && v[k] == UInt8(ascii: "=") {
                        k += 1
                        while k < end && v[k] == 32 { k += 1 }
                        var last = k
                        while last < end && v[last] != UInt8(ascii: ";") { last += 1 }
                        out.append(UnsafeRawBufferPointer(rebasing: v[k..<last]))
                        return true
                    }
                }
            }
            while i < end && v[i] != UInt8(ascii: ";") { i += 1 }
            i += 1
            while i < end && v[i] == 32 { i += 1 }
        }
        return false
    }

    /// The value of the first `name=value` item of a `separator`-separated list
    /// (query arguments, cookies; spaces before an item are skipped).
    @discardableResult
    private static func appendNamedValue(
        _ name: String, in list: UnsafeRawBufferPointer, separator: UInt8, to out: ByteBuffer
    ) -> Bool {
        let nameCount = name.utf8.count
        var i = 0
        while i < list.count {
            while i < list.count && list[i] == 32 { i += 1 }
            var j = i
            while j < list.count && list[j] != separator { j += 1 }
            if j - i > nameCount && list[i + nameCount] == UInt8(ascii: "=")
                && name.utf8.elementsEqual(list[i..<(i + nameCount)])
            {
                out.append(UnsafeRawBufferPointer(rebasing: list[(i + nameCount + 1)..<j]))
                return true
            }
            i = j + 1
        }
        return false
    }
}
