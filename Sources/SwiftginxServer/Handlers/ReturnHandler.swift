// `return` and redirects: nginx's rewrite-module `return code [text|URL]` (444
// closes without an answer), and every redirect the server makes (rewrite
// redirect/permanent, a directory without its slash, error_page to a URL) with
// nginx's default body and an absolute Location (`absolute_redirect`,
// `server_name_in_redirect`, `port_in_redirect`).

import SwiftginxConfig
import SwiftginxHTTP

extension Request {
    // MARK: return

    func performReturn(_ r: ReturnAction, settings: LocationSettings) {
        let code = r.code
        trace?.note("handler: return \(code)" + (r.text.map { " \($0.source)" } ?? ""))
        if code == 444 {
            // Close without a response (answers to earlier pipelined requests still go out).
            self.status = 444
            self.keepAlive = false
            self.bodyPending = false
            flushResponse()
            return
        }
        if let text = r.text {
            let value = evaluate(text)
            if [301, 302, 303, 307, 308].contains(code) {
                sendRedirect(code, location: value, settings: settings)
                return
            }
            self.status = code
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
        self.status = code
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
        self.status = code
        writeDefaultPage(code, settings: settings) { $0.appendHeader("Location", target) }
    }

    /// "http://host[:port]" (https for TLS) for absolute redirects.
    func absolutePrefix(settings: LocationSettings) -> [UInt8] {
        var out = Array((tls != nil ? "https://" : "http://").utf8)
        if settings.serverNameInRedirect, let name = self.server?.primaryName, !name.isEmpty {
            out += Array(name.utf8)
        } else if let h = head.host {
            let b = headBytes[h]
            var end = b.endIndex
            if let colon = b.lastIndex(of: UInt8(ascii: ":")), !b[colon...].contains(UInt8(ascii: "]")) { end = colon }
            out += b[b.startIndex..<end]
        } else if let name = self.server?.primaryName, !name.isEmpty {
            out += Array(name.utf8)
        } else {
            out += Array(group.address.host.utf8)
        }
        let port = group.address.port
        if settings.portInRedirect && port != (tls != nil ? 443 : 80) { out += Array(":\(port)".utf8) }
        return out
    }

}
