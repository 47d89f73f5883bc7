// The HTTP/1.x request-head parser: request line, header lines and the framing decisions
// (Host, Content-Length, Transfer-Encoding, Connection, Expect, Upgrade), with nginx's
// error texts and status codes and RFC 9112's strict rules against request smuggling.
//
// How it works: the head is consumed one line at a time. Each call resumes
// at the line where the previous call stopped, so feeding a growing buffer costs O(new
// bytes), and because a line is judged only once it is complete (limits are checked by
// byte position), the result is the same however the bytes are split across reads.
//
// Deliberate choices (documented deviations from nginx, all stricter):
// * Line endings: a head ends its lines with CRLF, or — as RFC 9112 §2.2 allows and nginx,
//   h2o and HAProxy accept — with a bare LF throughout. The request line's terminator sets
//   the head's style; a line that then ends the other way (a bare LF in a CRLF head, a CR
//   in an LF head) is a mixed head → 400, because two parsers can split it differently.
//   A bare CR anywhere → 400. Empty lines before the request line are skipped whichever
//   way they end. (Chunked framing stays CRLF-only: see ChunkedDecoder.)
// * Exactly one SP between method, target and version; nothing after the version
//   (nginx allows several spaces). No HTTP/0.9 (a request line without a version → 400).
// * A header name byte outside RFC 9110's tchar (including obs-text such as 0x85) → 400.
//   Valid tchars that nginx calls invalid (e.g. `.` or, unless `underscoresInHeaders`,
//   `_`) make the header "invalid": left out of `headers` when `ignoreInvalidHeaders`.
// * Header values: HTAB, SP, VCHAR and obs-text only; NUL, other controls and DEL → 400
//   (a head rebuilt from HTTP/2 fields takes other controls, as nginx: controlsInValues).
// * obs-fold (a line starting with SP/HTAB) → 400.
// * Transfer-Encoding must be exactly `chunked` (any case); any other value, a list
//   included, → 501 as nginx 1.31.5. `Content-Length` is 1*DIGIT (no lists, even of
//   equal values), a second Content-Length / Host / Transfer-Encoding line → 400.
// * `*` is accepted only for OPTIONS; authority-form only for CONNECT, and CONNECT only in
//   authority form (`CONNECT / ...` → 400, as nginx). CONNECT and TRACE
//   are parsed, then answered 405 (`.methodNotAllowed`) exactly as nginx ≥ 1.21.1 does,
//   so the server closes the connection instead of tunnelling.
// * Versions: `HTTP/1.0`, `HTTP/1.1` and `HTTP/1.2`…`HTTP/1.9` (treated as 1.1, as nginx);
//   `HTTP/2.0`…`HTTP/9.9` → 505; anything else (`HTTP/0.9`, `HTTP/1.10`, `http/1.1`) → 400.

/// Limits and switches of the request parser (nginx directive names in the docs).
public struct RequestParserOptions: Sendable {
    /// `large_client_header_buffers` size: a longer request line (with CRLF) → 414.
    public var maxRequestLine: Int = 8192
    /// `large_client_header_buffers` size: a longer header line (with CRLF) → 400
    /// "Request Header Or Cookie Too Large" (nginx's 494).
    public var maxHeaderLine: Int = 8192
    /// All buffers together (4 × 8k): a longer head → 400 "Request Header Or Cookie Too Large".
    public var maxHeaderBytes: Int = 32768
    /// `ignore_invalid_headers`: leave headers with invalid names out of `headers`.
    public var ignoreInvalidHeaders: Bool = true
    /// `underscores_in_headers`: `_` counts as a valid header-name character.
    public var underscoresInHeaders: Bool = false
    /// `max_headers`: more header lines (those ignored as invalid not counted) → 400
    /// "Request Header Or Cookie Too Large".
    public var maxHeaders: Int = 1000
    /// Require Host on HTTP/1.1 (always on in the server; tests of pure framing turn it off).
    var requireHost: Bool = true
    /// A head rebuilt from an HTTP/2 header list: field values may hold any byte but NUL,
    /// CR and LF, as nginx takes them over HTTP/2 (the stream refused those three, so
    /// the values are not looked at again).
    public var controlsInValues: Bool = false

    public init() {}
}

