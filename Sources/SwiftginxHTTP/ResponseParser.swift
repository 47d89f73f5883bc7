// The HTTP/1.x response-head parser for what an upstream (gunicorn, uWSGI, Daphne, Apache,
// `manage.py runserver`) answers to a proxied request: status line, header lines and the
// framing decisions (Content-Length, Transfer-Encoding, Connection), with nginx's
// error.log wording. Every error means "502 and close the upstream connection"; nginx's
// `proxy_next_upstream invalid_header` applies to all of them.
//
// How it works: the same line-at-a-time scheme as `RequestParser`. Each call resumes at
// the line where the previous one stopped, a line is judged only once it is complete, and
// the size limit is checked by byte position, so the result is the same however the
// bytes are split across reads. The status line's fixed prefix (`HTTP/1.x ddd`) is checked
// as soon as its bytes arrive, so an upstream that answers with something else entirely
// fails at once instead of when `maxHeadBytes` is reached.
//
// Rules (nginx's behaviour unless marked "stricter"; the stricter ones close request
// smuggling and response splitting holes between us and a confused upstream):
// * Line ends are CRLF or a bare LF (as nginx); a CR not followed by LF is an error.
// * Status line: exactly `HTTP/1.` DIGIT SP 3DIGIT, then the end of the line or SP and a
//   reason phrase (possibly empty: "HTTP/1.1 200\r\n" is fine). Stricter: one SP only, no
//   `HTTP/0.9` fallback (nginx passes a headless response through as HTTP/0.9; we refuse
//   it), status 100…999 only, no other major version, no control bytes in the reason.
// * Header names are 1*tchar followed directly by ":" (stricter: no SP before the colon,
//   no obs-text). A line starting with SP / HTAB (obs-fold) is an invalid header.
// * Header values: HTAB, SP, VCHAR and obs-text only (stricter: NUL, other controls and
//   DEL are refused, not passed on to the client).
// * Content-Length: 1*DIGIT within Int64, at most one line (nginx refuses duplicates, even
//   equal ones). Transfer-Encoding: exactly `chunked` (any case), at most one line; any
//   other value (`gzip, chunked`, `chunked, identity`) is "unknown" as in nginx. Both
//   together are refused, whichever comes first.
// * The whole head must fit in `maxHeadBytes` (nginx's proxy_buffer_size).
// * keepAlive: HTTP/1.1 unless a Connection token is `close`; HTTP/1.0 only with a
//   `keep-alive` token (nginx never reuses a connection after an HTTP/1.0 response; we
//   follow RFC 9112 §9.3), and never after an HTTP/1.0 response with Transfer-Encoding.
//   Whether the body framing allows reuse (no length, 204/304, HEAD) is the caller's call.
// * 1xx heads are returned as `.complete` like any other; the caller skips them (reset,
//   then parse again from `headLength`) or, for 101, switches to tunnelling.

/// Why an upstream's response head was refused. The client gets 502 (`status`); the
/// upstream connection is closed; `logMessage` is nginx's error.log text (level `error`,
/// followed by " while reading response header from upstream").
public enum ResponseParseError: Error, Sendable, Equatable {
    /// The status line is not `HTTP/1.x SP 3DIGIT [SP reason]`.
    case invalidStatusLine
    /// A malformed header line. The payload is nginx's detail: the line up to the
    /// offending byte, that byte as `\xHH`, then `...` (e.g. `X-A: a\x00...`).
    case invalidHeader(String)
    /// The head does not end within `maxHeadBytes`.
    case headerTooBig
    /// Content-Length and Transfer-Encoding in the same response.
    case contentLengthAndTransferEncoding
    /// A second Content-Length or Transfer-Encoding line: both lines as "Name: value".
    case duplicateHeader(line: String, previous: String)
    /// A Content-Length that is not 1*DIGIT within Int64: the line as "Name: value".
    case invalidContentLength(String)
    /// A Transfer-Encoding other than `chunked`: its value.
    case unknownTransferEncoding(String)
    /// A CGI head's `Status` field that does not start with three digits: its value.
    case invalidStatus(String)

