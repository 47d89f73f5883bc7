// The content handler of a proxied request (proxy_pass or uwsgi_pass): one exchange
// with an upstream, owning its upstream connection and driven by that connection's
// events (and by the client's, through its Request), kept by the Request and reused
// for the next proxied request on the same connection. It holds the phase, the chosen upstream and peer,
// the serialized request head, the buffered request body (memory, then an anonymous
// temporary file), the upstream response parser and framing, the client-side spool
// (the connection's output buffer, then a temporary file when `proxy_buffering`
// lets a fast upstream run ahead of a slow client), and what the `$upstream_*`
// variables report.

import SwiftginxCompression
import SwiftginxConfig
import SwiftginxHTTP

final class ProxyExchange {
    enum Phase {
        /// Reading the client's request body before connecting (request buffering).
        case readingBody
        case connecting
        case sending
        case readingHead
        case relaying
        /// A 101 answer turned both connections into a byte tunnel.
        case tunnel
        case finished
    }

    /// Why the current try failed (proxy_next_upstream conditions and the answer).
    enum Failure {
        case error, timeout, invalidHeader
    }

    unowned let worker: Worker
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
    var settingsStorage = CopyOnWrite(UpstreamSettings())
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
    /// The upstream request may go to the keep-alive cache afterwards.
    var keepUpstream = false

    // Request.
    let requestHead = ByteBuffer(capacity: 1024)
    var requestHeadSent = 0
    /// Body bytes in memory (up to client_body_buffer_size), then in `bodyFile`.
    let bodyMemory = ByteBuffer(capacity: 0)
    var bodyFile: Int32 = -1
    var bodyFileSize: Int64 = 0
    var bodyLength: Int64 = 0
    var bodySent: Int64 = 0
    /// Client body bytes still expected (Content-Length), or a chunked decoder.
    var bodyRemaining: Int64 = 0
    var bodyChunked: ChunkedDecoder? = nil
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
    var dynamicURI: [UInt8]? = nil
    /// Request bytes reached the current upstream (non-idempotent requests are then not retried).
    var requestSentAny = false
    /// Retry the same peer on a fresh connection (a cached one was closed under us).
    var retryFresh = false
    /// What the pending timer means.
    var timer: Phase = .finished

    // Response.
    var parser = ResponseParser()
    var head = ResponseHead()
    let upstreamInput = ByteBuffer(capacity: 4096)
    var responseChunked: ChunkedDecoder? = nil
    /// Body bytes still expected from upstream; -1 = until it closes.
    var responseRemaining: Int64 = -1
    var upstreamDone = false
    var clientChunked = false
    var noBody = false
    var headerSent = false
    /// The client-wire spool beyond memory.
    var spoolFile: Int32 = -1
    var spoolWritten: Int64 = 0
    var spoolSent: Int64 = 0
    var buffering = true
    /// On-the-fly compression of this response (gzip/brotli/zstd), with encoders kept
    /// per session by coding and level, and their output staged here.
    var encoder: StreamingEncoder? = nil
    var encoders: [String: StreamingEncoder] = [:]
    var encoded: [UInt8] = []

    // $upstream_* values of this request (one entry per try, nginx's ", " lists).
    var addresses: [String] = []
    var statuses: [Int] = []
    var connectTimes: [Int64] = []
    var headerTimes: [Int64] = []
    var responseTimes: [Int64] = []
    var responseLengths: [Int64] = []
    var tryStartedAt: Int64 = 0
    /// The upstream's response head bytes (`head`'s ranges index into it).
    var headCopy: [UInt8] = []

    init(request: Request) {
        self.worker = request.worker
        self.request = request
        self.output = request.output
    }

    /// Back to a clean state for a new request (buffers keep their capacity).
    func reset() {
        phase = .finished
        pass = nil
        group = nil
        peers = nil
        peer = -1
        tried.removeAll(keepingCapacity: true)
        tries = 0
        upstream = nil
        reused = false
        keepUpstream = false
        requestHead.clear()
        requestHeadSent = 0
        bodyMemory.clear()
        bodyFileSize = 0
        bodyLength = 0
        bodySent = 0
        bodyRemaining = 0
        bodyChunked = nil
        leftover.removeAll(keepingCapacity: true)
        expectContinue = false
        streaming = false
        bodyDiscarded = false
        sentURI = 0..<0
        sentConnectionClose = true
        dynamicURI = nil
        requestSentAny = false
        retryFresh = false
        resetResponse()
        addresses.removeAll(keepingCapacity: true)
        statuses.removeAll(keepingCapacity: true)
        connectTimes.removeAll(keepingCapacity: true)
        headerTimes.removeAll(keepingCapacity: true)
        responseTimes.removeAll(keepingCapacity: true)
        responseLengths.removeAll(keepingCapacity: true)
    }

    /// Clears what one try of the response left (before trying the next upstream).
    func resetResponse() {
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

    var spoolPending: Int64 { spoolWritten - spoolSent }
}