/// Why a request head was refused; `status` is the code to answer with, `logMessage`
/// nginx's error.log text (logged at `info` level), and the connection is closed after.
public enum RequestParseError: Error, Sendable, Equatable {
    /// 400, with nginx's log wording (e.g. "client sent invalid header line").
    case badRequest(String)
    /// 414 "client sent too long URI".
    case uriTooLong
    /// 400 with the page "Request Header Or Cookie Too Large" (nginx's internal 494).
    case headerTooLarge(String)
    /// 501, e.g. `client sent unknown "Transfer-Encoding": "gzip"`.
    case notImplemented(String)
    /// 505 "client sent invalid version".
    case versionNotSupported
    /// 405 for CONNECT and TRACE, which nginx refuses before any configuration applies.
    case methodNotAllowed(String)

    /// Status code for the response status line.
    public var status: Int {
        switch self {
        case .badRequest, .headerTooLarge: return 400
        case .uriTooLong: return 414
        case .notImplemented: return 501
        case .versionNotSupported: return 505
        case .methodNotAllowed: return 405
        }
    }

    /// Code to pass to `HTTPStatus.errorPageBody` (494 for "Request Header Or Cookie Too Large").
    public var errorPageCode: Int {
        if case .headerTooLarge = self { return 494 }
        return status
    }

    /// nginx's error.log message for this rejection.
    public var logMessage: String {
        switch self {
        case .badRequest(let m), .headerTooLarge(let m), .notImplemented(let m), .methodNotAllowed(let m): return m
        case .uriTooLong: return "client sent too long URI"
        case .versionNotSupported: return "client sent invalid version"
        }
    }
}

/// Outcome of one `RequestParser.parse` call.
public enum RequestParseResult: Sendable, Equatable {
    /// The head is complete and valid; `RequestHead` is filled.
    case complete
    /// More bytes are needed; call again with the same (grown) buffer and the same head.
    case incomplete
    /// The request must be refused (answer `status`, then close).
    case error(RequestParseError)
}

/// Incremental, allocation-free HTTP/1.x request-head parser.
///
/// Usage: per connection keep one parser and one `RequestHead`. Call `parse` whenever bytes
/// arrive, with a buffer that starts at the first byte of the request and contains all the
/// bytes given before (it may have moved in memory, offsets may not). Between calls that
/// return `.incomplete`, pass the same `head` unchanged. After `.complete` or `.error`,
/// call `reset()` before parsing the next request (the next buffer starts at its first byte).
public struct RequestParser: Sendable {
    public var options: RequestParserOptions

    @usableFromInline
    enum Phase: UInt8, Sendable { case start, requestLine, headers, complete, failed }

    @usableFromInline var phase: Phase = .start
    @usableFromInline var lineStart = 0
    @usableFromInline var scan = 0
    @usableFromInline var failure: RequestParseError? = nil
    @usableFromInline var hostField: HeaderField? = nil
    @usableFromInline var contentLengthField: HeaderField? = nil
    @usableFromInline var transferEncodingField: HeaderField? = nil
    @usableFromInline var upgradeField: Range<Int>? = nil
    @usableFromInline var hostFromTarget = false
    @usableFromInline var connectionClose = false
    @usableFromInline var connectionKeepAlive = false
    @usableFromInline var connectionUpgrade = false
    @usableFromInline var expect100 = false
    /// `UniqueHeader` bits of the headers seen.
    @usableFromInline var uniqueSeen: UInt16 = 0
    /// The head's line-ending style, set by the request line's terminator.
    @usableFromInline var lineEnding: LineEnding = .unknown

    @usableFromInline
    enum LineEnding: UInt8, Sendable { case unknown, crlf, lf }

    public init(options: RequestParserOptions = RequestParserOptions()) {
        self.options = options
    }

    /// Forgets the current request; the next `parse` starts a new one.
    public mutating func reset() {
        phase = .start
        lineStart = 0
        scan = 0
        failure = nil
        hostField = nil
        contentLengthField = nil
        transferEncodingField = nil
        upgradeField = nil
        hostFromTarget = false
        connectionClose = false
        connectionKeepAlive = false
        connectionUpgrade = false
        expect100 = false
        uniqueSeen = 0
        lineEnding = .unknown
    }