    /// Status code for the client's response (nginx: NGX_HTTP_UPSTREAM_INVALID_HEADER → 502).
    public var status: Int { 502 }

    /// nginx's error.log message for this rejection.
    public var logMessage: String {
        switch self {
        case .invalidStatusLine:
            return "upstream sent no valid HTTP/1.0 header"
        case .invalidHeader(let detail):
            return "upstream sent invalid header: \"\(detail)\""
        case .headerTooBig:
            return "upstream sent too big header"
        case .contentLengthAndTransferEncoding:
            return "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time"
        case .duplicateHeader(let line, let previous):
            return "upstream sent duplicate header line: \"\(line)\", previous value: \"\(previous)\""
        case .invalidContentLength(let line):
            return "upstream sent invalid \"Content-Length\" header: \"\(line)\""
        case .unknownTransferEncoding(let value):
            return "upstream sent unknown \"Transfer-Encoding\": \"\(value)\""
        case .invalidStatus(let value):
            return "upstream sent invalid status \"\(value)\""
        }
    }
}

/// Outcome of one `ResponseParser.parse` call.
public enum ResponseParseResult: Sendable, Equatable {
    /// The head is complete and valid; `ResponseHead` is filled (also for 1xx heads).
    case complete
    /// More bytes are needed; call again with the same (grown) buffer and the same head.
    case incomplete
    /// The response must be refused (502 to the client, close the upstream connection).
    case error(ResponseParseError)
}

/// Incremental, allocation-free HTTP/1.x response-head parser.
///
/// Usage: per upstream connection keep one parser and one `ResponseHead`. Call `parse`
/// whenever bytes arrive, with a buffer that starts at the first byte of the response and
/// contains all the bytes given before (it may have moved in memory, offsets may not).
/// Between calls that return `.incomplete`, pass the same `head` unchanged. After
/// `.complete` or `.error`, call `reset()` before parsing the next head (after a 1xx head,
/// the next buffer starts at the old `headLength`).
public struct ResponseParser: Sendable {
    /// nginx's `proxy_buffer_size`: a head (with its final empty line) longer than this
    /// is `ResponseParseError.headerTooBig`.
    public var maxHeadBytes: Int
    /// How the head starts (kept across `reset()`): an HTTP status line (`proxy_pass`),
    /// or a CGI head for FastCGI and SCGI (see ResponseParser+CGI.swift).
    public var kind: ResponseHeadKind = .http

    @usableFromInline
    enum Phase: UInt8, Sendable { case start, statusLine, headers, complete, failed }

    /// `HTTP/1.x ddd` and the byte after it: the part of the status line checked early.
    @usableFromInline static let statusPrefixLength = 13

    @usableFromInline var phase: Phase = .start
    @usableFromInline var lineStart = 0
    @usableFromInline var scan = 0
    @usableFromInline var prefixChecked = 0
    @usableFromInline var failure: ResponseParseError? = nil
    @usableFromInline var contentLengthField: HeaderField? = nil
    @usableFromInline var transferEncodingField: HeaderField? = nil
    @usableFromInline var connectionClose = false
    @usableFromInline var connectionKeepAlive = false
    @usableFromInline var connectionUpgrade = false
    /// CGI heads: the `Status` field, whether `Location` came, whether a status line did.
    @usableFromInline var statusField: HeaderField? = nil
    @usableFromInline var locationSeen = false
    @usableFromInline var statusLineParsed = false

    public init(maxHeadBytes: Int = 8192) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Forgets the current response; the next `parse` starts a new one.
    public mutating func reset() {
        phase = .start
        lineStart = 0
        scan = 0
        prefixChecked = 0
        if failure != nil { failure = nil }
        contentLengthField = nil
        transferEncodingField = nil
        connectionClose = false
        connectionKeepAlive = false
        connectionUpgrade = false
        statusField = nil
        locationSeen = false
        statusLineParsed = false
    }

