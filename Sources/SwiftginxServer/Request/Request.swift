// One request, whatever protocol brought it: the parsed head, the chosen server and
// location, where it is in nginx's phases, its variables and captures, the content
// handler answering it (a proxy exchange keeps its state here), and the writer the
// answer goes through. The connection keeps one Request and resets it (keeping
// capacity) for every message; a subrequest is a Request of its own whose answer
// goes to its parent. What it needs from the connection below is in
// Request+Downstream.swift; the phases in Request+Phases.swift. The modules the
// phases run (variables, rewrite, try_files, auth_request, error pages, return,
// status pages) are types of their own taking the request as a parameter.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxRouting

final class Request {
    /// The worker owns this object and outlives it; `unowned(unsafe)` reads it without
    /// the checked reference count `unowned` costs (about 490 instructions per request).
    unowned(unsafe) let worker: Worker
    /// The connection the request came on (see Request+Downstream.swift).
    unowned(unsafe) var connection: HTTP1Connection! = nil
    /// The HTTP/2 stream that carries the request (nil on HTTP/1).
    unowned(unsafe) var stream: HTTP2Stream? = nil
    let writer: ResponseWriter
    /// The writer's buffer (its own reference: read without going through the writer).
    let output: ByteBuffer
    var head = RequestHead()
    /// The buffer the head was parsed in, and where the head starts in it.
    let input: ByteBuffer
    var headBase = 0
    /// `$connection_requests` for this request.
    var connectionRequests = 0
    /// The HTTP/1 head parser and its limits, taken from the default server of
    /// `parserGroup`. They travel with the request: an idle keep-alive connection lends
    /// its request, buffers and parser back to the worker (HTTP1Connection+Idle.swift).
    var parser = RequestParser()
    var parserOptions = RequestParserOptions()
    var parserGroup: ListenGroup? = nil
    /// `client_header_buffer_size` of that server: what the read buffer shrinks back to.
    var headerBufferSize = 1024
    /// What is left of a request body the connection discards (HTTP1Connection+Body.swift).
    var discardRemaining: Int64 = 0
    var discardChunked: ChunkedDecoder? = nil
    /// The next request in the worker's pool of unused requests.
    var nextFree: Request? = nil
    /// `$remote_addr` of the connection numbered `peerTextConnection`, formatted once.
    var peerText: [UInt8] = []
    var peerTextConnection = -1
    /// A graceful stop is under way: no keep-alive (set by the connection).
    var shuttingDown = false

    var server: VirtualServer? = nil
    var location: Location? = nil
    /// The phase engine's position: the handler list being run and the next step in it.
    var steps = UnsafeBufferPointer<PhaseStep>(start: nil, count: 0)
    var stepIndex = 0
    var captures: [Range<Int>] = []
    /// The regex and the URI its captures index into (the URI may change afterwards).
    var captureRegex: Regex? = nil
    var captureSubject: [UInt8] = []
    /// Values of `set` variables.
    var customVariables: [String: [UInt8]] = [:]
    /// Nesting of map evaluations (a map whose source is a map).
    var mapDepth = 0
    /// Normalized, %-decoded path (`$uri`).
    var uri: [UInt8] = []
    /// Query string without '?' (`$args`), as bytes.
    var args: [UInt8] = []
    var hasArgs = false
    var status = 0
    /// Set when an error_page redirect answers with another status.
    var overrideStatus: Int? = nil
    /// try_files chose a file under a regex location's alias: the path is alias + URI.
    var addURIToAlias = false
    var isInternal = false
    /// A rewrite changed the URI (proxy_pass then sends the changed URI whole).
    var uriChanged = false
    /// The client sent `Expect: 100-continue` with a body.
    var expectContinue = false
    var redirects = 0
    var errorPageUsed = false
    /// The method after an error_page redirect (GET unless HEAD).
    var headOnly = false
    var keepAlive = true
    var bodyPending = false
    var lingerAlways = false
    var aborted = false
    /// Wall-clock milliseconds when the head was complete.
    var startMilliseconds: Int64 = 0
    var keepaliveTimeout = 75_000
    var sendTimeout = 60_000
    var bodyTimeout = 60_000
    var lingering: LingeringClose = .on
    var lingeringTime = 30_000
    var lingeringTimeout = 5_000
    var tcpNodelay = true
    var contentType: [UInt8] = []
    /// Header lines an X-Accel-Redirect answer passes on to the redirected response,
    /// and its Content-Type (which replaces the file's type).
    var carriedHeaders: [UInt8] = []
    var carriedContentType: [UInt8]? = nil
    /// The file path of the current request, built in place (keeps its capacity).
    var pathBuffer: [UInt8] = []

