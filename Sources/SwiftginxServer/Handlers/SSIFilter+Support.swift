// What the SSI filter needs besides its commands: `echo`'s encodings (entity, url),
// `timefmt`'s strftime subset for `$date_local` / `$date_gmt`, running an `include`'s
// subrequest and taking its body (bytes the subrequest wrote, then a file region it
// would have sent with sendfile), and sending a processed static file.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

enum SSIText {
    @inline(__always) static func isNameByte(_ c: UInt8) -> Bool {
        (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c == 95
    }

    /// Whether the query arguments have `name=` (an empty `$arg_name` is then found).
    static func hasArgument(_ name: String, in args: [UInt8]) -> Bool {
        let key = Array(name.utf8) + [UInt8(ascii: "=")]
        var i = 0
        while i < args.count {
            var j = i
            while j < args.count && args[j] != UInt8(ascii: "&") { j += 1 }
            if j - i >= key.count && args[i..<(i + key.count)].elementsEqual(key) { return true }
            i = j + 1
        }
        return false
    }

    /// The `virtual=` / `file=` URI: arguments after a literal '?', the path
    /// %-decoded (a decoded '?' stays in the path); nil for "..", NUL or an invalid escape.
    static func includeTarget(_ raw: [UInt8]) -> (uri: [UInt8], args: [UInt8]?)? {
        var path = raw[...]
        var args: [UInt8]? = nil
        if let q = raw.firstIndex(of: UInt8(ascii: "?")) {
            args = Array(raw[(q + 1)...])
            path = raw[..<q]
        }
        var out: [UInt8] = []
        var i = path.startIndex
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 65...70: c - 55
            case 97...102: c - 87
            default: nil
            }
        }
        while i < path.endIndex {
            if path[i] == UInt8(ascii: "%") {
                guard i + 2 < path.endIndex, let h = hex(path[i + 1]),
                    let l = hex(path[i + 2])
                else { return nil }
                out.append(h << 4 | l)
                i += 3
            } else {
                out.append(path[i])
                i += 1
            }
        }
        if out.contains(0) { return nil }
        // "/../" or a trailing "/.." would leave the root, as nginx's unsafe URI check.
        var k = 0
        while k + 2 < out.count + 1 {
            if k + 2 <= out.count, out[k] == UInt8(ascii: "."), out[k + 1] == UInt8(ascii: "."),
                k == 0 || out[k - 1] == UInt8(ascii: "/"), k + 2 == out.count || out[k + 2] == UInt8(ascii: "/")
            {
                return nil
            }
            k += 1
        }
        return (out, args)
    }

    /// nginx's ngx_escape_html: < > & ".
    static func htmlEscaped(_ v: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(v.count)
        for c in v {
            switch c {
            case UInt8(ascii: "<"): out += Array("&lt;".utf8)
            case UInt8(ascii: ">"): out += Array("&gt;".utf8)
            case UInt8(ascii: "&"): out += Array("&amp;".utf8)
            case UInt8(ascii: "\""): out += Array("&quot;".utf8)
            default: out.append(c)
            }
        }
        return out
    }

    /// nginx's ngx_escape_uri(NGX_ESCAPE_HTML): controls, space, and " # % ' < > ? and
    /// bytes over 0x7f as %XX.
    static func urlEscaped(_ v: [UInt8]) -> [UInt8] {
        let hex = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for c in v {
            if c <= 32 || c >= 0x7f || c == 34 || c == 35 || c == 37 || c == 39 || c == 60 || c == 62 || c == 63 {
                out += [37, hex[Int(c >> 4)], hex[Int(c & 15)]]
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// `$date_local` / `$date_gmt` now, in `timefmt`.
    static func date(gmt: Bool, _ timefmt: [UInt8]) -> [UInt8] {
        let now = Int(Clock.wallMilliseconds() / 1000)
        let offset = gmt ? 0 : Clock.utcOffset(at: now)
        return format(time: now, offset: offset, zone: gmt ? "GMT" : (offset == 0 ? "UTC" : ""), timefmt)
    }

    private static let days = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    private static let months = [
        "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
        "November", "December",
    ]

    /// `time` (seconds since the epoch) at `offset` seconds from UTC, formatted by a
    /// strftime subset: %a %A %b %B %d %e %H %I %j %m %M %p %S %s %y %Y %Z %z %%; other
    /// conversions are copied.
    static func format(time: Int, offset: Int, zone: String, _ fmt: [UInt8]) -> [UInt8] {
        let local = time + offset
        var days = local / 86400
        var secs = local % 86400
        if secs < 0 {
            secs += 86400
            days -= 1
        }
        let weekday = ((days % 7) + 11) % 7  // 1970-01-01 was a Thursday
        // Civil date from days (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yoe + era * 400 + (month <= 2 ? 1 : 0)
        let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
        let cumulative = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334]
        let yday = cumulative[month - 1] + day + (leap && month > 2 ? 1 : 0)
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        var out: [UInt8] = []
        var i = 0
        while i < fmt.count {
            let c = fmt[i]
            guard c == UInt8(ascii: "%"), i + 1 < fmt.count else {
                out.append(c)
                i += 1
                continue
            }
            let hour = secs / 3600
            let piece: String
            switch fmt[i + 1] {
            case UInt8(ascii: "a"): piece = String(Self.days[weekday].prefix(3))
            case UInt8(ascii: "A"): piece = Self.days[weekday]
            case UInt8(ascii: "b"), UInt8(ascii: "h"): piece = String(months[month - 1].prefix(3))
            case UInt8(ascii: "B"): piece = months[month - 1]
            case UInt8(ascii: "d"): piece = two(day)
            case UInt8(ascii: "e"): piece = day < 10 ? " \(day)" : "\(day)"
            case UInt8(ascii: "H"): piece = two(hour)
            case UInt8(ascii: "I"): piece = two(hour % 12 == 0 ? 12 : hour % 12)
            case UInt8(ascii: "j"): piece = yday < 10 ? "00\(yday)" : yday < 100 ? "0\(yday)" : "\(yday)"
            case UInt8(ascii: "m"): piece = two(month)
            case UInt8(ascii: "M"): piece = two(secs / 60 % 60)
            case UInt8(ascii: "p"): piece = hour < 12 ? "AM" : "PM"
            case UInt8(ascii: "S"): piece = two(secs % 60)
            case UInt8(ascii: "s"): piece = "\(time)"
            case UInt8(ascii: "y"): piece = two(year % 100)
            case UInt8(ascii: "Y"): piece = "\(year)"
            case UInt8(ascii: "Z"): piece = zone
            case UInt8(ascii: "z"):
                let m = abs(offset) / 60
                piece = (offset < 0 ? "-" : "+") + two(m / 60) + two(m % 60)
            case UInt8(ascii: "%"): piece = "%"
            default: piece = String(decoding: fmt[i...(i + 1)], as: UTF8.self)
            }
            out += Array(piece.utf8)
            i += 2
        }
        return out
    }
}

/// An `include`'s subrequest and what it answered.
enum SSISubrequest {
    struct Answer {
        let status: Int
        let body: [UInt8]
        let failed: Bool
    }

    enum Start {
        case answered(Answer)
        /// The answer comes later: the parent waits (Request.subrequestEnded).
        case pending(Subrequest)
    }

    /// Starts the subrequest; its answer if it came at once.
    static func start(_ r: Request, uri: [UInt8], args: [UInt8]?, concurrent: Bool) -> Start {
        guard let sub = r.startSubrequest(uri: uri, args: args, headerOnly: false, concurrent: concurrent) else {
            return .answered(Answer(status: 500, body: [], failed: true))
        }
        guard sub.finished else { return .pending(sub) }
        return .answered(collect(r, sub))
    }

    /// The parent has the subrequest's answer: it is let go (one updating a cache entry
    /// in the background is kept until the update ends).
    static func release(_ r: Request, _ sub: Subrequest) {
        if r.subrequest === sub { r.subrequest = nil }
        if sub.updating {
            sub.bodyTaken = true
            return
        }
        if let i = r.runningSubrequests.firstIndex(where: { $0 === sub }) { r.runningSubrequests.remove(at: i) }
        sub.request.writer.releaseFile()
        sub.request.proxy?.response.close()
        sub.request.releaseContent()
    }

    /// Stops a subrequest that did not answer at once; the parent stays the proxy's.
    static func abandon(_ r: Request, _ sub: Subrequest) {
        sub.request.abandon()
        sub.request.writer.releaseFile()
        sub.request.releaseContent()
        if r.subrequest === sub { r.subrequest = nil }
        r.activeContent = r.proxy != nil ? .proxy : .none
    }

    /// The finished subrequest's body (what it wrote after its head, then the file region
    /// it would have sent); the subrequest is released.
    static func collect(_ r: Request, _ sub: Subrequest) -> Answer {
        let child = sub.request
        defer { release(r, sub) }
        let w = child.writer
        var body: [UInt8] = []
        let readable = w.output.readable
        let start = min(w.responseStart + w.responseHeadLength, readable.count)
        body += readable[start...]
        // What did not fit in memory (a proxied body), then a file region.
        if let resp = child.proxy?.response, resp.spoolFile >= 0, resp.spoolPending > 0 {
            var bytes = [UInt8](repeating: 0, count: Int(resp.spoolPending))
            let ok = bytes.withUnsafeMutableBytes {
                FileSystem.readFully(resp.spoolFile, into: $0.baseAddress!, count: $0.count, offset: resp.spoolSent)
            }
            if !ok { return Answer(status: child.status, body: body, failed: true) }
            body += bytes
        }
        if let entry = w.fileEntry, w.fileRemaining > 0 {
            var bytes = [UInt8](repeating: 0, count: Int(w.fileRemaining))
            let ok = bytes.withUnsafeMutableBytes {
                FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: $0.count, offset: w.fileOffset)
            }
            if !ok { return Answer(status: child.status, body: body, failed: true) }
            body += bytes
        }
        return Answer(status: child.status, body: body, failed: false)
    }
}

