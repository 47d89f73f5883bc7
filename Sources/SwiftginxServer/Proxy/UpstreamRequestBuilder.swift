// The request sent upstream, re-serialized from the parsed client request (never
// forwarded raw): the request line with nginx's URI rules, `proxy_set_header`
// lines over nginx's defaults (Host $proxy_host, Connection close), the body length,
// and the client's headers minus hop-by-hop fields and those the configuration
// sets; or, for uwsgi_pass, fastcgi_pass and scgi_pass, the parameters of the
// `*_param` values and HTTP_* variables for the client's headers in the protocol's
// framing (UpstreamRequestBuilder+CGI.swift). A namespace of static functions: it reads what
// the head is made from in the exchange (its request, pass and settings, `$proxy_host`,
// the URI of a proxy_pass with variables, the body's framing; read in place, so
// nothing is reference counted), writes into the exchange's request buffer, and
// returns what the exchange keeps (`Sent`: the URI for its log lines, whether the
// upstream connection may be cached).

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxRouting

enum UpstreamRequestBuilder {
    /// What the exchange keeps from the serialized head.
    struct Sent {
        /// The URI in the upstream request line (for logs), as a range of the head buffer.
        var uri: Range<Int>
        /// The head says `Connection: close` (then the connection is never cached).
        var connectionClose: Bool
        /// The request could not be made (logged): the client gets 500.
        var failed = false
    }

    /// Fields a caching location does not pass: the cache answers conditions and ranges.
    private static let cacheDropped: [[UInt8]] = [
        "if-modified-since", "if-unmodified-since", "if-none-match", "if-match", "range", "if-range",
    ].map { Array($0.utf8) }

    /// Client headers never passed as they are (nginx's proxy defaults replace them): host,
    /// connection, content-length, transfer-encoding, te, keep-alive, expect, upgrade and
    /// proxy-connection, told by the length first, so most fields cost one comparison
    /// (and no lazily made static array is reached per request).
    @inline(__always) private static func isProxyDropped(_ name: Slice<UnsafeRawBufferPointer>) -> Bool {
        let n = name.count
        guard n >= 2 && n <= 17, let base = name.base.baseAddress else { return false }
        let p = base + name.startIndex
        switch n {
        case 2: return foldedEquals(p, 2, "te")
        case 4: return foldedEquals(p, 4, "host")
        case 6: return foldedEquals(p, 6, "expect")
        case 7: return foldedEquals(p, 7, "upgrade")
        case 10: return foldedEquals(p, 10, "connection") || foldedEquals(p, 10, "keep-alive")
        case 14: return foldedEquals(p, 14, "content-length")
        case 16: return foldedEquals(p, 16, "proxy-connection")
        case 17: return foldedEquals(p, 17, "transfer-encoding")
        default: return false
        }
    }

