// FastCGI's record framing around the one upstream exchange every protocol shares. On
// the request side the body (memory, temporary file, or streamed as it arrives) goes in
// STDIN records of at most 32 KiB, then the empty STDIN record: the send loop asks
// `frameStdin` before each write, and the writes stay the exchange's own. On the
// response side the upstream's bytes are taken apart in place as they are read
// (`UpstreamResponse.deframe`): STDOUT contents are moved together so that the head
// parser (in its CGI mode) and the body relay see plain CGI output; STDERR contents
// are logged as nginx logs them ("FastCGI sent in stderr: ...") and checked against
// `fastcgi_catch_stderr`; END_REQUEST (or the connection's end) is the end of the body,
// after which a kept connection may go back to the keep-alive cache. SCGI and uwsgi need none of this: their bodies are
// unframed both ways.

import SwiftginxConfig
import SwiftginxHTTP

/// The STDIN record being written.
struct StdinFraming {
    /// The current record header, and how much of it is written.
    var header: [UInt8] = []
    var headerSent = 0
    /// Body bytes the current record still carries.
    var recordLeft = 0
    /// The empty STDIN record has been queued.
    var endQueued = false

    /// Before a try; `endInHead`: the request head already ends with the empty STDIN
    /// record (a request without a body).
    mutating func reset(endInHead: Bool = false) {
        if !header.isEmpty { header.removeAll(keepingCapacity: true) }
        headerSent = 0
        recordLeft = 0
        endQueued = endInHead
    }

    @inline(__always) mutating func sentContent(_ n: Int) {
        recordLeft = max(0, recordLeft - n)
    }
}

extension ProxyExchange {
    enum StdinStep {
        case wouldBlock
        /// Header bytes were written: look again.
        case wrote
        /// Up to this many body bytes may be written now.
        case content(Int)
        /// Nothing to frame now (the body and its end are sent, or more body is awaited).
        case finished
    }

    /// The largest STDIN record content sent (nginx's records are as large as its buffers).
    static let stdinRecordSize = 32768

    /// Whether the request body goes upstream in FastCGI STDIN records.
    @inline(__always) var framesBody: Bool { pass?.proto == .fastcgi }

    /// Prepares the STDIN framing for a try: nothing is left to frame when the head
    /// (UpstreamRequestBuilder+CGI.swift) already ends with the empty STDIN record.
    func resetStdin() {
        var endInHead = false
        // Only a framed body reads the static record (HTTP's path reaches no lazy global).
        if framesBody {
            let n = requestHead.writerIndex
            let end = FastCGIRecord.stdinEnd
            endInHead =
                n >= end.count
                && end.withUnsafeBytes {
                    UnsafeRawBufferPointer(start: requestHead.base + n - end.count, count: end.count).elementsEqual($0)
                }
        }
        stdin.reset(endInHead: endInHead)
    }

    /// The next framing step of the request body: a record header to write, the body bytes
    /// the current record may carry, or the empty STDIN record once `bodyEnded`.
    func frameStdin(_ u: UpstreamConnection, bodyLeft: Int64, bodyEnded: Bool) throws -> StdinStep {
        if stdin.headerSent == stdin.header.count {
            if bodyLeft > 0 && stdin.recordLeft > 0 { return .content(stdin.recordLeft) }
            if bodyLeft > 0 {
                let n = Int(min(bodyLeft, Int64(Self.stdinRecordSize)))
                queueStdinHeader(n)
                stdin.recordLeft = n
            } else if bodyEnded && !stdin.endQueued {
                queueStdinHeader(0)
                stdin.endQueued = true
            } else {
                return .finished
            }
        }
        let left = stdin.header.count - stdin.headerSent
        let r = try stdin.header.withUnsafeBytes { b in
            try u.write(b.baseAddress! + stdin.headerSent, left, more: stdin.recordLeft > 0)
        }
        switch r {
        case .wouldBlock: return .wouldBlock
        case .processed(let n):
            stdin.headerSent += n
            countSent(n)
            return .wrote
        }
    }

    private func queueStdinHeader(_ length: Int) {
        stdin.header.removeAll(keepingCapacity: true)
        FastCGIRecord.appendHeader(.stdin, contentLength: length, to: &stdin.header)
        stdin.headerSent = 0
    }
}

/// FastCGI state of one response.
struct FastCGIInput {
    /// Set for a FastCGI exchange (nil: the upstream's bytes are used as they come).
    var decoder: FastCGIRecordDecoder? = nil
    /// The body is over: END_REQUEST came.
    var ended = false
    /// The empty STDOUT record came (a head still incomplete then never completes).
    var stdoutClosed = false
    /// Nothing but the answer came (no bytes past Content-Length or after END_REQUEST):
    /// the connection may be kept once END_REQUEST is read.
    var clean = true
    var keepConn = false
    /// proxy_http_version 2: the input is HTTP/2 frames (ProxyExchange+HTTP2.swift); `ended`
    /// is the stream's END_STREAM.
    var http2 = false