    /// Parses (more of) the response head in `buf`, which starts at the first byte of the
    /// response. Fills `head` when `.complete`; `head.headLength` is where the body starts.
    public mutating func parse(_ buf: UnsafeRawBufferPointer, into head: inout ResponseHead) -> ResponseParseResult {
        switch phase {
        case .complete: return .complete
        case .failed: return .error(failure ?? .invalidStatusLine)
        case .start:
            head.reset()
            reset()
            phase = kind == .cgi ? .headers : .statusLine
        case .statusLine, .headers:
            break
        }
        let count = buf.count
        precondition(count >= scan, "ResponseParser: the buffer shrank between calls")
        let limit = maxHeadBytes
        if phase == .statusLine, !statusPrefixIsPlausible(buf, upTo: min(count, limit)) {
            // SCGI and uwsgi: no status line, a CGI head from the first byte (as nginx).
            guard kind == .statusLineOrCGI else { return fail(.invalidStatusLine) }
            phase = .headers
        }
        while true {
            let end = min(count, limit)
            var i = scan
            // A header line seen whole for the first time is checked and its end found in
            // one pass (`checkedField`); anything unusual falls back to the general path.
            var colon = -1
            // (Not the empty line that ends the head: it is no field.)
            if phase == .headers && scan == lineStart && lineStart < end && buf[lineStart] > ASCII.cr {
                colon = Self.checkedField(buf, lineStart, end, lineEnd: &i)
            }
            // The line end, 8 bytes at a time: a word's lowest CR or LF byte is exact
            // (the has-zero-byte test only errs above a real match), then byte by byte.
            while colon < 0 && i &+ 8 <= end {
                let w = buf.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                let lf = w ^ 0x0A0A_0A0A_0A0A_0A0A
                let cr = w ^ 0x0D0D_0D0D_0D0D_0D0D
                let ones: UInt64 = 0x0101_0101_0101_0101
                let high: UInt64 = 0x8080_8080_8080_8080
                let m = ((lf &- ones) & ~lf | (cr &- ones) & ~cr) & high
                if m != 0 {
                    i &+= m.trailingZeroBitCount >> 3
                    break
                }
                i &+= 8
            }
            while colon < 0 && i < end {
                let c = buf[i]
                if c == ASCII.cr || c == ASCII.lf { break }
                i &+= 1
            }
            if i == end {
                if end == count {
                    scan = count
                    return .incomplete
                }
                return fail(.headerTooBig)
            }
            let next: Int
            if buf[i] == ASCII.lf {
                next = i &+ 1
            } else {
                let lf = i &+ 1
                if lf >= limit { return fail(.headerTooBig) }
                if lf >= count {
                    scan = i
                    return .incomplete
                }
                if buf[lf] != ASCII.lf {
                    if phase == .statusLine { return fail(.invalidStatusLine) }
                    var colon = i
                    return fail(invalidHeader(buf, lineStart, firstInvalidByte(buf, lineStart..<i, colon: &colon) ?? i))
                }
                next = lf &+ 1
            }
            let line = lineStart..<i
            lineStart = next
            scan = next
            if phase == .statusLine {
                if !Self.parseStatusLine(buf, line, &head, prefixChecked: prefixChecked) {
                    return fail(.invalidStatusLine)
                }
                statusLineParsed = true
                phase = .headers
            } else if line.isEmpty {
                head.headLength = next
                if kind != .http && !statusLineParsed, let e = cgiStatus(buf, &head) { return fail(e) }
                finish(&head)
                // nginx's fastcgi, scgi and uwsgi modules check Transfer-Encoding but never
                // decode it: the body is what the records (or the connection) carry.
                if kind != .http { head.isChunked = false }
                phase = .complete
                return .complete
            } else if colon >= 0 && !Self.isFramingLength(colon &- line.lowerBound, cgi: kind != .http) {
                // A checked field of no interest to the framing (most of them): kept here,
                // without the call that judges the others.
                let n = colon &- line.lowerBound
                if UInt(bitPattern: n &- 15) < 4 && buf[line.lowerBound] | 0x20 == UInt8(ascii: "x") {
                    head.mayHaveXAccelField = true
                }
                head.headers.append(
                    HeaderField(
                        name: line.lowerBound..<colon, value: ASCII.trimOWS(buf, (colon &+ 1)..<line.upperBound)))
            } else if let e = parseHeaderLine(buf, line, &head, checkedColon: colon) {
                return fail(e)
            }
        }
    }