    /// The `n` bytes at `p`, a header name (tchar bytes, 2 to 24 of them), equal `target`
    /// (lowercase letters and '-', `n` bytes) whatever the letters' case: compared a word
    /// at a time with 0x20 set in each byte, which over tchar bytes only makes an
    /// upper-case letter lower case (and no other tchar byte becomes a letter or '-').
    /// Overlapping loads stay within the `n` bytes.
    @inline(__always)
    static func foldedEquals(_ p: UnsafeRawPointer, _ n: Int, _ target: StaticString) -> Bool {
        let t = UnsafeRawPointer(target.utf8Start)
        if n >= 8 {
            let fold: UInt64 = 0x2020_2020_2020_2020
            if n > 16
                && p.loadUnaligned(fromByteOffset: 8, as: UInt64.self) | fold
                    != t.loadUnaligned(fromByteOffset: 8, as: UInt64.self)
            {
                return false
            }
            return p.loadUnaligned(as: UInt64.self) | fold == t.loadUnaligned(as: UInt64.self)
                && p.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self) | fold
                    == t.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
        }
        if n >= 4 {
            return p.loadUnaligned(as: UInt32.self) | 0x2020_2020 == t.loadUnaligned(as: UInt32.self)
                && p.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self) | 0x2020_2020
                    == t.loadUnaligned(fromByteOffset: n &- 4, as: UInt32.self)
        }
        return p.loadUnaligned(as: UInt16.self) | 0x2020 == t.loadUnaligned(as: UInt16.self)
            && p.loadUnaligned(fromByteOffset: n &- 2, as: UInt16.self) | 0x2020
                == t.loadUnaligned(fromByteOffset: n &- 2, as: UInt16.self)
    }

    /// `asciiCaseEqual` against a lowercase literal, read in place.
    @inline(__always) private static func caseEqual<A: Collection<UInt8>>(_ a: A, _ lower: StaticString) -> Bool {
        asciiCaseEqual(a, UnsafeRawBufferPointer(start: lower.utf8Start, count: lower.utf8CodeUnitCount))
    }

    /// Appends a value's evaluation straight into `out` (no intermediate array).
    static func appendValue(_ value: ComplexValue, for request: Request, to out: ByteBuffer) {
        for seg in value.segments {
            switch seg {
            case .literal(let b): out.append(b)
            case .variable(let v): request.appendVariable(v, to: out)
            }
        }
    }

    /// Serializes the upstream request head of `x`'s request into `x.requestHead`
    /// (cleared first; the body follows it), by the exchange's pass and proxy_* or
    /// uwsgi_* settings; with `x.streaming` (proxy_request_buffering off) the client's
    /// body framing is passed on, else `x.bodyLength` buffered bytes are announced.
    static func build(for x: ProxyExchange) -> Sent {
        let out = x.requestHead
        let request = x.request
        guard let pass = x.pass else { return Sent(uri: 0..<0, connectionClose: true) }
        out.clear()
        if pass.proto != .http {
            // uwsgi, FastCGI, SCGI: UpstreamRequestBuilder+CGI.swift.
            return buildCGI(for: x, proto: pass.proto)
        }
        let buf = request.headBytes
        // Request line.
        if let m = x.settings.method {
            out.append(request.evaluate(m))
        } else if x.cache.sendGET || request.isSubrequest
            || ((request.errorPageUsed || request.methodIsGET) && !request.isHeadOnly)
        {
            out.append("GET")
        } else {
            out.append(UnsafeRawBufferPointer(rebasing: buf[request.head.methodBytes]))
        }
        out.append(UInt8(ascii: " "))
        let uriStart = out.writerIndex
        appendURI(for: x, pass: pass, to: out)
        let sentURI = uriStart..<out.writerIndex
        out.append(x.settings.http11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n")
        // proxy_set_header lines, then the defaults they do not replace.
        var setHost = false
        var setConnection = false
        var sentConnectionClose = false
        // Read by index, in place: `for param in` would copy each element (a reference
        // count per field), and the name is appended from its bytes, not its String.
        let params = x.settings.params
        for i in params.indices {
            if let line = params[i].staticLine {
                // A value without variables: its line and flags were made with the configuration.
                if params[i].isHost { setHost = true }
                if params[i].isConnection {
                    setConnection = true
                    if params[i].isStaticClose { sentConnectionClose = true }
                }
                if !line.isEmpty { out.append(line) }
                continue
            }
            // Written in place; an empty value takes the line back out (nginx drops it).
            let lineStart = out.writerIndex
            out.append(params[i].nameBytes)
            out.append(": ")
            let valueStart = out.writerIndex
            appendValue(params[i].value, for: request, to: out)
            let value = UnsafeRawBufferPointer(start: out.base + valueStart, count: out.writerIndex - valueStart)
            if params[i].isHost { setHost = true }
            if params[i].isConnection {
                setConnection = true
                if Self.caseEqual(value, "close") { sentConnectionClose = true }
            }
            if value.isEmpty {
                out.writerIndex = lineStart
                continue
            }
            out.append("\r\n")
        }
        if !setHost {
            if x.hostLineFor == x.proxyHost && !x.hostLine.isEmpty {
                out.append(x.hostLine)
            } else {
                out.append("Host: ")
                out.append(string: x.proxyHost)
                out.append("\r\n")
                // Kept for the next request when the host is the pass's own (a host from
                // variables may change every time: no line is made for it).
                if pass.dynamic == nil {
                    x.hostLine = Array("Host: \(x.proxyHost)\r\n".utf8)
                    x.hostLineFor = x.proxyHost
                }
            }
        }
        if !setConnection {
            out.append("Connection: close\r\n")
            sentConnectionClose = true
        }
        var setBody: [UInt8]? = nil
        if let b = x.settings.setBody {
            let body = request.evaluate(b)
            out.appendHeader("Content-Length", decimal: Int64(body.count))
            setBody = body
        } else if x.streaming {
            if let n = request.head.contentLength {
                out.appendHeader("Content-Length", decimal: n)
            } else {
                out.append("Transfer-Encoding: chunked\r\n")
            }
        } else if x.settings.passRequestBody
            && (x.bodyLength > 0 || request.head.contentLength != nil || request.head.isChunked)
        {
            out.appendHeader("Content-Length", decimal: x.bodyLength)
        }
        if x.settings.passRequestHeaders {
            for h in request.head.headers {
                let name = buf[h.name]
                if Self.isProxyDropped(name) { continue }
                if x.settings.params.contains(where: { asciiCaseEqual(name, $0.lowercasedName) }) { continue }
                if x.cache.storable && Self.cacheDropped.contains(where: { asciiCaseEqual(name, $0) }) { continue }
                out.append(UnsafeRawBufferPointer(rebasing: name))
                out.append(": ")
                out.append(UnsafeRawBufferPointer(rebasing: buf[h.value]))
                out.append("\r\n")
            }
        }
        if !x.cache.conditional.isEmpty { out.append(x.cache.conditional) }
        out.append("\r\n")
        // proxy_set_body: the body follows the head in the same buffer.
        if let setBody { out.append(setBody) }
        return Sent(uri: sentURI, connectionClose: sentConnectionClose)
    }

    /// The URI of the upstream request line, by nginx's rules: without a URI part in
    /// proxy_pass the client's URI passes unchanged (or the rewritten one, escaped);
    /// with one, the matched location prefix is replaced by it.
    private static func appendURI(for x: ProxyExchange, pass: UpstreamPass, to out: ByteBuffer) {
        let request = x.request
        let buf = request.headBytes
        if let uri = x.dynamicURI {
            // A URI made by variables is sent as it is (nginx adds no arguments).
            out.append(uri)
            return
        }
        guard let part = pass.uri, !request.uriChanged else {
            if !request.uriChanged && !request.isInternal {
                out.append(UnsafeRawBufferPointer(rebasing: buf[request.head.target]))
                return
            }
            appendEscapedURI(request.uri[...], to: out)
            appendArgs(of: request, to: out)
            return
        }
        out.append(part)
        let prefixCount = request.location?.prefix.utf8.count ?? 0
        if request.uri.count > prefixCount {
            appendEscapedURI(request.uri[prefixCount...], to: out)
        }
        appendArgs(of: request, to: out)
    }

    private static func appendArgs(of request: Request, to out: ByteBuffer) {
        if request.hasArgs {
            out.append(UInt8(ascii: "?"))
            out.append(request.args)
        }
    }

    /// nginx's NGX_ESCAPE_URI: controls, space, '#', '%', '?', DEL and non-ASCII bytes.
    private static func appendEscapedURI(_ uri: ArraySlice<UInt8>, to out: ByteBuffer) {
        let hex = Array("0123456789ABCDEF".utf8)
        for c in uri {
            if c <= 0x20 || c == UInt8(ascii: "#") || c == UInt8(ascii: "%") || c == UInt8(ascii: "?") || c >= 0x7F {
                out.append(UInt8(ascii: "%"))
                out.append(hex[Int(c >> 4)])
                out.append(hex[Int(c & 15)])
            } else {
                out.append(c)
            }
        }
    }
}

