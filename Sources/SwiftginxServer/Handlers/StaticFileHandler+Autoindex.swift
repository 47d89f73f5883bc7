// `autoindex`: the directory listing nginx's autoindex module produces, in its
// html, json, jsonp and xml formats — directories first, then by name, hidden
// files left out, names escaped for the URI and for HTML/JSON/XML so that a file
// called `<script>.txt` is only text. The static handler's index step calls it for
// a directory URI with no index file when `autoindex on`.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension StaticFileHandler {
    /// Lists `directory` (a path ending in "/") for the request's URI.
    func sendAutoindex(directory: [UInt8], settings s: LocationSettings) {
        var entries: [DirectoryEntry]
        do {
            entries = try FileSystem.listDirectory(directory, skipHidden: true)
        } catch {
            let text =
                "opendir() \"\(String(decoding: directory, as: UTF8.self))\" failed (\(error.errno): \(SystemError.message(error.errno)))"
            request.logError(text, level: error.errno == EACCES ? .error : .crit)
            request.respondError(error.errno == EACCES ? 403 : (error.errno == ENOENT ? 404 : 500))
            return
        }
        entries.sort { a, b in
            if a.info.isDirectory != b.info.isDirectory { return a.info.isDirectory }
            return a.name.lexicographicallyPrecedes(b.name)
        }
        var body: [UInt8] = []
        let type: String
        switch s.autoindexFormat {
        case .html:
            type = "text/html"
            html(entries, settings: s, into: &body)
        case .json:
            type = "application/json"
            json(entries, into: &body)
        case .jsonp:
            type = "application/javascript"
            let out = request.worker.scratch
            out.clear()
            request.appendVariable(.arg("callback"), to: out)
            let callback = Array(out.readable)
            if !callback.allSatisfy({ Self.isCallbackByte($0) }) {
                request.logError("autoindex callback \"\(String(decoding: callback, as: UTF8.self))\" is invalid")
                request.respondError(400)
                return
            }
            body += callback.isEmpty ? [] : callback + [UInt8(ascii: "(")]
            json(entries, into: &body)
            if !callback.isEmpty { body += Array(");\n".utf8) }
        case .xml:
            type = "text/xml"
            xml(entries, into: &body)
        }
        request.status = 200
        request.beginHead(200)
        request.appendContentType(type, own: s.autoindexFormat == .xml ? "utf-8" : nil)
        request.appendContentLength(Int64(body.count))
        request.finishHead(settings: s)
        if !request.isHeadOnly { request.appendBody(body) }
        request.flushResponse()
    }

    private static func isCallbackByte(_ c: UInt8) -> Bool {
        (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c == UInt8(ascii: "_")
            || c == UInt8(ascii: ".") || c == UInt8(ascii: "$")
    }

    // MARK: formats

    private func html(_ entries: [DirectoryEntry], settings s: LocationSettings, into b: inout [UInt8]) {
        var title: [UInt8] = []
        Self.escapeHTML(request.uri, into: &title)
        b +=
            Array("<html>\r\n<head><title>Index of ".utf8) + title
            + Array("</title></head>\r\n<body>\r\n<h1>Index of ".utf8)
        b += title + Array("</h1><hr><pre><a href=\"../\">../</a>\r\n".utf8)
        let nameWidth = 50
        for e in entries {
            var name = e.name
            if e.info.isDirectory { name.append(UInt8(ascii: "/")) }
            b += Array("<a href=\"".utf8)
            URIEscape.uriComponent.append(e.name, to: &b)
            if e.info.isDirectory { b.append(UInt8(ascii: "/")) }
            b += Array("\">".utf8)
            // Width counts characters, not bytes (UTF-8 continuation bytes do not count).
            let chars = name.reduce(0) { $0 + (($1 & 0xC0) == 0x80 ? 0 : 1) }
            if chars > nameWidth {
                var kept = 0
                var cut = 0
                while cut < name.count && kept < nameWidth - 3 + ((name[cut] & 0xC0) == 0x80 ? 1 : 0) {
                    if (name[cut] & 0xC0) != 0x80 { kept += 1 }
                    cut += 1
                }
                while cut < name.count && (name[cut] & 0xC0) == 0x80 { cut += 1 }
                Self.escapeHTML(Array(name[..<cut]), into: &b)
                b += Array("..&gt;</a>".utf8)
            } else {
                Self.escapeHTML(name, into: &b)
                b += Array("</a>".utf8)
                b += [UInt8](repeating: 32, count: nameWidth - chars)
            }
            b.append(32)
            b += Self.listingDate(e.info.mtime, local: s.autoindexLocaltime)
            b.append(32)
            let size: String
            if e.info.isDirectory {
                size = "-"
            } else if s.autoindexExactSize {
                size = String(e.info.size)
            } else {
                size = Self.humanSize(e.info.size)
            }
            let width = s.autoindexExactSize ? 19 : 6
            if size.utf8.count < width { b += [UInt8](repeating: 32, count: width - size.utf8.count) }
            b += Array(size.utf8)
            b += [13, 10]
        }
        b += Array("</pre><hr></body>\r\n</html>\r\n".utf8)
    }

    private func json(_ entries: [DirectoryEntry], into b: inout [UInt8]) {
        b += Array("[\n".utf8)
        for (i, e) in entries.enumerated() {
            b += Array("{ \"name\":\"".utf8)
            Self.escapeJSON(e.name, into: &b)
            b += Array("\", \"type\":\"\(e.info.isDirectory ? "directory" : "file")\", \"mtime\":\"".utf8)
            b += HTTPDate.format(e.info.mtime)
            b += Array("\"".utf8)
            if !e.info.isDirectory { b += Array(", \"size\":\(e.info.size)".utf8) }
            b += Array(" }".utf8)
            b += Array((i == entries.count - 1 ? "\n" : ",\n").utf8)
        }
        b += Array("]\n".utf8)
    }

    private func xml(_ entries: [DirectoryEntry], into b: inout [UInt8]) {
        b += Array("<?xml version=\"1.0\"?>\n<list>\n".utf8)
        for e in entries {
            let tag = e.info.isDirectory ? "directory" : "file"
            b += Array("<\(tag) mtime=\"".utf8)
            // "2026-11-22T01:19:49Z", as nginx's xml format writes it.
            b += HTTPDate.formatISO8601(e.info.mtime, utcOffsetSeconds: 0).dropLast(6) + [UInt8(ascii: "Z")]
            b += Array("\"".utf8)
            if !e.info.isDirectory { b += Array(" size=\"\(e.info.size)\"".utf8) }
            b += Array(">".utf8)
            Self.escapeHTML(e.name, into: &b)
            b += Array("</\(tag)>\n".utf8)
        }
        b += Array("</list>\n".utf8)
    }

    // MARK: pieces

    /// "22-Nov-2026 01:19", UTC unless autoindex_localtime.
    private static func listingDate(_ t: Int, local: Bool) -> [UInt8] {
        var tt = time_t(t)
        var tmv = tm()
        if local { localtime_r(&tt, &tmv) } else { gmtime_r(&tt, &tmv) }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return Array(
            "\(two(tmv.tm_mday))-\(months[Int(tmv.tm_mon)])-\(tmv.tm_year + 1900) \(two(tmv.tm_hour)):\(two(tmv.tm_min))"
                .utf8)
    }

    /// nginx's short sizes: bytes up to 1023, then K, M, G rounded up.
    private static func humanSize(_ n: Int64) -> String {
        if n < 1024 { return String(n) }
        let units: [(Int64, String)] = [(1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")]
        for (unit, suffix) in units where n >= unit {
            return String((n + unit - 1) / unit) + suffix
        }
        return String(n)
    }

    static func escapeHTML(_ s: [UInt8], into b: inout [UInt8]) {
        for c in s {
            switch c {
            case UInt8(ascii: "<"): b += Array("&lt;".utf8)
            case UInt8(ascii: ">"): b += Array("&gt;".utf8)
            case UInt8(ascii: "&"): b += Array("&amp;".utf8)
            case UInt8(ascii: "\""): b += Array("&quot;".utf8)
            default: b.append(c)
            }
        }
    }

    static func escapeJSON(_ s: [UInt8], into b: inout [UInt8]) {
        let hex = Array("0123456789abcdef".utf8)
        for c in s {
            switch c {
            case UInt8(ascii: "\""): b += Array("\\\"".utf8)
            case UInt8(ascii: "\\"): b += Array("\\\\".utf8)
            case 0..<0x20: b += Array("\\u00".utf8) + [hex[Int(c >> 4)], hex[Int(c & 15)]]
            default: b.append(c)
            }
        }
    }
}
