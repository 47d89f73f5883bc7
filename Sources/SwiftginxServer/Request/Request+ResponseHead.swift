// Building the response head into the connection's output buffer, in nginx's
// header order: status line, Server, Date, Content-Type, Content-Length,
// Last-Modified, Location, Connection, then ETag/Expires/Cache-Control/
// Accept-Ranges/Content-Range and `add_header` lines. The field helpers shared
// with the handlers (appendHeader, `expires`) are in ResponseHeaderFields.swift.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

extension Request {
    /// Clears the output and writes the status line, Server and Date.
    func beginHead(_ status: Int) {
        // A head started earlier for this request (then abandoned) is discarded.
        output.writerIndex = max(responseStart, output.readerIndex)
        bodyBytesSent = 0
        self.status = status
        if status == 200 {
            output.append("HTTP/1.1 200 OK\r\n")  // the usual line without the table's array
        } else {
            output.append(HTTPStatus.statusLine(status))
        }
        let tokens = self.location?.settings.serverTokens ?? self.server?.defaultSettings.serverTokens ?? .on
        output.append(ServerVersion.serverLine(tokens))
        output.append(worker.clock.dateHeader)
    }

    /// Content-Type, with `; charset=...` when `charset` applies to this type, else
    /// the response's own charset (`own`: autoindex's xml is utf-8), if any. `encoded`:
    /// the body is content-encoded (a precompressed file), so it cannot be recoded.
    func appendContentType(_ type: String, own: String? = nil, encoded: Bool = false) {
        if let carried = self.carriedContentType {
            output.appendHeader("Content-Type", carried)
            return
        }
        output.append("Content-Type: ")
        output.append(string: type)
        if let charset = charset(for: type, encoded: encoded) ?? own {
            output.append("; charset=")
            output.append(string: charset)
        }
        output.append("\r\n")
    }

    /// The `charset` to announce with `type`, if any: the configured (or evaluated) name;
    /// none when `source_charset` names another charset no charset_map links it to
    /// (nginx logs that and announces nothing).
    /// A content-encoded body (`encoded`) that would need recoding gets no charset, as
    /// nginx's charset filter leaves such a response alone.
    func charset(for type: String, encoded: Bool = false) -> String? {
        guard let (charset, source) = charsetNames(for: type) else { return nil }
        if let source, source.lowercased() != charset.lowercased() {
            if encoded { return nil }
            if worker.generation.config.charsetMaps.table(from: source, to: charset) == nil {
                logError("no \"charset_map\" between the charsets \"\(source)\" and \"\(charset)\"")
                return nil
            }
        }
        return charset
    }

    /// The table recoding this response's `source_charset` into its `charset`, if any.
    func charsetRecoding(for type: String) -> CharsetTable? {
        guard let (charset, source) = charsetNames(for: type), let source,
            source.lowercased() != charset.lowercased()
        else { return nil }
        return worker.generation.config.charsetMaps.table(from: source, to: charset)
    }

    /// The charset name (`charset`, evaluated when it has variables) and the
    /// `source_charset` when the charset module applies to `type`.
    private func charsetNames(for type: String) -> (String, String?)? {
        // Fields are read through the owning object: copying LocationSettings costs retains.
        if let l = self.location {
            guard let charset = l.settings.charset else { return nil }
            return charsetNames(
                charset, l.settings.charsetVariable, l.settings.sourceCharset, l.settings.charsetTypes, type)
        } else if let server = self.server {
            guard let charset = server.defaultSettings.charset else { return nil }
            let d = server.defaultSettings
            return charsetNames(charset, d.charsetVariable, d.sourceCharset, d.charsetTypes, type)
        }
        return nil
    }

    private func charsetNames(
        _ charset: String, _ variable: ComplexValue?, _ source: String?, _ types: Set<String>, _ type: String
    ) -> (String, String?)? {
        guard types.contains(type) || types.contains("*") else { return nil }
        guard let variable else { return (charset, source) }
        let name = String(decoding: Variables.evaluate(self, variable), as: UTF8.self)
        return name.isEmpty ? nil : (name, source)
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

    /// The same for a location, its fields read in place through the reference (no copy
    /// of the whole settings struct): the static file path.
    func finishHead(location l: Location, mtime: Int?, trailing: (ByteBuffer) -> Void) {
        finishHead(
            keepaliveRequests: l.settings.keepaliveRequests, keepaliveTimeout: l.settings.keepaliveTimeout,
            keepaliveHeaderTimeout: l.settings.keepaliveHeaderTimeout, expires: l.settings.expires,
            addHeaders: l.settings.addHeaders, mtime: mtime, trailing: trailing)
    }

    /// The same for a location, its fields read in place through the reference (the
    /// proxied response's path: no copy of the whole settings struct). `mtime`: the
    /// upstream's Last-Modified, for `expires modified`.
    func finishHead(location l: Location?, mtime: Int? = nil) {
        guard let l else { return finishHead(settings: nil) }
        finishHead(
            keepaliveRequests: l.settings.keepaliveRequests, keepaliveTimeout: l.settings.keepaliveTimeout,
            keepaliveHeaderTimeout: l.settings.keepaliveHeaderTimeout, expires: l.settings.expires,
            addHeaders: l.settings.addHeaders, mtime: mtime, trailing: { _ in }, fromUpstream: true)
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
        if applies, case .variable(let value, let modified) = expires {
            // `expires $var`: parsed per response; its value may use `$sent_http_*` of
            // the head written so far. An invalid value adds nothing (as nginx).
            lastResponseHead.removeAll(keepingCapacity: true)
            lastResponseHead.append(
                contentsOf: UnsafeRawBufferPointer(
                    start: output.base + responseStart, count: output.writerIndex - responseStart))
            let text = String(decoding: Variables.evaluate(self, value), as: UTF8.self)
            if case .success(let e) = Expires.parse(text, modified: modified), !e.isOff {
                let mtime = fromUpstream ? replaceUpstreamCaching(mtime: mtime) : mtime
                ExpiresHeader.append(e, mtime: mtime, now: worker.clock.seconds, to: output)
            }
        } else if applies && !expires.isOff {
            let mtime = fromUpstream ? replaceUpstreamCaching(mtime: mtime) : mtime
            ExpiresHeader.append(expires, mtime: mtime, now: worker.clock.seconds, to: output)
        }
        writer.buildingHead = true
        for (i, h) in addHeaders.enumerated() where h.always || applies {
            // ETag and Last-Modified replace the response's: only the last line counts.
            if Self.isSingleField(h.name), addHeaders[(i + 1)...].contains(where: { $0.name == h.name }) { continue }
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

    /// Fields nginx's add_header replaces rather than adds (ETag, Last-Modified).
    private static func isSingleField(_ name: String) -> Bool {
        let n = name.utf8.count
        guard n == 4 || n == 13 else { return false }
        let lower = name.lowercased()
        return lower == "etag" || lower == "last-modified"
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