/// Case-insensitive comparison of a header name with a lowercase name.
@inline(__always) func asciiCaseEqual<A: Collection<UInt8>, B: Collection<UInt8>>(_ a: A, _ lower: B) -> Bool {
    guard a.count == lower.count else { return false }
    var i = lower.startIndex
    for c in a {
        let l = (c >= 65 && c <= 90) ? c | 0x20 : c
        if l != lower[i] { return false }
        i = lower.index(after: i)
    }
    return true
}

/// The same for a field name in a read buffer against a lowercase `[UInt8]` name (the
/// hidden and passed field lists): read through pointers, without the generic
/// version's bounds-checked indexing (about half the instructions per byte).
@inline(__always) func asciiCaseEqual(_ a: Slice<UnsafeRawBufferPointer>, _ lower: [UInt8]) -> Bool {
    let n = a.count
    guard n == lower.count else { return false }
    guard n > 0, let base = a.base.baseAddress else { return n == 0 }
    let p = base + a.startIndex
    return lower.withUnsafeBufferPointer { l in
        var i = 0
        while i < n {
            let c = p.load(fromByteOffset: i, as: UInt8.self)
            if (c &- 65 < 26 ? c | 0x20 : c) != l[i] { return false }
            i &+= 1
        }
        return true
    }
}