    /// Parses (more of) the request head in `buf`, which starts at the first byte of the
    /// request. Empty lines (CRLF) before the request line are skipped. Fills `head` when
    /// `.complete`; `head.headLength` is where the body (or the next request) starts.
    public mutating func parse(_ buf: UnsafeRawBufferPointer, into head: inout RequestHead) -> RequestParseResult {
        switch phase {
        case .complete: return .complete
        case .failed: return .error(failure ?? .badRequest("client sent invalid request"))
        case .start:
            head.reset()
            reset()
            phase = .requestLine
        case .requestLine, .headers:
            break
        }
        let count = buf.count
        precondition(count >= scan, "RequestParser: the buffer shrank between calls")
        let maxTotal = options.maxHeaderBytes
        while true {
            let inRequestLine = phase == .requestLine
            let lineLimit = inRequestLine ? options.maxRequestLine : options.maxHeaderLine
            let lineEndLimit = min(lineStart &+ lineLimit, maxTotal)
            let end = min(count, lineEndLimit)
            // A header line seen whole for the first time is checked and its end found in
            // one pass (`checkedField`); anything unusual takes the general path.
            var i = scan
            var colon = -1
            if !inRequestLine && scan == lineStart { colon = checkedField(buf, lineStart, end, lineEnd: &i) }
            if colon < 0 { i = ByteScan.lineEnd(buf, from: i, to: end) }
            if i == end {
                if end == count {
                    // As nginx, a method byte that no method may hold fails at once, without
                    // waiting for the line to end (binary data sent to an HTTP port).
                    if inRequestLine && !Self.methodPrefixIsValid(buf, from: lineStart, to: count) {
                        return fail(.badRequest("client sent invalid method"))
                    }
                    scan = count
                    return .incomplete
                }
                return fail(limitError(buf, at: i, lineLimit: lineLimit, inRequestLine: inRequestLine))
            }
            let lineEnd: Int
            if buf[i] == ASCII.lf {
                // A bare LF: allowed only in a head that ends all its lines so.
                if lineEnding == .crlf { return fail(invalidLine(inRequestLine, buf, i)) }
                if lineEnding == .unknown, inRequestLine, i > lineStart { lineEnding = .lf }
                lineEnd = i
            } else {
                let lf = i &+ 1
                if lf >= lineEndLimit {
                    return fail(limitError(buf, at: lf, lineLimit: lineLimit, inRequestLine: inRequestLine))
                }
                if lf >= count {
                    if inRequestLine && !Self.methodPrefixIsValid(buf, from: lineStart, to: i) {
                        return fail(.badRequest("client sent invalid method"))
                    }
                    scan = i
                    return .incomplete
                }
                if buf[lf] != ASCII.lf || lineEnding == .lf { return fail(invalidLine(inRequestLine, buf, i)) }
                if lineEnding == .unknown, inRequestLine, i > lineStart { lineEnding = .crlf }
                lineEnd = lf
            }
            let line = lineStart..<i
            lineStart = lineEnd &+ 1
            scan = lineStart
            if inRequestLine {
                if line.isEmpty { continue }
                if let e = parseRequestLine(buf, line, &head) { return fail(e) }
                phase = .headers
            } else if line.isEmpty {
                head.headLength = lineStart
                if let e = finish(buf, &head) { return fail(e) }
                phase = .complete
                return .complete
            } else if let e = parseHeaderLine(buf, line, &head, checkedColon: colon) {
                return fail(e)
            }
        }
    }

    private mutating func fail(_ e: RequestParseError) -> RequestParseResult {
        phase = .failed
        failure = e
        return .error(e)
    }

    /// 400 "client sent invalid request" (made where it is returned: nothing per line).
    private static var invalidRequest: RequestParseError { .badRequest("client sent invalid request") }

    /// A line that ends wrongly at `end`. In the request line, a method byte no method may
    /// hold is reported first (nginx reads the line left to right), whatever the split.
    private func invalidLine(_ inRequestLine: Bool, _ buf: UnsafeRawBufferPointer, _ end: Int) -> RequestParseError {
        if inRequestLine && !Self.methodPrefixIsValid(buf, from: lineStart, to: end) {
            return .badRequest("client sent invalid method")
        }
        return .badRequest(inRequestLine ? "client sent invalid request" : "client sent invalid header line")
    }

    private func limitError(_ buf: UnsafeRawBufferPointer, at pos: Int, lineLimit: Int, inRequestLine: Bool)
        -> RequestParseError
    {
        if inRequestLine && !Self.methodPrefixIsValid(buf, from: lineStart, to: min(pos, buf.count)) {
            return .badRequest("client sent invalid method")
        }
        if pos - lineStart >= lineLimit, inRequestLine { return .uriTooLong }
        return .headerTooLarge("client sent too long header line")
    }

    // MARK: request line