extension StaticFileHandler {
    /// A file of an `ssi_types` type in a location with `ssi on`, processed whole and sent
    /// without Content-Length (chunked over HTTP/1.1, until close over HTTP/1.0), without
    /// Last-Modified and ETag unless `ssi_last_modified on` (then the ETag is weak).
    func sendSSI(_ entry: OpenFileCache.Entry, settings s: LocationSettings, type: String, etag: [UInt8]?) -> Bool {
        let lastModified = s.ssi.lastModified ? entry.lastModified : nil
        let shownETag =
            s.ssi.lastModified ? etag.map { $0.first == UInt8(ascii: "W") ? $0 : Array("W/".utf8) + $0 } : nil
        let request = self.request
        let filter = SSIFilter(request: request, settings: s.ssi)
        filter.completion = { f in
            SSIResponse.write(request, status: 200, type: type, body: f.output, settings: s) { o in
                if let lastModified { o.appendHeader("Last-Modified", lastModified) }
                if let shownETag { o.appendHeader("ETag", shownETag) }
            }
        }
        if request.isHeadOnly {
            filter.finish()
            return true
        }
        if let contents = entry.contents {
            contents.withUnsafeBytes { filter.feed($0) }
        } else {
            var bytes = [UInt8](repeating: 0, count: Int(entry.info.size))
            let ok = bytes.withUnsafeMutableBytes {
                FileSystem.readFully(entry.fd, into: $0.baseAddress!, count: $0.count, offset: 0)
            }
            if !ok { return false }
            bytes.withUnsafeBytes { filter.feed($0) }
        }
        filter.finish()
        if !filter.isComplete && SSIStream.applies(to: request) {
            // Includes still run: the page goes out as it is ready (SSIFilter+Stream.swift).
            filter.completion = nil
            filter.startStream { r in
                SSIResponse.writeHead(r, status: 200, type: type, settings: s) { o in
                    if let lastModified { o.appendHeader("Last-Modified", lastModified) }
                    if let shownETag { o.appendHeader("ETag", shownETag) }
                }
            }
        }
        return true
    }
}

