// The response side of a proxied request: the upstream's answer from its first byte to
// the last byte the client takes. It parses the upstream's head (skipping 1xx, trying
// the next peer on http_5xx when `proxy_next_upstream` says so), acts on
// X-Accel-Redirect and `proxy_intercept_errors`, writes the client's head
// (UpstreamResponse+ClientHead.swift), relays the body with buffering and spooling, or
// runs the 101 tunnel (UpstreamResponse+Relay.swift). One per ProxyExchange, made with
// it and reset per try; it holds its request and output as `let`s (read without
// reference counting) and is driven by the exchange, which passes itself to each call:
// what it asks back is small — the upstream connection and settings, trying the next
// peer, finishing or abandoning the upstream, the `$upstream_*` accounting, the timers,
// and error-log lines with nginx's upstream context.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

final class UpstreamResponse {
    unowned let worker: Worker
    /// The request it answers (the exchange's).
    let request: Request
    /// The request's response buffer (the client side of the relay).
    let output: ByteBuffer

    var parser = ResponseParser()
    var head = ResponseHead()
    let upstreamInput = ByteBuffer(capacity: 4096)
    /// The upstream's response head bytes (`head`'s ranges index into it).
    var headCopy: [UInt8] = []
    var responseChunked: ChunkedDecoder? = nil
    /// Body bytes still expected from upstream; -1 = until it closes.
    var responseRemaining: Int64 = -1
    var upstreamDone = false
    var clientChunked = false
    var noBody = false
    var headerSent = false
    /// The upstream connection may go to the keep-alive cache afterwards.
    var keepUpstream = false
    /// proxy_buffering (or X-Accel-Buffering) of this response, the memory it may
    /// hold (proxy_buffers) and the temporary file's limit (proxy_max_temp_file_size).
    var buffering = true
    var memoryLimit = 0
    var maxTempFileSize: Int64 = 0
    /// The client-wire spool beyond memory.
    var spoolFile: Int32 = -1
    var spoolWritten: Int64 = 0
    var spoolSent: Int64 = 0
    /// On-the-fly compression of this response (gzip/brotli/zstd), with encoders kept
    /// per session by coding and level, and their output staged here.
    var encoder: StreamingEncoder? = nil
    /// The charset module's byte-for-byte recoding of the body, if any.
    var recoder: CharsetTable? = nil
    /// An incomplete UTF-8 character waiting for the next piece of the body.
    var recodeCarry: [UInt8] = []
    var encoders: [String: StreamingEncoder] = [:]
    var encoded: [UInt8] = []

    private static let keptOnRedirectContentType = Array("content-type".utf8)
    /// Headers of an X-Accel-Redirect answer that are kept for the redirected response.
    private static let keptOnRedirect: [[UInt8]] = [
        "set-cookie", "content-disposition", "cache-control", "expires", "accept-ranges", "content-type",
    ].map { Array($0.utf8) }

    init(request: Request) {
        self.worker = request.worker
        self.request = request
        self.output = request.output
    }

    /// Clears what one try left (before the first try and the next upstream; buffers
    /// and encoders are kept).
    func reset() {
        parser.reset()
        head.reset()
        upstreamInput.clear()
        responseChunked = nil
        responseRemaining = -1
        upstreamDone = false
        clientChunked = false
        noBody = false
        headerSent = false
        spoolWritten = 0
        spoolSent = 0
        encoder = nil
        headCopy.removeAll(keepingCapacity: true)
    }

    /// A new request starts: the previous answer's head is no longer reported
    /// (`$upstream_http_*` read it only while `head.headLength > 0`). Nothing else of it
    /// is read before the first try, which resets the whole response (`reset()`).
    @inline(__always) func forgetHead() {
        head.headLength = 0
    }

    var spoolPending: Int64 { spoolWritten - spoolSent }

    /// The client connection closed: the temporary file goes.
    func close() {
        if spoolFile >= 0 {
            FileSystem.close(spoolFile)
            spoolFile = -1
        }
    }

    // MARK: upstream header fields

    /// Whether the upstream's response has a field (no allocation).
    func hasUpstreamHeader(_ lowercasedName: StaticString) -> Bool {
        headCopy.withUnsafeBytes { head.header(lowercasedName, in: $0) != nil }
    }

    /// The value of a response header (first occurrence) from the head copy
    /// (`$upstream_http_*` too).
    func headerValue(_ lowercasedName: String) -> [UInt8]? {
        let name = Array(lowercasedName.utf8)
        return headCopy.withUnsafeBytes { buf in
            for h in head.headers where asciiCaseEqual(buf[h.name], name) { return Array(buf[h.value]) }
            return nil
        }
    }

    // MARK: response head