    private mutating func fail(_ e: ResponseParseError) -> ResponseParseResult {
        phase = .failed
        failure = e
        return .error(e)
    }

    // MARK: status line

    /// Checks the bytes of `HTTP/1.x ddd` (and the byte after it) that have arrived, so a
    /// response that is not HTTP/1.x fails without waiting for a line end.
    private mutating func statusPrefixIsPlausible(_ buf: UnsafeRawBufferPointer, upTo available: Int) -> Bool {
        let end = min(available, ResponseParser.statusPrefixLength)
        // The usual case, the whole prefix at once: "HTTP/1." as one word, then the rest.
        if prefixChecked == 0 && end == ResponseParser.statusPrefixLength
            && buf.loadUnaligned(as: UInt64.self) & 0x00FF_FFFF_FFFF_FFFF == 0x002E_312F_5054_5448
            && ASCII.isDigit(buf[7]) && buf[8] == ASCII.sp && buf[9] &- 0x31 < 9 && ASCII.isDigit(buf[10])
            && ASCII.isDigit(buf[11]) && (buf[12] == ASCII.sp || buf[12] == ASCII.cr || buf[12] == ASCII.lf)
        {
            prefixChecked = end
            return true
        }
        while prefixChecked < end {
            let c = buf[prefixChecked]
            let ok: Bool
            switch prefixChecked {
            case 0: ok = c == 0x48  // H
            case 1, 2: ok = c == 0x54  // T
            case 3: ok = c == 0x50  // P
            case 4: ok = c == 0x2F  // /
            case 5: ok = c == 0x31  // 1
            case 6: ok = c == 0x2E  // .
            case 7, 10, 11: ok = ASCII.isDigit(c)
            case 8: ok = c == ASCII.sp
            case 9: ok = c &- 0x31 < 9  // 1-9: status >= 100
            default: ok = c == ASCII.sp || c == ASCII.cr || c == ASCII.lf
            }
            if !ok { return false }
            prefixChecked &+= 1
        }
        return true
    }

    /// Static, with the one field it reads: a method of the parser would take a copy of it.
    private static func parseStatusLine(
        _ buf: UnsafeRawBufferPointer, _ line: Range<Int>, _ head: inout ResponseHead, prefixChecked: Int
    ) -> Bool {
        let s = line.lowerBound
        let e = line.upperBound
        // The prefix bytes were checked by statusPrefixIsPlausible; the line must hold them all.
        guard e - s >= 12, prefixChecked >= 12 else { return false }
        if e - s > 12 {
            guard buf[s &+ 12] == ASCII.sp else { return false }
            var i = s &+ 13
            while i < e {
                if !ASCII.isFieldValueByte(buf[i]) { return false }
                i &+= 1
            }
            head.reason = (s &+ 13)..<e
        } else {
            head.reason = e..<e
        }
        head.version = HTTPVersion(major: 1, minor: Int(buf[s &+ 7] &- 0x30))
        head.status = Int(buf[s &+ 9] &- 0x30) * 100 + Int(buf[s &+ 10] &- 0x30) * 10 + Int(buf[s &+ 11] &- 0x30)
        return true
    }