    @inline(__always) var active: Bool { decoder != nil || http2 }
}

extension UpstreamResponse {
    /// Sets the head parser and the record layer for the exchange's protocol (each try).
    func prepare(for x: ProxyExchange) {
        let proto = x.pass?.proto ?? .http
        switch proto {
        case .http: parser.kind = .http
        case .fastcgi: parser.kind = .cgi
        case .uwsgi, .scgi: parser.kind = .statusLineOrCGI
        }
        fastcgi = FastCGIInput()
        if proto == .fastcgi {
            fastcgi.decoder = FastCGIRecordDecoder()
            fastcgi.keepConn = x.settings.fastcgi.keepConn
        }
        if proto == .http && x.settings.http2 { fastcgi.http2 = true }
    }

    /// Takes the records in `upstreamInput[from...]` apart in place (STDOUT contents moved
    /// down to `from`, the buffer's end adjusted); false when the answer was refused (a
    /// record error or a caught stderr string: logged, and the exchange moved on).
    func deframe(_ x: ProxyExchange, from: Int) -> Bool {
        guard var dec = fastcgi.decoder else { return fastcgi.http2 ? deframeHTTP2(x, from: from) : true }
        let inb = upstreamInput
        let end = inb.writerIndex
        let buf = UnsafeRawBufferPointer(start: inb.base, count: end)
        var offset = from
        var write = from
        let context = headerSent ? " while reading upstream" : " while reading response header from upstream"
        defer { fastcgi.decoder = dec }
        while offset < end || fastcgi.ended {
            if fastcgi.ended {
                // Bytes after END_REQUEST: the connection is not clean.
                if offset < end { fastcgi.clean = false }
                break
            }
            switch dec.next(buf, offset: &offset) {
            case .needMore:
                break
            case .stdout(let r):
                if write != r.lowerBound {
                    (inb.base + write).copyMemory(from: inb.base + r.lowerBound, byteCount: r.count)
                }
                write += r.count
                continue
            case .stderr(let r):
                if !stderrPiece(x, buf, r, context: context) {
                    inb.writerIndex = write
                    return false
                }
                continue
            case .stdoutClosed:
                // The body ends with END_REQUEST (read too, so that the application's
                // last writes do not meet a closed socket), or when the connection closes.
                fastcgi.stdoutClosed = true
                continue
            case .endRequest:
                fastcgi.ended = true
                fastcgi.clean = fastcgi.clean && offset == end && dec.atRecordBoundary
                continue
            case .error(let e):
                inb.writerIndex = write
                x.logUpstream(.error, e.logMessage + context)
                refuse(x)
                return false
            }
            break
        }
        inb.writerIndex = write
        return true
    }

    /// A piece of STDERR: logged as nginx logs it (trailing CR, LF, '.' and ' ' trimmed);
    /// false when `fastcgi_catch_stderr` names a string in it.
    private func stderrPiece(_ x: ProxyExchange, _ buf: UnsafeRawBufferPointer, _ r: Range<Int>, context: String)
        -> Bool
    {
        var last = r.upperBound
        while last > r.lowerBound {
            let c = buf[last - 1]
            if c != 10 && c != 13 && c != UInt8(ascii: ".") && c != 32 { break }
            last -= 1
        }
        let text = buf[r.lowerBound..<last]
        if request.logTakes(.error) {
            x.logUpstream(.error, "FastCGI sent in stderr: \"\(String(decoding: text, as: UTF8.self))\"" + context)
        }
        for pattern in x.settings.fastcgi.catchStderr where Self.contains(text, pattern) {
            refuse(x)
            return false
        }
        return true
    }

    /// An invalid answer: the next upstream (before the head was sent) or the end.
    private func refuse(_ x: ProxyExchange) {
        if headerSent {
            x.endAfterPartialBody()
        } else {
            x.nextUpstream(.invalidHeader)
        }
    }

    private static func contains(_ hay: Slice<UnsafeRawBufferPointer>, _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, hay.count >= needle.count else { return needle.isEmpty }
        var i = hay.startIndex
        while i + needle.count <= hay.endIndex {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }

    /// The body ended with the records (END_REQUEST): finish it as a
    /// close-delimited body would, keeping the connection if END_REQUEST was clean.
    func recordsEnded(_ x: ProxyExchange) -> Bool {
        keepUpstream = x.mayKeepConnection && fastcgi.clean && upstreamInput.readableCount == 0
        if responseRemaining > 0 || (responseChunked.map { !$0.isDone } ?? false) {
            x.logUpstream(.error, "upstream prematurely closed FastCGI request while reading upstream")
            keepUpstream = false
            x.endAfterPartialBody()
            return false
        }
        return true
    }
}