    /// The proxy exchange of a proxied request (kept for reuse by the next one).
    var proxy: ProxyExchange? = nil
    /// The content handler producing the answer after the request was activated.
    var activeContent: ActiveContent = .none
    /// A subrequest's parent, and the subrequest this request waits for.
    var parent: Request? = nil
    /// Set for a subrequest (tested on hot paths instead of `parent`).
    var isSubrequest = false
    /// A content handler was activated (the answer comes later).
    var contentActive = false
    var subrequest: Subrequest? = nil
    /// Subrequests running side by side (an SSI page's includes; Subrequest+Concurrent.swift).
    var runningSubrequests: [Subrequest] = []
    /// A subrequest's own timer (the worker's clock, 0: none): the connection's one
    /// timer is armed for the earliest of its subrequests'.
    var ownDeadline: Int64 = 0
    /// The SSI filter of this response while an `include` waits for its subrequest.
    var ssiFilter: SSIFilter? = nil
    /// Nesting depth of subrequests (nginx's limit is 50).
    var depth = 0
    /// Places held in limit_conn zones (given back when the request is logged), and
    /// `$limit_conn_status`.
    var heldConnections: [(LimitConnZone, [UInt8])] = []
    var limitConnStatus = LimitConnHandler.Status.none
    /// `$limit_req_status` (also: the request was limited once already).
    var limitReqStatus = LimitReqHandler.Status.none
    /// `limit_rate` and `proxy_limit_rate` state (Connection/SendRate.swift), and a rate
    /// set for this response (X-Accel-Limit-Rate).
    var clientRate = SendRate()
    var upstreamRate = SendRate()
    var limitRateOverride: Int? = nil
    /// The client's address as the realip module found it (nil: the connection's).
    var realAddress: SocketAddress? = nil
    var realAddressText: [UInt8]? = nil
    /// With `satisfy any`: the denial an access module gave, answered after the access
    /// phase unless another module allows the request (0: none).
    var accessCode = 0
    /// A subrequest whose body is not wanted (only its status and head).
    var headerOnlySubrequest = false
    /// The route explainer's sink (nil when serving).
    var trace: RouteTrace? = nil
    /// An `if` block with a proxy_pass matched, then a later one without: nginx keeps the
    /// proxy content handler with no upstream configured (answered 500).
    var passLost = false
    /// X-Accel-Redirect made the request a GET (a HEAD stays HEAD), as nginx does.
    var methodIsGET = false
    /// The trailer fields written after a chunked body (`$sent_trailer_*`).
    var sentTrailers: [UInt8] = []
    /// `$request_id`: 16 random bytes made when first read, the same for the rest of the
    /// request (its log line, its upstream header, its subrequests); (0, 0): not made.
    var requestID: (UInt64, UInt64) = (0, 0)

    init(worker: Worker, writer: ResponseWriter, input: ByteBuffer) {
        self.worker = worker
        self.writer = writer
        self.output = writer.output
        self.input = input
    }

    /// `clearingURI` false: the caller sets `uri` before anything reads it (`begin`
    /// normalizes the new request's path into it, in place), or answers through
    /// ErrorPages, which resets whole.
    func reset(clearingURI: Bool = true) {
        server = nil
        location = nil
        stepIndex = 0
        // Emptied without removeAll(keepingCapacity:) when already empty or of one
        // element (that call costs ~80 instructions each, on every request).
        captures.clearKeepingStorage()
        captureRegex = nil
        captureSubject.clearKeepingStorage()
        if !customVariables.isEmpty { customVariables.removeAll(keepingCapacity: true) }
        if clearingURI { uri.clearKeepingStorage() }
        args.clearKeepingStorage()
        hasArgs = false
        status = 0
        overrideStatus = nil
        addURIToAlias = false
        isInternal = false
        uriChanged = false
        expectContinue = false
        redirects = 0
        accessCode = 0
        passLost = false
        methodIsGET = false
        requestID = (0, 0)
        if !sentTrailers.isEmpty { sentTrailers.removeAll(keepingCapacity: true) }
        // `$upstream_*` belong to the request that proxied (the exchange is reused).
        if let proxy, proxy.pass != nil { proxy.pass = nil }
        limitConnStatus = .none
        limitReqStatus = .none
        if clientRate.resolved { clientRate = SendRate() }
        if upstreamRate.resolved { upstreamRate = SendRate() }
        limitRateOverride = nil
        if realAddress != nil {
            realAddress = nil
            realAddressText = nil
        }
        errorPageUsed = false
        headOnly = false
        keepAlive = true
        bodyPending = false
        lingerAlways = false
        aborted = false
        if !contentType.isEmpty { contentType.removeAll(keepingCapacity: true) }
        if !carriedHeaders.isEmpty { carriedHeaders.removeAll(keepingCapacity: true) }
        carriedContentType = nil
        activeContent = .none
        contentActive = false
        if subrequest != nil { subrequest = nil }
        if !runningSubrequests.isEmpty { runningSubrequests.removeAll() }
        ownDeadline = 0
        if ssiFilter != nil { ssiFilter = nil }
    }