    // MARK: header lines

    /// Position of the first byte in `line` that cannot appear in a header line, if any;
    /// `colon` is where the name ends (the line's end when it has no colon).
    private func firstInvalidByte(_ buf: UnsafeRawBufferPointer, _ line: Range<Int>, colon: inout Int) -> Int? {
        var p = line.lowerBound
        while p < line.upperBound, Self.isTchar(buf[p]) { p &+= 1 }
        colon = p
        if p == line.upperBound { return nil }  // the caller's terminator decides
        if p == line.lowerBound || buf[p] != 0x3A { return p }
        p &+= 1
        // The value, 8 bytes at a time while none is a control byte or DEL (the usual
        // case); a word that has one is looked at byte by byte.
        while p &+ 8 <= line.upperBound {
            let w = buf.loadUnaligned(fromByteOffset: p, as: UInt64.self)
            let ones: UInt64 = 0x0101_0101_0101_0101
            let high: UInt64 = 0x8080_8080_8080_8080
            let below20 = (w &- 0x20 &* ones) & ~w & high
            let x = w ^ (0x7F &* ones)
            let del = (x &- ones) & ~x & high
            if below20 | del != 0 { break }
            p &+= 8
        }
        while p < line.upperBound {
            if !ASCII.isFieldValueByte(buf[p]) { return p }
            p &+= 1
        }
        return nil
    }

    /// nginx's "invalid header" detail: the line up to `bad`, then `\xHH...`.
    private func invalidHeader(_ buf: UnsafeRawBufferPointer, _ start: Int, _ bad: Int) -> ResponseParseError {
        let hex: [Character] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f"]
        let c = buf[bad]
        let escaped = "\\x" + String(hex[Int(c >> 4)]) + String(hex[Int(c & 0x0F)]) + "..."
        return .invalidHeader(logString(buf, start..<bad) + escaped)
    }

    /// The usual header line in one pass from `start`: a tchar name, ':', then value
    /// bytes (HTAB, SP, VCHAR, obs-text) up to a CR or LF before `end`, whose position
    /// goes to `lineEnd`. Returns the colon's position, or -1 when the line is not
    /// (yet) that: the general path then finds its end and judges it.
    @inline(__always)
    private static func checkedField(_ buf: UnsafeRawBufferPointer, _ start: Int, _ end: Int, lineEnd: inout Int) -> Int
    {
        var p = start
        // The name, 8 bytes at a time while they are letters, digits and '-' (the usual
        // name); the first other byte (the colon, or a rarer tchar) ends the word scan and
        // the byte loop below judges it.
        while p &+ 8 <= end {
            let m = Self.nonNameBytes(buf.loadUnaligned(fromByteOffset: p, as: UInt64.self))
            if m != 0 {
                p &+= m.trailingZeroBitCount >> 3
                break
            }
            p &+= 8
        }
        while p < end, Self.isTchar(buf[p]) { p &+= 1 }
        guard p > start, p < end, buf[p] == 0x3A else { return -1 }
        let colon = p
        p &+= 1
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        while true {
            // 8 bytes at a time while none is below 0x20 or DEL; the lowest flagged byte
            // of a word is exact.
            while p &+ 8 <= end {
                let w = buf.loadUnaligned(fromByteOffset: p, as: UInt64.self)
                let below20 = (w &- 0x20 &* ones) & ~w & high
                let x = w ^ (0x7F &* ones)
                let m = below20 | ((x &- ones) & ~x & high)
                if m != 0 {
                    p &+= m.trailingZeroBitCount >> 3
                    break
                }
                p &+= 8
            }
            while p < end {
                let c = buf[p]
                if c < 0x20 || c == 0x7F { break }
                p &+= 1
            }
            if p >= end { return -1 }
            let c = buf[p]
            if c == ASCII.htab {
                p &+= 1
                continue
            }
            if c == ASCII.cr || c == ASCII.lf {
                lineEnd = p
                return colon
            }
            return -1
        }
    }

