// Request processing after a head is parsed, in nginx's phase order: choose the
// server by Host, normalize the URI, server-level `return`, find the location,
// `internal`, body size limit, location `return`, then content (static files).
// Also the error paths: rejected heads, `error_page` redirects, default pages.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

extension ClientConnection {
    static let maxInternalRedirects = 10

    func beginRequest() {
        requests += 1
        request.reset()
        lastResponseHead.removeAll(keepingCapacity: true)
        request.startMilliseconds = worker.clock.milliseconds
        refreshGroup()
        responseStart = output.writerIndex
        responseHeadLength = 0
        bodyBytesSent = 0
        let buf = headBytes
        let server = selectServer(buf)
        request.server = server
        request.adopt(server.defaultSettings)
        request.keepAlive = head.keepAlive
        request.bodyPending = (head.contentLength ?? 0) > 0 || head.isChunked
        if head.expectContinue && request.bodyPending {
            // The body is never read for static content: do not invite it, close after
            // (a proxied location undoes this and answers 100 Continue).
            request.keepAlive = false
            request.bodyPending = false
            request.expectContinue = true
        }
        state = .sending
        let path = buf[head.path]
        guard path.first == UInt8(ascii: "/"),
            URINormalizer.normalize(
                UnsafeRawBufferPointer(rebasing: path), mergeSlashes: server.settings.mergeSlashes, into: &request.uri)
        else {
            logInfo("client sent invalid request")
            request.keepAlive = false
            sendDefaultPage(400)
            return
        }
        if let q = head.query {
            request.hasArgs = true
            request.args.append(contentsOf: buf[q])
        }
        if group.options.ssl && !checkTLSRequest(server) { return }
        if !server.serverRewrites.isEmpty,
            case .handled = runRewrites(server.serverRewrites, settings: server.defaultSettings)
        {
            return
        }
        runLocation()
    }

