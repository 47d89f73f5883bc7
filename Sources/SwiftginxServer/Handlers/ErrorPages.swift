// Error answers: a head the parser refused, `error_page` (a URI by internal
// redirect, a named location, a URL by redirect, `=code` overrides), nginx's
// built-in pages for every status (495-497 sent as 400 with their own text), and
// the TLS checks nginx makes on a request that came over an `ssl` address.

import SwiftginxConfig
import SwiftginxHTTP

extension Request {
    /// A head the parser refused: answer its status (the connection then closes).
    func reject(_ e: RequestParseError, server: VirtualServer) {
        self.reset()
        self.startMilliseconds = worker.clock.milliseconds
        self.server = server
        self.adopt(server.defaultSettings)
        self.keepAlive = false
        self.bodyPending = true
        logInfo(e.logMessage)
        if e.status == 400, case .headerTooLarge = e {
            self.status = 400
            writeDefaultPage(400, title: "400 Request Header Or Cookie Too Large", settings: nil)
            return
        }
        sendDefaultPage(e.status)
    }

    /// An error status: `error_page` if the location has one for it, else the default page.
    func respondError(_ status: Int) {
        let settings = self.location?.settings ?? self.server?.defaultSettings
        if let settings, !self.errorPageUsed, let page = settings.errorPages[status] {
            self.errorPageUsed = true
            let uri = evaluate(page.uri)
            if page.useTargetStatus {
                self.overrideStatus = nil
            } else {
                self.overrideStatus = page.overrideStatus ?? status
            }
            if uri.first == UInt8(ascii: "@") {
                let name = String(decoding: uri.dropFirst(), as: UTF8.self)
                if let server = self.server, let named = server.locations.named(name) {
                    self.isInternal = true
                    self.headOnly = isHeadOnly
                    runLocation(named, captures: [])
                    return
                }
                logError("could not find named location \"\(name)\"")
                self.overrideStatus = nil
                sendDefaultPage(500)
                return
            }
            if uri.first != UInt8(ascii: "/") {
                self.overrideStatus = nil
                sendRedirect(page.overrideStatus ?? 302, location: uri, settings: settings)
                return
            }
            self.headOnly = isHeadOnly
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
            self.keepAlive = false
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
                    self.keepAlive = false
                    respondError(496)
                    return false
                }
            } else if result != "SUCCESS" {
                logInfo(
                    "client SSL certificate verify error: \(result.dropFirst(7)) while reading client request headers")
                self.keepAlive = false
                respondError(495)
                return false
            }
        }
        if let sni = tls.serverName?.lowercased(), !sni.isEmpty {
            let chosen = Array(sni.utf8).withUnsafeBytes { group.server(forHost: $0) }
            if chosen !== server && chosen.settings.ssl.verifyClient != .off {
                logInfo("client attempted to request the server name different from the one that was negotiated")
                self.keepAlive = false
                sendDefaultPage(421)
                return false
            }
        }
        return true
    }

    /// nginx's built-in page for `status`.
    func sendDefaultPage(_ status: Int) {
        let settings = self.location?.settings ?? self.server?.defaultSettings
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
        self.status = status
        switch status {
        case 400, 413, 414, 500, 501: self.keepAlive = false
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
        let finalStatus = self.overrideStatus ?? status
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
}