    /// The high bit of each byte of `w` that is not an ASCII letter, digit or '-' (exact:
    /// the byte-wise sums below never carry into the next byte).
    @inline(__always)
    static func nonNameBytes(_ w: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let v = w & ~high
        // x >= c for 7-bit bytes: the high bit of x + (0x80 - c).
        @inline(__always) func atLeast(_ x: UInt64, _ c: UInt64) -> UInt64 { (x &+ (0x80 &- c) &* ones) & high }
        let lower = v | 0x20 &* ones
        let letter = atLeast(lower, 0x61) & ~atLeast(lower, 0x7B)
        let digit = atLeast(v, 0x30) & ~atLeast(v, 0x3A)
        let dash = ~((v ^ 0x2D &* ones) &+ 0x7F &* ones) & high
        return ~(letter | digit | dash) & high | w & high
    }

    /// `ASCII.isTchar` from a 128-bit table (fewer instructions per name byte).
    @inline(__always)
    static func isTchar(_ c: UInt8) -> Bool {
        let word: UInt64 = c < 64 ? 0x03FF_6CFA_0000_0000 : 0x57FF_FFFF_C7FF_FFFE
        return c < 128 && (word >> UInt64(c & 63)) & 1 != 0
    }

    /// `checkedColon` >= 0: `checkedField` found the line valid with its name ending there.
    private mutating func parseHeaderLine(
        _ buf: UnsafeRawBufferPointer, _ line: Range<Int>, _ head: inout ResponseHead, checkedColon: Int
    ) -> ResponseParseError? {
        let s = line.lowerBound
        let e = line.upperBound
        var p = checkedColon
        if p < 0, let bad = firstInvalidByte(buf, line, colon: &p) { return invalidHeader(buf, s, bad) }
        if p == e { return invalidHeader(buf, s, e) }  // no colon: report the line end
        let field = HeaderField(name: s..<p, value: ASCII.trimOWS(buf, (p &+ 1)..<e))
        head.headers.append(field)
        let name = buf.slice(field.name)
        switch field.name.count {
        case 14 where Self.isName(buf, s, 14, "content-length"):
            if let prev = contentLengthField { return duplicate(buf, field, prev) }
            if transferEncodingField != nil { return .contentLengthAndTransferEncoding }
            guard let n = Self.contentLength(buf, field.value) else {
                return .invalidContentLength(fieldString(buf, field))
            }
            contentLengthField = field
            head.contentLength = n
        case 17 where Self.isName(buf, s, 17, "transfer-encoding"):
            if let prev = transferEncodingField { return duplicate(buf, field, prev) }
            if contentLengthField != nil { return .contentLengthAndTransferEncoding }
            guard ASCII.equalsLowercased(buf.slice(field.value), "chunked") else {
                return .unknownTransferEncoding(logString(buf, field.value))
            }
            transferEncodingField = field
            head.isChunked = true
        case 10 where Self.isName(buf, s, 10, "connection"):
            // The usual values, a single token, told without the list walk.
            let v = field.value
            if v.count == 10 && Self.isName(buf, v.lowerBound, 10, "keep-alive") {
                connectionKeepAlive = true
                break
            }
            if v.count == 5 && Self.isClose(buf, v.lowerBound) {
                connectionClose = true
                break
            }
            ASCII.forEachListElement(buf, field.value) { t in
                let token = buf.slice(t)
                if ASCII.equalsLowercased(token, "close") {
                    connectionClose = true
                } else if ASCII.equalsLowercased(token, "keep-alive") {
                    connectionKeepAlive = true
                } else if ASCII.equalsLowercased(token, "upgrade") {
                    connectionUpgrade = true
                }
                return true
            }
        case 6 where kind != .http && ASCII.equalsLowercased(name, "status"):
            if statusField == nil { statusField = field }
        case 8 where kind != .http && ASCII.equalsLowercased(name, "location"):
            locationSeen = true
        case 15...18 where buf[s] | 0x20 == UInt8(ascii: "x"):
            // Perhaps one of the X-Accel-* fields nginx acts on (the proxy looks closer).
            head.mayHaveXAccelField = true
        default:
            break
        }
        return nil
    }