    /// Host header (or absolute-form authority) → server: lowercased, port and trailing dot removed.
    private func selectServer(_ buf: UnsafeRawBufferPointer) -> VirtualServer {
        let group = group
        guard let h = head.host else { return group.defaultServer }
        var end = h.upperBound
        // Strip ":port" (not inside an IPv6 literal).
        var i = end - 1
        while i >= h.lowerBound {
            let c = buf[i]
            if c == UInt8(ascii: ":") {
                end = i
                break
            }
            if c == UInt8(ascii: "]") || !(c >= 48 && c <= 57) { break }
            i -= 1
        }
        if end > h.lowerBound && buf[end - 1] == UInt8(ascii: ".") { end -= 1 }
        let count = end - h.lowerBound
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(count, 1)) { tmp in
            for j in 0..<count {
                let c = buf[h.lowerBound + j]
                tmp[j] = (c >= 65 && c <= 90) ? c | 0x20 : c
            }
            let host = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tmp)[0..<count])
            var captures: (Regex, [Range<Int>])? = nil
            let server = group.server(forHost: host, captures: &captures)
            if let (regex, ranges) = captures {
                // server_name regex captures are variables until a location regex replaces them.
                request.captureRegex = regex
                request.captureSubject = Array(host)
                request.captures = ranges
                for (name, n) in regex.namedGroups where n < ranges.count && !ranges[n].isEmpty {
                    request.customVariables[name] = Array(host[ranges[n]])
                }
            }
            return server
        }
    }

    /// Finds the location for `request.uri` and runs it.
    func runLocation() {
        guard let server = request.server else { return }
        if request.redirects > ClientConnection.maxInternalRedirects {
            logError(
                "rewrite or internal redirection cycle while internally redirecting to \"\(String(decoding: request.uri, as: UTF8.self))\""
            )
            request.keepAlive = false
            sendDefaultPage(500)
            return
        }
        if !server.autoRedirects.isEmpty, server.autoRedirects.contains(String(decoding: request.uri, as: UTF8.self)) {
            var target = request.uri + [UInt8(ascii: "/")]
            if request.hasArgs { target += [UInt8(ascii: "?")] + request.args }
            sendRedirect(301, location: target, settings: server.defaultSettings)
            return
        }
        let match = request.uri.withUnsafeBytes { server.locations.match($0) }
        guard let match else {
            // No location matches: nginx serves with the server level's settings.
            runLocation(server.serverLevelLocation, captures: [])
            return
        }
        if !match.captures.isEmpty {
            request.captureRegex = match.regex
            request.captureSubject = request.uri
        }
        runLocation(match.location, captures: match.captures)
    }

    func runLocation(_ location: Location, captures: [Range<Int>]) {
        request.location = location
        if !captures.isEmpty { request.captures = captures }
        let s = location.settings
        request.adopt(s)
        if s.isInternal && !request.isInternal {
            respondError(404)
            return
        }
        if let cl = head.contentLength, s.clientMaxBodySize > 0, cl > s.clientMaxBodySize {
            logError("client intended to send too large body: \(cl) bytes")
            request.keepAlive = false
            request.bodyPending = true
            respondError(413)
            return
        }
        if !s.rewrites.isEmpty {
            switch runRewrites(s.rewrites, settings: s) {
            case .handled:
                return
            case .restart:
                // A rewritten URI is an internal request that searches the locations again.
                request.redirects += 1
                request.isInternal = true
                runLocation()
                return
            case .proceed:
                break
            }
        }
        // An `if` block that matched may have switched to its pseudo-location.
        runContent(request.location ?? location)
    }

    /// The content phase for `location` (after its rewrites).
    private func runContent(_ location: Location) {
        let s = location.settings
        if s.upstreamStatus {
            serveUpstreamStatus(settings: s)
            return
        }
        if let pass = s.pass {
            startProxy(pass, location: location)
            return
        }
        if let t = s.tryFiles {
            runTryFiles(t, location: location)
            return
        }
        serveStatic(location)
    }

    /// Restarts location matching with a new URI (index, error_page).
    func internalRedirect(to uri: [UInt8], args: [UInt8]?) {
        request.redirects += 1
        request.isInternal = true
        request.uri = uri
        if let args {
            request.args = args
            request.hasArgs = !args.isEmpty
        }
        runLocation()
    }

    // MARK: return

    func performReturn(_ r: ReturnAction, settings: LocationSettings) {
        let code = r.code
        if code == 444 {
            // Close without a response (answers to earlier pipelined requests still go out).
            request.status = 444
            request.keepAlive = false
            request.bodyPending = false
            flushResponse()
            return
        }
        if let text = r.text {
            let value = evaluate(text)
            if [301, 302, 303, 307, 308].contains(code) {
                sendRedirect(code, location: value, settings: settings)
                return
            }
            request.status = code
            beginHead(code)
            let body = appendMemoryBodyHeaders(value, type: settings.defaultType, status: code, settings: settings)
            finishHead(settings: settings)
            if !isHeadOnly { appendBody(body) }
            flushResponse()
            return
        }
        if code >= 400 || (code >= 300 && code != 304) {
            respondError(code)
            return
        }
        request.status = code
        beginHead(code)
        if code != 204 && code != 304 { appendContentLength(0) }
        finishHead(settings: settings)
        flushResponse()
    }

    /// A redirect with nginx's default body; a relative target becomes absolute
    /// (`absolute_redirect`, `server_name_in_redirect`, `port_in_redirect`).
    func sendRedirect(_ code: Int, location: [UInt8], settings: LocationSettings) {
        var target = location
        if settings.absoluteRedirect && target.first == UInt8(ascii: "/") {
            target = absolutePrefix(settings: settings) + target
        }
        request.status = code
        writeDefaultPage(code, settings: settings) { $0.appendHeader("Location", target) }
    }

    /// "http://host[:port]" (https for TLS) for absolute redirects.
    func absolutePrefix(settings: LocationSettings) -> [UInt8] {
        var out = Array((tls != nil ? "https://" : "http://").utf8)
        if settings.serverNameInRedirect, let name = request.server?.primaryName, !name.isEmpty {
            out += Array(name.utf8)
        } else if let h = head.host {
            let b = headBytes[h]
            var end = b.endIndex
            if let colon = b.lastIndex(of: UInt8(ascii: ":")), !b[colon...].contains(UInt8(ascii: "]")) { end = colon }
            out += b[b.startIndex..<end]
        } else if let name = request.server?.primaryName, !name.isEmpty {
            out += Array(name.utf8)
        } else {
            out += Array(group.address.host.utf8)
        }
        let port = group.address.port
        if settings.portInRedirect && port != (tls != nil ? 443 : 80) { out += Array(":\(port)".utf8) }
        return out
    }

    // MARK: errors

    /// A head the parser refused: answer its status and close.
    func rejectHead(_ e: RequestParseError) {
        requests += 1
        request.reset()
        request.startMilliseconds = worker.clock.milliseconds
        head.headLength = 0
        responseStart = output.writerIndex
        responseHeadLength = 0
        bodyBytesSent = 0
        request.server = group.defaultServer
        request.adopt(group.defaultServer.defaultSettings)
        request.keepAlive = false
        request.bodyPending = true
        logInfo(e.logMessage)
        state = .sending
        if e.status == 400, case .headerTooLarge = e {
            request.status = 400
            writeDefaultPage(400, title: "400 Request Header Or Cookie Too Large", settings: nil)
            return
        }
        sendDefaultPage(e.status)
    }

    /// An error status: `error_page` if the location has one for it, else the default page.
    func respondError(_ status: Int) {
        let settings = request.location?.settings ?? request.server?.defaultSettings
        if let settings, !request.errorPageUsed, let page = settings.errorPages[status] {
            request.errorPageUsed = true
            let uri = evaluate(page.uri)
            if page.useTargetStatus {
                request.overrideStatus = nil
            } else {
                request.overrideStatus = page.overrideStatus ?? status
            }
            if uri.first == UInt8(ascii: "@") {
                let name = String(decoding: uri.dropFirst(), as: UTF8.self)
                if let server = request.server, let named = server.locations.named(name) {
                    request.isInternal = true
                    request.headOnly = isHeadOnly
                    runLocation(named, captures: [])
                    return
                }
                logError("could not find named location \"\(name)\"")
                request.overrideStatus = nil
                sendDefaultPage(500)
                return
            }
            if uri.first != UInt8(ascii: "/") {
                request.overrideStatus = nil
                sendRedirect(page.overrideStatus ?? 302, location: uri, settings: settings)
                return
            }
            request.headOnly = isHeadOnly
            var path = uri
            var args: [UInt8]? = nil
            if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
                path = Array(uri[..<q])
                args = Array(uri[(q + 1)...])
            }
            internalRedirect(to: path, args: args)
            return
        }
        sendDefaultPage(status)
    }

    /// nginx's checks of a request that came over an `ssl` address: plain HTTP on the
    /// HTTPS port (497), a client certificate that `ssl_verify_client` requires (496) or
    /// that failed verification (495), and a Host naming another server than the
    /// certificate-verifying one SNI chose (421). False when an answer was sent.
    func checkTLSRequest(_ server: VirtualServer) -> Bool {
        if plainHTTPOnTLSPort {
            logInfo("client sent plain HTTP request to HTTPS port")
            request.keepAlive = false
            respondError(497)
            return false
        }
        guard let tls else { return true }
        let verify = server.settings.ssl.verifyClient
        if verify != .off && verify != .optionalNoCA {
            let result = tls.clientVerify
            if result == "NONE" {
                if verify == .on {
                    logInfo("client sent no required SSL certificate while reading client request headers")
                    request.keepAlive = false
                    respondError(496)
                    return false
                }
            } else if result != "SUCCESS" {
                logInfo(
                    "client SSL certificate verify error: \(result.dropFirst(7)) while reading client request headers")
                request.keepAlive = false
                respondError(495)
                return false
            }
        }
        if let sni = tls.serverName?.lowercased(), !sni.isEmpty {
            let chosen = Array(sni.utf8).withUnsafeBytes { group.server(forHost: $0) }
            if chosen !== server && chosen.settings.ssl.verifyClient != .off {
                logInfo("client attempted to request the server name different from the one that was negotiated")
                request.keepAlive = false
                sendDefaultPage(421)
                return false
            }
        }
        return true
    }

    /// nginx's built-in page for `status`.
    func sendDefaultPage(_ status: Int) {
        let settings = request.location?.settings ?? request.server?.defaultSettings
        if status >= 495 && status <= 497 {
            // nginx's 495-497 go out as 400 with their own page.
            writeDefaultPage(400, settings: settings, pageCode: status)
            return
        }
        writeDefaultPage(status, settings: settings)
    }

    func writeDefaultPage(
        _ status: Int, title: String? = nil, settings: LocationSettings?, pageCode: Int? = nil,
        extra: (ByteBuffer) -> Void = { _ in }
    ) {
        request.status = status
        switch status {
        case 400, 413, 414, 500, 501: request.keepAlive = false
        default: break
        }
        let tokens = settings?.serverTokens ?? true
        var body = worker.errorPage(pageCode ?? status, serverTokens: tokens)
        if let title, var b = body {
            // nginx keeps the 400 status but names the real cause (its internal 494).
            let old = Array("400 Bad Request".utf8)
            b = replaceAll(b, old, Array(title.utf8))
            body = b
        }
        let finalStatus = request.overrideStatus ?? status
        beginHead(finalStatus)
        var sent = body
        if let body { sent = appendMemoryBodyHeaders(body, type: "text/html", status: finalStatus, settings: settings) }
        extra(output)
        finishHead(settings: settings)
        if let sent, !isHeadOnly { appendBody(sent) }
        flushResponse()
    }

    private func replaceAll(_ b: [UInt8], _ old: [UInt8], _ new: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var i = 0
        while i < b.count {
            if i + old.count <= b.count && b[i..<(i + old.count)].elementsEqual(old) {
                out += new
                i += old.count
            } else {
                out.append(b[i])
                i += 1
            }
        }
        return out
    }

    var isHeadOnly: Bool { head.method == .head }

    /// Starts sending what is in `output` (and the file, if any).
    func flushResponse() {
        state = .sending
    }
}
