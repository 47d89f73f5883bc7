// Error answers: a head the parser refused, `error_page` (a URI by internal
// redirect, a named location, a URL by redirect, `=code` overrides), nginx's
// built-in pages for every status (495-497 sent as 400 with their own text), and
// the TLS checks nginx makes on a request that came over an `ssl` address. A
// namespace of functions taking the request; the request keeps `respondError` and
// `writeDefaultPage` as forwarders for the content handlers.

import SwiftginxConfig
import SwiftginxHTTP

enum ErrorPages {
    /// A head the parser refused: answer its status (the connection then closes).
    static func reject(_ r: Request, _ e: RequestParseError, server: VirtualServer) {
        r.reset()
        r.startMilliseconds = r.worker.clock.milliseconds
        r.server = server
        r.adopt(server.serverLevelLocation)
        r.keepAlive = false
        r.bodyPending = true
        r.logInfo(e.logMessage)
        if e.status == 400, case .headerTooLarge = e {
            r.status = 400
            write(r, 400, title: "400 Request Header Or Cookie Too Large", settings: nil)
            return
        }
        if server.defaultSettings.errorPages[e.status] != nil {
            // nginx runs the server's error_page for a refused head too (say, an invalid
            // Host): the page's URI is a request of its own, without the head's fields
            // (nothing of the refused head is read; a page that would proxy gets the
            // built-in page instead).
            r.head.reset()
            respond(r, e.status)
            return
        }
        sendDefault(r, e.status)
    }

    /// An error status: `error_page` if the location has one for it, else the default page.
    static func respond(_ r: Request, _ status: Int) {
        let settings = r.location?.settings ?? r.server?.defaultSettings
        // A new error replaces the status an earlier error_page kept (nginx's err_status).
        r.overrideStatus = nil
        if let settings, !r.errorPageUsed, let page = settings.errorPages[status] {
            if !settings.recursiveErrorPages { r.errorPageUsed = true }
            let uri = Variables.evaluate(r, page.uri)
            if page.useTargetStatus {
                r.overrideStatus = nil
            } else {
                r.overrideStatus = page.overrideStatus ?? status
            }
            if uri.first == UInt8(ascii: "@") {
                let name = String(decoding: uri.dropFirst(), as: UTF8.self)
                if let server = r.server, let named = server.locations.named(name) {
                    r.headOnly = r.isHeadOnly
                    r.runNamedLocation(named, name: name, captures: [])
                    return
                }
                r.logError("could not find named location \"\(name)\"")
                r.overrideStatus = nil
                sendDefault(r, 500)
                return
            }
            if uri.first != UInt8(ascii: "/") {
                r.overrideStatus = nil
                // A code that is not a redirect's ("=200", or none) becomes 302, as in nginx.
                let code = page.overrideStatus.flatMap { [301, 302, 303, 307, 308].contains($0) ? $0 : nil } ?? 302
                r.errorPageUsed = true
                ReturnHandler.redirect(r, code, location: uri, settings: settings)
                return
            }
            r.headOnly = r.isHeadOnly
            var path = uri
            var args: [UInt8]? = nil
            if let q = uri.firstIndex(of: UInt8(ascii: "?")) {
                path = Array(uri[..<q])
                args = Array(uri[(q + 1)...])
            }
            r.internalRedirect(to: path, args: args)
            return
        }
        sendDefault(r, status)
    }