    /// Whether the request line's bytes so far may still begin a method: upper-case
    /// letters, '_' and '-' up to the first space.
    private static func methodPrefixIsValid(_ buf: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Bool {
        var p = start
        while p < end {
            let c = buf[p]
            if c == ASCII.sp { return p > start }
            guard c &- 0x41 < 26 || c == 0x5F || c == 0x2D else { return false }
            p &+= 1
        }
        return true
    }

    private mutating func parseRequestLine(
        _ buf: UnsafeRawBufferPointer, _ line: Range<Int>, _ head: inout RequestHead
    ) -> RequestParseError? {
        let e = line.upperBound
        var p = line.lowerBound
        // method: nginx accepts upper-case letters, '_' and '-'
        while p < e {
            let c = buf[p]
            guard c &- 0x41 < 26 || c == 0x5F || c == 0x2D else { break }
            p &+= 1
        }
        if p == line.lowerBound || p == e || buf[p] != ASCII.sp {
            return .badRequest("client sent invalid method")
        }
        head.methodBytes = line.lowerBound..<p
        head.method = HTTPMethod.classify(buf.slice(head.methodBytes))
        p &+= 1
        // request-target: no controls, no spaces (nginx ≥ 1.21.1), obs-text allowed
        let ts = p
        p = ByteScan.firstBelow(0x21, buf, from: p, to: e)  // a space or a control
        if p < e && buf[p] != ASCII.sp { return Self.invalidRequest }
        let te = p
        if te == ts || te == e { return Self.invalidRequest }
        // version: exactly "HTTP/" DIGIT "." DIGIT
        let v = te &+ 1
        guard e - v == 8, buf[v] == 0x48, buf[v + 1] == 0x54, buf[v + 2] == 0x54, buf[v + 3] == 0x50,
            buf[v + 4] == 0x2F, ASCII.isDigit(buf[v + 5]), buf[v + 6] == 0x2E, ASCII.isDigit(buf[v + 7])
        else { return Self.invalidRequest }
        let major = Int(buf[v + 5] &- 0x30)
        let minor = Int(buf[v + 7] &- 0x30)
        if major == 0 { return Self.invalidRequest }
        head.version = HTTPVersion(major: major, minor: minor)
        head.requestLine = line
        head.target = ts..<te
        // nginx reads the line left to right: a bad target is a 400 before a version it
        // does not speak is a 505 ("PRI * HTTP/2.0" is a 400).
        if let e = parseTarget(buf, ts..<te, &head) { return e }
        return major > 1 ? .versionNotSupported : nil
    }

    private mutating func parseTarget(
        _ buf: UnsafeRawBufferPointer, _ t: Range<Int>, _ head: inout RequestHead
    ) -> RequestParseError? {
        let first = buf[t.lowerBound]
        if head.method == .connect {  // authority-form only: host ":" port
            guard let colon = authorityEnd(buf, t), colon.end == t.upperBound, colon.hasPort else {
                return Self.invalidRequest
            }
            guard let name = RequestParser.validateHost(buf, t) else {
                return .badRequest("client sent invalid host in request line")
            }
            head.host = t
            head.hostName = name
            hostFromTarget = true
            head.path = t.upperBound..<t.upperBound
            return nil
        }
        if first == 0x2F {  // origin-form
            splitPathQuery(buf, t, &head)
            return nil
        }
        if first == 0x2A {  // "*"
            guard t.count == 1, head.method == .options else { return Self.invalidRequest }
            head.path = t
            return nil
        }
        // absolute-form: scheme "://" authority [path-abempty] ["?" query]
        var q = t.lowerBound
        while q < t.upperBound, (buf[q] | 0x20) &- 0x61 < 26 { q &+= 1 }
        guard q > t.lowerBound, t.upperBound - q >= 3, buf[q] == 0x3A, buf[q + 1] == 0x2F, buf[q + 2] == 0x2F else {
            return Self.invalidRequest
        }
        let secondSlash = q &+ 2
        let hs = q &+ 3
        guard let auth = authorityEnd(buf, hs..<t.upperBound), auth.end > hs else { return Self.invalidRequest }
        let authority = hs..<auth.end
        let rest = auth.end..<t.upperBound
        if rest.isEmpty {
            head.path = secondSlash..<secondSlash &+ 1
        } else if buf[rest.lowerBound] == 0x2F {
            splitPathQuery(buf, rest, &head)
        } else if buf[rest.lowerBound] == 0x3F {
            head.path = secondSlash..<secondSlash &+ 1
            head.query = rest.lowerBound &+ 1..<fragmentStart(buf, rest)
        } else {
            return Self.invalidRequest
        }
        guard let name = RequestParser.validateHost(buf, authority) else {
            return .badRequest("client sent invalid host in request line")
        }
        head.host = authority
        head.hostName = name
        hostFromTarget = true
        return nil
    }

    /// Scans `host [":" port]` as nginx's request-line parser does: a host of letters,
    /// digits, `.` and `-`, or an IP literal `[...]` of unreserved and sub-delims characters
    /// and `:`; then `:` and digits. The caller checks what follows (`/`, `?` or the end).
    private func authorityEnd(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> (end: Int, hasPort: Bool)? {
        var h = r.lowerBound
        if h < r.upperBound, buf[h] == 0x5B {
            h &+= 1
            while h < r.upperBound, buf[h] != 0x5D {
                let c = buf[h]
                guard
                    ASCII.isAlphanumeric(c) || c == 0x3A || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
                        || RequestParser.isSubDelim(c)
                else { return nil }
                h &+= 1
            }
            guard h < r.upperBound else { return nil }
            h &+= 1
        } else {
            while h < r.upperBound {
                let c = buf[h]
                guard ASCII.isAlphanumeric(c) || c == 0x2E || c == 0x2D else { break }
                h &+= 1
            }
        }
        var hasPort = false
        if h < r.upperBound, buf[h] == 0x3A {
            h &+= 1
            let ps = h
            while h < r.upperBound, ASCII.isDigit(buf[h]) { h &+= 1 }
            hasPort = h > ps
        }
        return (h, hasPort)
    }

    /// The path up to `?`, and the query after it up to a `#` (nginx leaves the fragment out
    /// of `$args`). A `#` before any `?` stays in the path, where URI normalization ends it.
    private func splitPathQuery(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>, _ head: inout RequestHead) {
        var i = r.lowerBound
        while i < r.upperBound {
            let c = buf[i]
            if c == 0x3F { break }
            if c == 0x23 {
                head.path = r
                head.query = nil
                return
            }
            i &+= 1
        }
        head.path = r.lowerBound..<i
        head.query = i < r.upperBound ? (i &+ 1)..<fragmentStart(buf, (i &+ 1)..<r.upperBound) : nil
    }

    /// Where a `#` fragment starts in `r`, or its end.
    private func fragmentStart(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int {
        var i = r.lowerBound
        while i < r.upperBound, buf[i] != 0x23 { i &+= 1 }
        return i
    }

    // MARK: end of head (nginx's ngx_http_process_request_header order)

    private mutating func finish(_ buf: UnsafeRawBufferPointer, _ head: inout RequestHead) -> RequestParseError? {
        let http11 = head.version.isAtLeast11
        if options.requireHost, http11, head.host == nil {
            return .badRequest("client sent HTTP/1.1 request without \"Host\" header")
        }
        if let cl = contentLengthField {
            guard let n = RequestParser.parseContentLength(buf, cl.value) else {
                return .badRequest("client sent invalid \"Content-Length\" header")
            }
            head.contentLength = n
        }
        if let te = transferEncodingField {
            if !http11 {
                return .badRequest("client sent HTTP/1.0 request with \"Transfer-Encoding\" header")
            }
            // nginx 1.31.5: exactly `chunked` (any case); any other value or list → 501.
            if !ASCII.equalsLowercased(buf.slice(te.value), "chunked") {
                return .notImplemented("client sent unknown \"Transfer-Encoding\": \"\(logString(buf, te.value))\"")
            }
            if contentLengthField != nil {
                return .badRequest("client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time")
            }
            head.isChunked = true
        }
        head.keepAlive = http11 ? !connectionClose : (connectionKeepAlive && !connectionClose)
        head.upgrade = connectionUpgrade ? upgradeField : nil
        head.expectContinue = http11 && expect100
        switch head.method {
        case .connect: return .methodNotAllowed("client sent CONNECT method")
        case .trace: return .methodNotAllowed("client sent TRACE method")
        default: return nil
        }
    }

    /// Content-Length value: 1*DIGIT, at most Int64.max; nil otherwise.
    @inlinable
    public static func parseContentLength(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int64? {
        if r.isEmpty { return nil }
        var n: Int64 = 0
        for i in r {
            let d = buf[i] &- 0x30
            guard d < 10 else { return nil }
            let (m, o1) = n.multipliedReportingOverflow(by: 10)
            let (s, o2) = m.addingReportingOverflow(Int64(d))
            if o1 || o2 { return nil }
            n = s
        }
        return n
    }
}