    /// The `n`-byte name at `at` (already checked to be tchar bytes) equals `target`
    /// (lower-case letters and '-', at least 8 bytes) whatever the letters' case: over
    /// tchar bytes, setting 0x20 in each only makes upper-case letters lower case, so two
    /// overlapping 8-byte words compare the whole name.
    @inline(__always)
    private static func isName(_ buf: UnsafeRawBufferPointer, _ at: Int, _ n: Int, _ target: StaticString) -> Bool {
        let t = UnsafeRawPointer(target.utf8Start)
        let fold: UInt64 = 0x2020_2020_2020_2020
        let a = buf.loadUnaligned(fromByteOffset: at, as: UInt64.self) | fold
        let b = buf.loadUnaligned(fromByteOffset: at &+ n &- 8, as: UInt64.self) | fold
        return a == t.loadUnaligned(as: UInt64.self) && b == t.loadUnaligned(fromByteOffset: n &- 8, as: UInt64.self)
    }

    /// A name length of a field `parseHeaderLine` acts on: Content-Length (14),
    /// Transfer-Encoding (17), Connection (10), and for CGI heads Status (6) and Location (8).
    @inline(__always)
    static func isFramingLength(_ n: Int, cgi: Bool) -> Bool {
        n == 14 || n == 17 || n == 10 || (cgi && (n == 6 || n == 8))
    }

    /// The 5 bytes at `at` are `close` whatever the letters' case (value bytes: no CR, so
    /// setting 0x20 in each only folds upper-case letters).
    @inline(__always)
    private static func isClose(_ buf: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        buf.loadUnaligned(fromByteOffset: at, as: UInt32.self) | 0x2020_2020 == 0x736F_6C63  // "clos"
            && buf[at &+ 4] | 0x20 == UInt8(ascii: "e")
    }

    /// A Content-Length value: 1*DIGIT within Int64. Up to 18 digits cannot overflow and
    /// are read without overflow checks; longer ones take the general parser.
    @inline(__always)
    static func contentLength(_ buf: UnsafeRawBufferPointer, _ r: Range<Int>) -> Int64? {
        let n = r.count
        guard n > 0 && n <= 18, let base = buf.baseAddress else {
            return RequestParser.parseContentLength(buf, r)
        }
        var value: Int64 = 0
        var i = r.lowerBound
        while i < r.upperBound {
            let d = base.load(fromByteOffset: i, as: UInt8.self) &- 0x30
            if d >= 10 { return nil }
            value = value &* 10 &+ Int64(d)
            i &+= 1
        }
        return value
    }

    private func fieldString(_ buf: UnsafeRawBufferPointer, _ field: HeaderField) -> String {
        logString(buf, field.name) + ": " + logString(buf, field.value)
    }

    private func duplicate(_ buf: UnsafeRawBufferPointer, _ field: HeaderField, _ prev: HeaderField)
        -> ResponseParseError
    {
        .duplicateHeader(line: fieldString(buf, field), previous: fieldString(buf, prev))
    }

    // MARK: end of head

    /// `mutating` although it only reads the parser: a non-mutating call takes a copy of it.
    private mutating func finish(_ head: inout ResponseHead) {
        if head.version.isAtLeast11 {
            head.keepAlive = !connectionClose
        } else {
            // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message makes its framing
            // unreliable, so the connection is closed after it.
            head.keepAlive = connectionKeepAlive && !connectionClose && !head.isChunked
        }
        head.connectionUpgrade = connectionUpgrade
    }
}
