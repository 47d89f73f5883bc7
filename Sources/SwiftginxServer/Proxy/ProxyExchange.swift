// The content handler of a proxied request (proxy_pass or uwsgi_pass): one exchange
// with an upstream, owning its upstream connection and driven by that connection's
// events (and by the client's, through its Request), kept by the Request and reused
// for the next proxied request on the same connection. It holds the phase, the chosen
// upstream and peer, the tries and what the `$upstream_*` variables report, the
// serialized request head (UpstreamRequestBuilder) and the buffered request body
// (memory, then an anonymous temporary file). The answer is its `response`
// (UpstreamResponse: head, relay, tunnel), which it drives and which calls back
// through the small interface at the end of this file.

import SwiftginxConfig
import SwiftginxHTTP

final class ProxyExchange {
    enum Phase {
        /// Reading the client's request body before connecting (request buffering).
        case readingBody
        /// Waiting for the resolver's answer for a name from variables.
        case resolving
        case connecting
        case sending
        case readingHead
        case relaying
        /// A 101 answer turned both connections into a byte tunnel.
        case tunnel
        /// Waiting for another request's fetch of the same cache key (proxy_cache_lock).
        case cacheWait
        case finished
    }

    /// Why the current try failed (proxy_next_upstream conditions and the answer).
    enum Failure {
        case error, timeout, invalidHeader
    }

    /// The worker owns this object and outlives it; `unowned(unsafe)` reads it without
    /// the checked reference count `unowned` costs (about 490 instructions per request).
    unowned(unsafe) let worker: Worker
    /// The request it answers (the connection's one Request, or a subrequest's). A
    /// strong `let` is read without reference counting; the cycle it makes with
    /// `Request.proxy` is broken when the connection object is dropped and when a
    /// subrequest ends (`Request.releaseContent`).
    let request: Request
    /// The request's response buffer (the client side of the relay).
    let output: ByteBuffer
    var phase: Phase = .finished
    var pass: UpstreamPass? = nil
    /// The location's proxy_* or uwsgi_* settings, shared with the configuration (a
    /// reference per request, read in place).
    var settingsStorage = ProxyExchange.noSettings
    /// Until `start` sets the location's: one shared value, so that making an exchange
    /// (one per HTTP/2 stream) does not build a whole UpstreamSettings.
    private static let noSettings = CopyOnWrite(UpstreamSettings())
    var settings: UpstreamSettings { _read { yield settingsStorage.value } }
    var group: UpstreamGroup? = nil
    var peers: PeerTable? = nil
    var peer = -1
    var tried: [Bool] = []
    var tries = 0
    /// Monotonic ms when the first try started (`proxy_next_upstream_timeout`).
    var startedAt: Int64 = 0
    var upstream: UpstreamConnection? = nil
    /// The current connection came from the keep-alive cache.
    var reused = false
    /// No cached connection was free: the connect waits for the end of the worker's
    /// loop turn, when one may have come back (Proxy/UpstreamConnectWait.swift).
    var connectDeferred = false
    /// The upstream's answer (made with the exchange, reset per try).
    let response: UpstreamResponse

    // Request.
    let requestHead = ByteBuffer(capacity: 1024)
    var requestHeadSent = 0
    /// Body bytes in memory (up to client_body_buffer_size), then in `bodyFile`.
    let bodyMemory = ByteBuffer(capacity: 0)
    var bodyFile: Int32 = -1
    var bodyFileSize: Int64 = 0
    /// `$request_body_file` (see ProxyExchange+BodyFile.swift).
    var bodyFileName: String? = nil
    var bodyFileRemoveAtEnd = false
    var bodyLength: Int64 = 0
    var bodySent: Int64 = 0
    /// Client body bytes still expected (Content-Length), or a chunked decoder.
    var bodyRemaining: Int64 = 0
    var bodyChunked: ChunkedDecoder? = nil
    /// proxy_request_buffering off, chunked: decoded bytes of the current read (one chunk upstream).
    var pendingChunk: [UInt8] = []
    /// proxy_request_buffering off: the body sent so far while it fits in memory
    /// (`requestBodyInMemory`), and the body bytes that came with the head.
    var streamedCopy: [UInt8] = []
    var streamedCopyKept = true
    var prereadLength = 0
    /// Bytes read after the end of the body (a pipelined request), returned to the connection.
    var leftover: [UInt8] = []
    var expectContinue = false
    /// proxy_request_buffering off: the body goes upstream as it arrives; once a piece
    /// of it has been dropped after sending, the request cannot be retried.
    var streaming = false
    var bodyDiscarded = false
    /// The URI in the upstream request line (for logs), and whether it said
    /// `Connection: close` (then the connection is never cached).
    var sentURI: Range<Int> = 0..<0
    var sentConnectionClose = true
    /// `$proxy_host` of this request, and the URI of a proxy_pass with variables.
    var proxyHost = ""
    var proxyPort = ""
    /// "Host: $proxy_host\r\n" for the request head, remade only when `proxyHost` changes
    /// (`hostLineFor` is the value it was made from).
    var hostLine: [UInt8] = []
    var hostLineFor = ""
    var dynamicURI: [UInt8]? = nil
    /// TLS to the upstream: `https://` / `suwsgi://` written or (with variables) evaluated.
    var upstreamTLS = false
    /// Request bytes reached the current upstream (non-idempotent requests are then not retried).
    var requestSentAny = false
    /// Retry the same peer on a fresh connection (a cached one was closed under us).
    var retryFresh = false
    /// What the pending timer means.
    var timer: Phase = .finished
    /// The peer of the last try, after it was released (`metrics`; -1: none).
    var lastPeer = -1
    /// A host from variables that the resolver must find before connecting.
    var pendingName: (host: String, port: Int, name: String)? = nil
    /// The location's `resolver` and `resolver_timeout`.
    var resolverConfig: ResolverConfig? = nil
    var resolverTimeout = 30_000
    /// Tells a resolver answer for an earlier request or try from the current one.
    var resolveSeq: UInt64 = 0
    /// FastCGI: the STDIN record being written (ProxyExchange+FastCGI.swift).
    var stdin = StdinFraming()
    /// proxy_cache: the lookup and the entry of this request (Cache/ProxyExchange+Cache.swift).
    var cache = CacheRequest()

