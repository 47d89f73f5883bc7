// `return` and redirects: nginx's rewrite-module `return code [text|URL]` (444
// closes without an answer), and every redirect the server makes (rewrite
// redirect/permanent, a directory without its slash, error_page to a URL) with
// nginx's default body and an absolute Location (`absolute_redirect`,
// `server_name_in_redirect`, `port_in_redirect`). A namespace of functions taking
// the request; the request keeps `sendRedirect` and `absolutePrefix` as forwarders.

import SwiftginxConfig
import SwiftginxHTTP

enum ReturnHandler {
    static func perform(_ r: Request, _ action: ReturnAction, settings: LocationSettings) {
        let code = action.code
        r.trace?.note("handler: return \(code)" + (action.text.map { " \($0.source)" } ?? ""))
        if code == 444 {
            // Close without a response (answers to earlier pipelined requests still go out).
            r.status = 444
            r.keepAlive = false
            r.bodyPending = false
            r.flushResponse()
            return
        }
        if let text = action.text {
            var value = Variables.evaluate(r, text)
            if [301, 302, 303, 307, 308].contains(code) {
                redirect(r, code, location: value, settings: settings)
                return
            }
            if settings.sourceCharset != nil, let table = r.charsetRecoding(for: settings.defaultType) {
                // The charset module recodes the text as it would a file.
                var recoded: [UInt8] = []
                table.recode(value, into: &recoded)
                value = recoded
            }
            // After an error_page, the error's status is sent (nginx's err_status).
            let status = r.overrideStatus ?? code
            r.status = status
            r.beginHead(status)
            let body: [UInt8]
            if settings.gzip.enabled || settings.brotli.enabled || settings.zstd.enabled {
                body = r.appendMemoryBodyHeaders(value, type: settings.defaultType, status: status, settings: settings)
            } else {
                // No compression filter is on, so appendMemoryBodyHeaders would only add
                // these two; calling it would copy the settings into an Optional (a retain
                // and release of every reference in them).
                r.appendContentType(settings.defaultType)
                r.appendContentLength(Int64(value.count))
                body = value
            }
            r.finishHead(settings: settings)
            if !r.isHeadOnly { r.appendBody(body) }
            r.flushResponse()
            return
        }
        if code >= 400 || (code >= 300 && code != 304) {
            ErrorPages.respond(r, code)
            return
        }
        let status = r.overrideStatus ?? code
        r.status = status
        r.beginHead(status)
        if status != 204 && status != 304 {
            // nginx's ngx_http_send_response with no text: the type (and charset) too.
            r.appendContentType(settings.defaultType)
            r.appendContentLength(0)
        }
        r.finishHead(settings: settings)
        r.flushResponse()
    }

    /// A redirect with nginx's default body; a relative target becomes absolute
    /// (`absolute_redirect`, `server_name_in_redirect`, `port_in_redirect`).
    /// An `error_page` for the code takes over (the Location is then not sent), as
    /// nginx's redirects end in its special-response handler.
    static func redirect(_ r: Request, _ code: Int, location: [UInt8], settings: LocationSettings) {
        var target = location
        if settings.absoluteRedirect && target.first == UInt8(ascii: "/") {
            target = absolutePrefix(r, settings: settings) + target
        }
        if !r.carriedHeaders.isEmpty { r.dropCarriedHeader(Array("location".utf8)) }
        if !r.errorPageUsed, settings.errorPages[code] != nil {
            // The Location stays with the response unless the page redirects again.
            r.carriedHeaders += Array("Location: ".utf8) + target + [13, 10]
            ErrorPages.respond(r, code)
            return
        }
        r.overrideStatus = nil
        r.status = code
        ErrorPages.write(r, code, settings: settings) { $0.appendHeader("Location", target) }
    }

    /// "http://host[:port]" (https for TLS) for absolute redirects.
    static func absolutePrefix(_ r: Request, settings: LocationSettings) -> [UInt8] {
        var out = Array((r.tls != nil ? "https://" : "http://").utf8)
        if settings.serverNameInRedirect, let name = r.server?.primaryName, !name.isEmpty {
            out += Array(name.utf8)
        } else if let h = r.head.host, r.head.headLength > 0 {
            // The Host the request gave, lowercased, without its port or trailing dot.
            let b = r.headBytes[h]
            var end = b.endIndex
            if let colon = b.lastIndex(of: UInt8(ascii: ":")), !b[colon...].contains(UInt8(ascii: "]")) { end = colon }
            if end > b.startIndex, b[end - 1] == UInt8(ascii: ".") { end -= 1 }
            for c in b[b.startIndex..<end] { out.append(c >= 65 && c <= 90 ? c | 0x20 : c) }
        } else if let l = r.localAddress {
            // No (valid) Host: the address the connection came to, as nginx does.
            l.appendHost(to: &out)
        } else {
            out += Array(r.group.address.host.utf8)
        }
        let port = r.group.address.port
        if settings.portInRedirect && port != (r.tls != nil ? 443 : 80) { out += Array(":\(port)".utf8) }
        return out
    }
}
