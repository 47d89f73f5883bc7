// The request sent upstream, re-serialized from the parsed client request (never
// forwarded raw): the request line with nginx's URI rules, `proxy_set_header`
// lines over nginx's defaults (Host $proxy_host, Connection close), the body length,
// and the client's headers minus hop-by-hop fields and those the configuration
// sets; or, for uwsgi_pass, the uwsgi packet of `uwsgi_param` values and HTTP_*
// variables for the client's headers.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxRouting

extension ProxyExchange {
    /// Client headers never passed as they are (nginx's proxy defaults replace them).
    private static let proxyDropped: [[UInt8]] = [
        "host", "connection", "content-length", "transfer-encoding", "te", "keep-alive", "expect", "upgrade",
        "proxy-connection",
    ].map { Array($0.utf8) }

    private static let hostName = Array("host".utf8)
    private static let connectionName = Array("connection".utf8)
    private static let closeValue = Array("close".utf8)

    /// Appends a value's evaluation straight into `out` (no intermediate array).
    func appendValue(_ value: ComplexValue, to out: ByteBuffer) {
        for seg in value.segments {
            switch seg {
            case .literal(let b): out.append(b)
            case .variable(let v): request.appendVariable(v, to: out)
            }
        }
    }

    /// Builds `requestHead` for the current request (the body follows it).
    func buildUpstreamRequest() {
        guard let pass = pass else { return }
        requestHead.clear()
        if pass.proto == .uwsgi {
            buildUwsgiRequest()
            return
        }
        let out = requestHead
        let buf = request.headBytes
        // Request line.
        if let m = settings.method {
            out.append(request.evaluate(m))
        } else if request.isSubrequest || (request.errorPageUsed && !request.isHeadOnly) {
            out.append("GET")
        } else {
            out.append(UnsafeRawBufferPointer(rebasing: buf[request.head.methodBytes]))
        }
        out.append(UInt8(ascii: " "))
        let uriStart = out.writerIndex
        appendUpstreamURI(pass: pass, to: out)
        sentURI = uriStart..<out.writerIndex
        out.append(settings.http11 ? " HTTP/1.1\r\n" : " HTTP/1.0\r\n")
        // proxy_set_header lines, then the defaults they do not replace.
        var setHost = false
        var setConnection = false
        sentConnectionClose = false
        for param in settings.params {
            // Written in place; an empty value takes the line back out (nginx drops it).
            let lineStart = out.writerIndex
            out.append(string: param.name)
            out.append(": ")
            let valueStart = out.writerIndex
            appendValue(param.value, to: out)
            let value = UnsafeRawBufferPointer(start: out.base + valueStart, count: out.writerIndex - valueStart)
            if param.lowercasedName == Self.hostName { setHost = true }
            if param.lowercasedName == Self.connectionName {
                setConnection = true
                if asciiCaseEqual(value, Self.closeValue) { sentConnectionClose = true }
            }
            if value.isEmpty {
                out.writerIndex = lineStart
                continue
            }
            out.append("\r\n")
        }
        if !setHost {
            out.append("Host: ")
            out.append(string: proxyHost)
            out.append("\r\n")
        }
        if !setConnection {
            out.append("Connection: close\r\n")
            sentConnectionClose = true
        }
        if streaming {
            if let n = request.head.contentLength {
                out.appendHeader("Content-Length", decimal: n)
            } else {
                out.append("Transfer-Encoding: chunked\r\n")
            }
        } else if settings.passRequestBody
            && (bodyLength > 0 || request.head.contentLength != nil || request.head.isChunked)
        {
            out.appendHeader("Content-Length", decimal: bodyLength)
        }
        if settings.passRequestHeaders {
            for h in request.head.headers {
                let name = buf[h.name]
                if Self.proxyDropped.contains(where: { asciiCaseEqual(name, $0) }) { continue }
                if settings.params.contains(where: { asciiCaseEqual(name, $0.lowercasedName) }) { continue }
                out.append(UnsafeRawBufferPointer(rebasing: name))
                out.append(": ")
                out.append(UnsafeRawBufferPointer(rebasing: buf[h.value]))
                out.append("\r\n")
            }
        }
        out.append("\r\n")
    }

    /// The URI of the upstream request line, by nginx's rules: without a URI part in
    /// proxy_pass the client's URI passes unchanged (or the rewritten one, escaped);
    /// with one, the matched location prefix is replaced by it.
    private func appendUpstreamURI(pass: UpstreamPass, to out: ByteBuffer) {
        let buf = request.headBytes
        if let uri = dynamicURI {
            out.append(uri)
            if request.hasArgs && !uri.contains(UInt8(ascii: "?")) {
                out.append(UInt8(ascii: "?"))
                out.append(request.args)
            }
            return
        }
        guard let part = pass.uri, !request.uriChanged else {
            if !request.uriChanged && !request.isInternal {
                out.append(UnsafeRawBufferPointer(rebasing: buf[request.head.target]))
                return
            }
            appendEscapedURI(request.uri[...], to: out)
            appendArgs(to: out)
            return
        }
        out.append(part)
        let prefixCount = request.location?.prefix.utf8.count ?? 0
        if request.uri.count > prefixCount {
            appendEscapedURI(request.uri[prefixCount...], to: out)
        }
        appendArgs(to: out)
    }

    private func appendArgs(to out: ByteBuffer) {
        if request.hasArgs {
            out.append(UInt8(ascii: "?"))
            out.append(request.args)
        }
    }

    /// nginx's NGX_ESCAPE_URI: controls, space, '#', '%', '?', DEL and non-ASCII bytes.
    private func appendEscapedURI(_ uri: ArraySlice<UInt8>, to out: ByteBuffer) {
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

    // MARK: uwsgi

    private func buildUwsgiRequest() {
        var params: [(key: [UInt8], value: [UInt8])] = []
        var configured: Set<[UInt8]> = []
        for param in settings.params {
            let v = request.evaluate(param.value)
            configured.insert(Array(param.name.utf8))
            if v.isEmpty && param.ifNotEmpty { continue }
            params.append((Array(param.name.utf8), v))
        }
        if settings.passRequestHeaders {
            let buf = request.headBytes
            for h in request.head.headers {
                var key = Array("HTTP_".utf8)
                for c in buf[h.name] {
                    if c == UInt8(ascii: "-") {
                        key.append(UInt8(ascii: "_"))
                    } else if c >= 97 && c <= 122 {
                        key.append(c - 32)
                    } else {
                        key.append(c)
                    }
                }
                // A uwsgi_param of the same name wins over the client's header.
                if configured.contains(key) { continue }
                params.append((key, Array(buf[h.value])))
            }
        }
        var packet: [UInt8] = []
        if !UwsgiPacket.append(
            params: params, modifier1: settings.modifier1, modifier2: settings.modifier2, to: &packet)
        {
            request.logError("uwsgi request is too big: \(params.reduce(0) { $0 + $1.key.count + $1.value.count })")
            packet.removeAll()
        }
        requestHead.append(packet)
        sentURI = 0..<0
        sentConnectionClose = true
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