    /// $upstream_* values of this request, one record per try (UpstreamTries.swift).
    var tryRecords: [UpstreamTry] = []
    var tryStartedAt: Int64 = 0

    init(request: Request) {
        self.worker = request.worker
        self.request = request
        self.output = request.output
        self.response = UpstreamResponse(request: request)
    }

    /// Back to a clean state for a new request (buffers keep their capacity). Only `start`
    /// calls it, which then sets `pass`, and `resolveTarget` sets `group` and `peers` (left
    /// as they are here: usually the same objects again, replaced without reference counting).
    func reset() {
        phase = .finished
        lastPeer = -1
        if pendingName != nil { pendingName = nil }
        peer = -1
        // Kept at the group's size, all false: refilled only when the group changes.
        for i in tried.indices where tried[i] { tried[i] = false }
        tries = 0
        if upstream != nil { upstream = nil }
        reused = false
        response.keepUpstream = false
        requestHead.clear()
        requestHeadSent = 0
        bodyMemory.clear()
        if bodyFile >= 0 || bodyFileName != nil || bodyFileSize != 0 { releaseBodyFile() }
        bodyLength = 0
        bodySent = 0
        bodyRemaining = 0
        if bodyChunked != nil { bodyChunked = nil }
        if !pendingChunk.isEmpty { pendingChunk.removeAll(keepingCapacity: true) }
        if !streamedCopy.isEmpty { streamedCopy.removeAll(keepingCapacity: true) }
        streamedCopyKept = true
        prereadLength = 0
        if !leftover.isEmpty { leftover.removeAll(keepingCapacity: true) }
        expectContinue = false
        streaming = false
        bodyDiscarded = false
        sentURI = 0..<0
        sentConnectionClose = true
        if dynamicURI != nil { dynamicURI = nil }
        upstreamTLS = false
        requestSentAny = false
        retryFresh = false
        if cache.zone != nil { cacheReset() }
        // The rest of the response is reset when the first try begins (connectUpstream).
        response.forgetHead()
        tryRecords.clearKeepingStorage()
    }

    /// The request body as `$request_body` shows it: the bytes read, when they are all in
    /// memory (buffered and not spilled to a file, or streamed and kept), else nil.
    var requestBodyInMemory: [UInt8]? {
        guard pass != nil, phase != .tunnel else { return nil }
        if streaming { return streamedCopyKept ? streamedCopy : nil }
        return bodyFileSize == 0 ? Array(bodyMemory.readable) : nil
    }

    // MARK: what the response side asks of the exchange

    /// Response bytes received in the current try (`$upstream_response_length`,
    /// `$upstream_bytes_received`).
    @inline(__always) func countReceived(_ n: Int) {
        currentTry.responseLength += Int64(n)
        currentTry.bytesReceived += Int64(n)
    }

    /// A response head (final or interim) of `n` bytes was parsed: it is not part of
    /// `$upstream_response_length`.
    @inline(__always) func countHead(_ n: Int) {
        currentTry.responseLength -= Int64(n)
    }

    /// Request bytes written to the current try's connection (`$upstream_bytes_sent`).
    @inline(__always) func countSent(_ n: Int) {
        currentTry.bytesSent += Int64(n)
    }

    /// The current try's response head arrived (`$upstream_status`, `$upstream_header_time`).
    @inline(__always) func recordHeader(status: Int) {
        currentTry.status = status
        currentTry.headerTime = worker.clock.milliseconds - tryStartedAt
    }

    /// An http_5xx / http_403 / http_404 answer that `proxy_next_upstream` retries: the
    /// connection is closed and the next peer tried (nginx counts these as failures,
    /// except 403 and 404).
    func tryNext(afterStatus status: Int) {
        releasePeer(failed: status != 403 && status != 404)
        if let u = upstream { worker.closeUpstream(u) }
        upstream = nil
        currentTry.responseTime = worker.clock.milliseconds - tryStartedAt
        phase = .connecting
    }

    /// Whether this request's upstream connection may be cached after a cleanly framed
    /// keep-alive answer (HTTP, or FastCGI with `fastcgi_keep_conn on`; a group with
    /// `keepalive`, no `Connection: close` / FCGI_KEEP_CONN missing).
    @inline(__always) var mayKeepConnection: Bool {
        (pass?.proto == .http || pass?.proto == .fastcgi) && (group?.keepalive ?? 0) > 0 && !sentConnectionClose
    }

    /// Arms the request's timer for what the exchange now waits on.
    @inline(__always) func wait(for what: Phase, timeout: Int) {
        timer = what
        request.schedule(after: timeout)
    }
}

extension Array {
    /// Empties the array, keeping its storage: one try (one element) is the usual case,
    /// and `removeLast()` costs a tenth of `removeAll(keepingCapacity:)` (~80 instructions).
    @inline(__always) mutating func clearKeepingStorage() {
        if count == 1 {
            removeLast()
        } else if !isEmpty {
            removeAll(keepingCapacity: true)
        }
    }
}