enum SSIResponse {
    /// The head (no Content-Length: chunked, or until close) and the processed body.
    static func write(
        _ r: Request, status: Int, type: String, body: [UInt8], settings s: LocationSettings,
        extra: (ByteBuffer) -> Void
    ) {
        let chunked = writeHead(r, status: status, type: type, settings: s, extra: extra)
        if !r.isHeadOnly {
            if chunked {
                if !body.isEmpty {
                    r.output.append(string: String(body.count, radix: 16))
                    r.output.append("\r\n")
                    body.withUnsafeBytes { r.appendBody($0) }
                    r.output.append("\r\n")
                }
                r.output.append("0\r\n\r\n")
            } else {
                body.withUnsafeBytes { r.appendBody($0) }
            }
        }
        // An include still updating a cache entry in the background: the page goes out
        // now, the request ends with the update (Subrequest+Concurrent.swift).
        if r.hasUpdatingSubrequests {
            r.sendAnswerWhileUpdating()
            return
        }
        r.flushResponse()
    }

    /// The head (no Content-Length); true when the body is to be chunked.
    @discardableResult
    static func writeHead(
        _ r: Request, status: Int, type: String, settings s: LocationSettings, extra: (ByteBuffer) -> Void
    ) -> Bool {
        // A subrequest's or an HTTP/2 stream's body needs no framing of its own.
        let chunked = !r.isSubrequest && r.stream == nil && r.head.version == .http11
        if !chunked && !r.isSubrequest && r.stream == nil { r.keepAlive = false }
        r.beginHead(status)
        r.appendContentType(type)
        if chunked { r.output.append("Transfer-Encoding: chunked\r\n") }
        r.finishHead(settings: s, trailing: extra)
        return chunked
    }
}