    /// nginx's checks of a request that came over an `ssl` address: plain HTTP on the
    /// HTTPS port (497), a client certificate that `ssl_verify_client` requires (496) or
    /// that failed verification (495), and a Host naming another server than the
    /// certificate-verifying one SNI chose (421). False when an answer was sent.
    static func checkTLSRequest(_ r: Request, _ server: VirtualServer) -> Bool {
        if r.plainHTTPOnTLSPort {
            r.logInfo("client sent plain HTTP request to HTTPS port")
            r.keepAlive = false
            respond(r, 497)
            return false
        }
        guard let tls = r.tls else { return true }
        let verify = server.settings.ssl.verifyClient
        // A Host other than the name SNI negotiated (a name of one of the address's
        // servers, as nginx keeps it), for a server that verifies client certificates:
        // the certificate was checked against another server's settings.
        if verify != .off, let sni = tls.serverName?.lowercased(), !sni.isEmpty,
            !Array(sni.utf8).elementsEqual(normalizedHost(r)),
            Array(sni.utf8).withUnsafeBytes({ r.group.names.match($0) }) != nil
        {
            r.logInfo("client attempted to request the server name different from the one that was negotiated")
            r.keepAlive = false
            sendDefault(r, 421)
            return false
        }
        if verify == .optionalNoCA, let failure = tls.ocspFailure {
            // Chain errors pass with optional_no_ca; an OCSP verdict does not (nginx).
            r.logInfo("client SSL certificate verify error: \(failure) while reading client request headers")
            r.keepAlive = false
            respond(r, 495)
            return false
        }
        if verify != .off && verify != .optionalNoCA {
            let result = tls.clientVerify
            if result == "NONE" {
                if verify == .on {
                    r.logInfo("client sent no required SSL certificate while reading client request headers")
                    r.keepAlive = false
                    respond(r, 496)
                    return false
                }
            } else if result != "SUCCESS" {
                r.logInfo(
                    "client SSL certificate verify error: \(result.dropFirst(7)) while reading client request headers")
                r.keepAlive = false
                respond(r, 495)
                return false
            }
        }
        return true
    }

    /// The request's host as server selection sees it: lowercased, without port or
    /// trailing dot ("" without a Host).
    private static func normalizedHost(_ r: Request) -> [UInt8] {
        guard let h = r.head.host else { return [] }
        var host = Array(r.headBytes[h])
        if let colon = host.lastIndex(of: UInt8(ascii: ":")), !host[(colon + 1)...].contains(UInt8(ascii: "]")) {
            host.removeSubrange(colon...)
        }
        if host.last == UInt8(ascii: ".") { host.removeLast() }
        for i in host.indices where host[i] >= 65 && host[i] <= 90 { host[i] |= 0x20 }
        return host
    }

    /// nginx's built-in page for `status`.
    static func sendDefault(_ r: Request, _ status: Int) {
        let settings = r.location?.settings ?? r.server?.defaultSettings
        if status >= 495 && status <= 497 {
            // nginx's 495-497 go out as 400 with their own page.
            write(r, 400, settings: settings, pageCode: status)
            return
        }
        write(r, status, settings: settings)
    }

    static func write(
        _ r: Request, _ status: Int, title: String? = nil, settings: LocationSettings?, pageCode: Int? = nil,
        extra: (ByteBuffer) -> Void = { _ in }
    ) {
        r.status = status
        switch status {
        case 400, 413, 414, 500, 501: r.keepAlive = false
        default: break
        }
        let tokens = settings?.serverTokens ?? .on
        var body = r.worker.errorPage(pageCode ?? status, serverTokens: tokens)
        if let title, var b = body {
            // nginx keeps the 400 status but names the real cause (its internal 494).
            let old = Array("400 Bad Request".utf8)
            b = replaceAll(b, old, Array(title.utf8))
            body = b
        }
        let finalStatus = r.overrideStatus ?? status
        r.beginHead(finalStatus)
        var sent = body
        if let body {
            sent = r.appendMemoryBodyHeaders(body, type: "text/html", status: finalStatus, settings: settings)
        }
        extra(r.output)
        r.finishHead(settings: settings)
        if let sent, !r.isHeadOnly { r.appendBody(sent) }
        r.flushResponse()
    }

    private static func replaceAll(_ b: [UInt8], _ old: [UInt8], _ new: [UInt8]) -> [UInt8] {
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