    /// Reads and parses the response head; true when the exchange's phase changed.
    func readHead(_ x: ProxyExchange) -> Bool {
        guard let u = x.upstream else { return true }
        let inb = upstreamInput
        let limit = x.settings.bufferSize
        while true {
            guard u.readReady || (u.tls?.hasPendingInput ?? false) else { return false }
            if inb.writableCount < 4096 { inb.reserve(max(limit + 1, 16384) - inb.writerIndex) }
            do {
                switch try u.read(inb.writable, inb.writableCount) {
                case .wouldBlock:
                    u.readReady = false
                    return false
                case .processed(0):
                    if x.reused && inb.writerIndex == 0 {
                        x.retryOnFreshConnection()
                        return true
                    }
                    x.logUpstream(
                        .error, "upstream prematurely closed connection while reading response header from upstream")
                    x.nextUpstream(.error)
                    return true
                case .processed(let n):
                    inb.writerIndex += n
                    x.countReceived(n)
                }
            } catch {
                if x.reused && inb.writerIndex == 0 {
                    x.retryOnFreshConnection()
                    return true
                }
                x.logUpstream(.error, "\(error) while reading response header from upstream")
                x.nextUpstream(.error)
                return true
            }
            while true {
                switch parser.parse(inb.readable, into: &head) {
                case .incomplete:
                    if inb.readableCount > limit {
                        x.logUpstream(
                            .error, "upstream sent too big header while reading response header from upstream")
                        x.nextUpstream(.invalidHeader)
                        return true
                    }
                case .error(let e):
                    x.logUpstream(.error, "\(e.logMessage) while reading response header from upstream")
                    x.nextUpstream(.invalidHeader)
                    return true
                case .complete:
                    let status = head.status
                    if status >= 100 && status < 200 && status != 101 {
                        // An interim answer (100 Continue, 103): dropped, the real one follows.
                        inb.readerIndex += head.headLength
                        inb.compact()
                        parser.reset()
                        head.reset()
                        if inb.readableCount > 0 { continue }
                        break
                    }
                    headComplete(x)
                    return true
                }
                break
            }
        }
    }

    /// Decides what the parsed head leads to.
    private func headComplete(_ x: ProxyExchange) {
        let inb = upstreamInput
        let status = head.status
        x.recordHeader(status: status)
        // Keep a copy of the head for $upstream_http_* (ranges of `head` index into it).
        headCopy.removeAll(keepingCapacity: true)
        headCopy.append(contentsOf: UnsafeRawBufferPointer(start: inb.base, count: head.headLength))
        if let condition = NextUpstream.status(status), x.canTryNext(condition) {
            x.tryNext(afterStatus: status)
            return
        }
        let ignored = x.settings.ignoreHeaders
        if hasUpstreamHeader("x-accel-redirect"), !ignored.contains("x-accel-redirect"),
            let r = headerValue("x-accel-redirect"), !r.isEmpty
        {
            acceleratedRedirect(x, to: r)
            return
        }
        if x.settings.interceptErrors && status >= 300,
            let settings = request.location?.settings, settings.errorPages[status] != nil
        {
            x.finishUpstream(reusable: false)
            request.respondError(status)
            return
        }
        if status == 101 {
            guard request.head.upgrade != nil, x.settings.http11 else {
                x.logUpstream(.error, "upstream sent unexpected 101 while reading response header from upstream")
                x.nextUpstream(.invalidHeader)
                return
            }
        }
        writeClientHead(x)
    }

    /// X-Accel-Redirect: an internal redirect to a URI or a named location, keeping
    /// the fields nginx keeps (Content-Type, Content-Disposition, Set-Cookie, ...).
    private func acceleratedRedirect(_ x: ProxyExchange, to target: [UInt8]) {
        request.carriedHeaders.removeAll(keepingCapacity: true)
        headCopy.withUnsafeBytes { buf in
            for h in head.headers where Self.keptOnRedirect.contains(where: { asciiCaseEqual(buf[h.name], $0) }) {
                if asciiCaseEqual(buf[h.name], Self.keptOnRedirectContentType) {
                    request.carriedContentType = Array(buf[h.value])
                    continue
                }
                request.carriedHeaders += buf[h.name]
                request.carriedHeaders += Array(": ".utf8)
                request.carriedHeaders += buf[h.value]
                request.carriedHeaders += Array("\r\n".utf8)
            }
        }
        x.finishUpstream(reusable: false)
        request.headOnly = request.isHeadOnly
        if target.first == UInt8(ascii: "@") {
            let name = String(decoding: target.dropFirst(), as: UTF8.self)
            if let server = request.server, let named = server.locations.named(name) {
                request.runNamedLocation(named, name: name, captures: [])
                return
            }
            request.logError("could not find named location \"\(name)\"")
            request.respondError(500)
            return
        }
        var path = target
        var args: [UInt8]? = nil
        if let q = target.firstIndex(of: UInt8(ascii: "?")) {
            path = Array(target[..<q])
            args = Array(target[(q + 1)...])
        }
        // The target is a URI: decode %XX as nginx does for X-Accel-Redirect.
        var decoded: [UInt8] = []
        let ok = path.withUnsafeBytes { URINormalizer.normalize($0, mergeSlashes: false, into: &decoded) }
        request.internalRedirect(to: ok ? decoded : path, args: args ?? [])
    }
}
