// Building the response head into the connection's output buffer, in nginx's
// header order: status line, Server, Date, Content-Type, Content-Length,
// Last-Modified, Location, Connection, then ETag/Expires/Cache-Control/
// Accept-Ranges/Content-Range and `add_header` lines. The field helpers shared
// with the handlers (appendHeader, `expires`) are in ResponseHeaderFields.swift.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension Request {
    /// Clears the output and writes the status line, Server and Date.
    func beginHead(_ status: Int) {
        // A head started earlier for this request (then abandoned) is discarded.
        output.writerIndex = max(responseStart, output.readerIndex)
        bodyBytesSent = 0
        self.status = status
        output.append(HTTPStatus.statusLine(status))
        let tokens = self.location?.settings.serverTokens ?? self.server?.defaultSettings.serverTokens ?? .on
        output.append(ServerVersion.serverLine(tokens))
        output.append(worker.clock.dateHeader)
    }

    /// Content-Type, with `; charset=...` when `charset` applies to this type.
    func appendContentType(_ type: String) {
        if let carried = self.carriedContentType {
            output.appendHeader("Content-Type", carried)
            return
        }
        output.append("Content-Type: ")
        output.append(string: type)
        if let charset = charset(for: type) {
            output.append("; charset=")
            output.append(string: charset)
        }
        output.append("\r\n")
    }

    /// The `charset` to announce with `type`, if any.
    func charset(for type: String) -> String? {
        // Fields are read through the owning object: copying LocationSettings costs retains.
        let charset: String?
        let types: Set<String>
        if let l = self.location {
            charset = l.settings.charset
            types = charset == nil ? [] : l.settings.charsetTypes
        } else if let server = self.server {
            charset = server.defaultSettings.charset
            types = charset == nil ? [] : server.defaultSettings.charsetTypes
        } else {
            return nil
        }
        guard let charset, types.contains(type) || types.contains("*") else { return nil }
        return charset
    }

    func appendContentLength(_ n: Int64) {
        output.appendHeader("Content-Length", decimal: n)
    }

    /// Connection, the caller's trailing headers, expires, add_header, and the blank line.
    func finishHead(
        settings: LocationSettings?, mtime: Int? = nil, trailing: (ByteBuffer) -> Void = { _ in }
    ) {
        if let settings {
            finishHead(settings: settings, mtime: mtime, trailing: trailing)
        } else {
            // No location: no keep-alive limits, expires or add_header of one apply.
            finishHead(
                keepaliveRequests: 0, keepaliveTimeout: 1, keepaliveHeaderTimeout: nil, expires: .off, addHeaders: [],
                mtime: mtime, trailing: trailing)
        }
    }

    func finishHead(
        settings s: LocationSettings, mtime: Int? = nil, trailing: (ByteBuffer) -> Void = { _ in }
    ) {
        finishHead(
            keepaliveRequests: s.keepaliveRequests, keepaliveTimeout: s.keepaliveTimeout,
            keepaliveHeaderTimeout: s.keepaliveHeaderTimeout, expires: s.expires, addHeaders: s.addHeaders,
            mtime: mtime, trailing: trailing)
    }

    /// The same for a location, its fields read in place through the reference (the
    /// proxied response's path: no copy of the whole settings struct).
    func finishHead(location l: Location?) {
        guard let l else { return finishHead(settings: nil) }
        finishHead(
            keepaliveRequests: l.settings.keepaliveRequests, keepaliveTimeout: l.settings.keepaliveTimeout,
            keepaliveHeaderTimeout: l.settings.keepaliveHeaderTimeout, expires: l.settings.expires,
            addHeaders: l.settings.addHeaders, mtime: nil, trailing: { _ in }, fromUpstream: true)
    }

    private func finishHead(
        keepaliveRequests: Int, keepaliveTimeout: Int, keepaliveHeaderTimeout: Int?, expires: Expires,
        addHeaders: [AddHeader], mtime: Int?, trailing: (ByteBuffer) -> Void, fromUpstream: Bool = false
    ) {
        let status = self.status
        if self.keepAlive && !shuttingDown && status != 101 {
            if keepaliveRequests > 0, connectionRequests >= keepaliveRequests { self.keepAlive = false }
            if keepaliveTimeout == 0 { self.keepAlive = false }
        } else {
            self.keepAlive = false
        }
        if status == 101 {
            output.append("Connection: upgrade\r\n")
        } else {
            output.append(self.keepAlive ? "Connection: keep-alive\r\n" : "Connection: close\r\n")
        }
        if self.keepAlive, let t = keepaliveHeaderTimeout {
            // keepalive_timeout's second parameter: "Keep-Alive: timeout=N" (seconds).
            output.append("Keep-Alive: timeout=")
            output.append(decimal: Int64(t))
            output.append("\r\n")
        }
        trailing(output)
        if !self.carriedHeaders.isEmpty { output.append(self.carriedHeaders) }
        let applies = isSuccessOrRedirect(status)
        if applies && expires != .off {
            let mtime = fromUpstream ? replaceUpstreamCaching(mtime: mtime) : mtime
            ExpiresHeader.append(expires, mtime: mtime, now: worker.clock.seconds, to: output)
        }
        writer.buildingHead = true
        for h in addHeaders where h.always || applies {
            let v = Variables.evaluate(self, h.value)
            if Self.addHeaderReplaces(h.name) { removeHeadLines(named: h.name) }
            if v.isEmpty { continue }
            output.append(string: h.name)
            output.append(": ")
            output.append(v)
            output.append("\r\n")
        }
        writer.buildingHead = false
        output.append("\r\n")
        responseHeadLength = output.writerIndex - responseStart
        // Kept for `$sent_http_*` when the configuration uses it (no copy otherwise).
        if isSubrequest || worker.generation.config.usesSentHeaders {
            lastResponseHead.removeAll(keepingCapacity: true)
            lastResponseHead.append(
                contentsOf: UnsafeRawBufferPointer(start: output.base + responseStart, count: responseHeadLength))
        }
    }

    /// Appends a body held in memory.
    func appendBody(_ bytes: UnsafeRawBufferPointer) {
        output.append(bytes)
        bodyBytesSent += Int64(bytes.count)
    }

    func appendBody(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { appendBody($0) }
    }
}