    /// Copies what the connection needs after the response from a location.
    /// The connection-level settings of a location, read field by field through the
    /// reference (binding or passing `location.settings` copies the whole struct).
    @inline(__always) func adopt(_ l: Location) {
        keepaliveTimeout = l.settings.keepaliveTimeout
        sendTimeout = l.settings.sendTimeout
        bodyTimeout = l.settings.clientBodyTimeout
        lingering = l.settings.lingeringClose
        lingerAlways = l.settings.lingeringClose == .always
        lingeringTime = l.settings.lingeringTime
        lingeringTimeout = l.settings.lingeringTimeout
        tcpNodelay = l.settings.tcpNodelay
        applyKeepAliveLimits(keepaliveTime: l.settings.keepaliveTime, disable: l.settings.keepaliveDisable)
    }

    var isHeadOnly: Bool { head.method == .head }

    // MARK: logging

    /// Messages are built only when the error log takes their level.
    func logInfo(_ message: @autoclosure () -> String) {
        logError(message(), level: .info)
    }

    func logError(_ message: @autoclosure () -> String, level: LogLevel = .error) {
        logLine(level, message() + clientSuffix())
    }

    /// Whether one of the request's error logs takes lines of `level`.
    func logTakes(_ level: LogLevel) -> Bool {
        let levelLogs =
            location.map { $0.settings.logs.errorLogs } ?? server.map { $0.defaultSettings.logs.errorLogs } ?? []
        if levelLogs.isEmpty { return worker.state.errorLog.enabled(level) }
        return levelLogs.contains { level.rawValue <= $0.level.rawValue }
    }

    /// A line whose context is already written, to the request's error logs: those of
    /// its location, server or http level (`error_log` there), else the main ones.
    func logLine(_ level: LogLevel, _ line: @autoclosure () -> String) {
        let levelLogs =
            location.map { $0.settings.logs.errorLogs } ?? server.map { $0.defaultSettings.logs.errorLogs } ?? []
        if !levelLogs.isEmpty {
            guard levelLogs.contains(where: { level.rawValue <= $0.level.rawValue }) else { return }
            ErrorLog.log(
                level, line(), connection: connectionNumber, to: levelLogs, files: worker.generation.accessLogFiles,
                syslog: worker.state.logFiles.syslog)
            return
        }
        let log = worker.state.errorLog
        guard log.enabled(level) else { return }
        log.log(level, line(), connection: connectionNumber)
    }

    /// ", client: 127.0.0.1, server: localhost, request: "GET / HTTP/1.1", host: "x"".
    func clientSuffix() -> String {
        var s = ", client: \(peer.host)"
        if let server { s += ", server: \(server.primaryName)" }
        // Only a head whose bytes are still in the buffer is named (bad input or a late
        // failure must never make a log line read out of bounds).
        if head.headLength > 0 && headBase >= 0 && headBase + head.headLength <= input.writerIndex {
            let b = headBytes
            s += ", request: \"\(String(decoding: b[head.requestLine], as: UTF8.self))\""
            if let h = head.host { s += ", host: \"\(String(decoding: b[h], as: UTF8.self))\"" }
        }
        return s
    }

    // MARK: the modules' entry points, as the content handlers call them

    // One-line forwarders to the modules' own types (Variables, ErrorPages,
    // ReturnHandler): the request is passed borrowed, so they cost nothing.

    @inline(__always) func evaluate(_ value: ComplexValue) -> [UInt8] {
        Variables.evaluate(self, value)
    }

    @inline(__always) func appendVariable(_ v: Variable, to out: ByteBuffer) {
        Variables.append(self, v, to: out)
    }

    @inline(__always) func respondError(_ status: Int) {
        ErrorPages.respond(self, status)
    }

    @inline(__always) func writeDefaultPage(
        _ status: Int, title: String? = nil, settings: LocationSettings?, pageCode: Int? = nil,
        extra: (ByteBuffer) -> Void = { _ in }
    ) {
        ErrorPages.write(self, status, title: title, settings: settings, pageCode: pageCode, extra: extra)
    }

    @inline(__always) func sendRedirect(_ code: Int, location: [UInt8], settings: LocationSettings) {
        ReturnHandler.redirect(self, code, location: location, settings: settings)
    }

    @inline(__always) func absolutePrefix(settings: LocationSettings) -> [UInt8] {
        ReturnHandler.absolutePrefix(self, settings: settings)
    }
}

/// What produces the answer of an activated request (dispatched with a switch, no
/// existentials): the proxy exchange, or a subrequest being waited for.
enum ActiveContent {
    case none
    /// The request's `proxy` exchange.
    case proxy
    case waitingForSubrequest
    /// `auth_delay`: this status is answered when the timer fires.
    case delayedStatus(Int)
    /// A limit_req delay: the connection's timer resumes the phases.
    case limitReqDelay
}
