// HTTP/2 on a client connection, on libnghttp2 (framing, HPACK, flow control and the
// protocol's checks are nghttp2's; nothing here parses a frame). The client
// connection (HTTP1Connection: socket, TLS, peer, listen group, timers) hands itself
// over once ALPN chose "h2" or the h2c connection preface arrived on an address with
// `http2 on`; from then on every socket event and timer comes here. Each stream is an
// HTTP2Stream whose `Request` runs the same phases and handlers as an HTTP/1 request.
//
// One `drive()` reads what the socket has and feeds it to nghttp2 (its callbacks
// collect header fields and body bytes), starts the streams whose heads are complete,
// moves the answers handlers wrote into their streams, submits response heads, and
// writes the frames nghttp2 produces — several frames per write — until the socket
// would block. A content handler that waits for body bytes or for room to write is
// resumed when they come. Limits: `http2_max_concurrent_streams`, the header list in
// `large_client_header_buffers`, `keepalive_timeout` when no stream is open,
// `keepalive_requests` streams per connection, and nghttp2's flood guards (rapid
// reset, CONTINUATION, SETTINGS and PING floods: HTTP2Connection+Session.swift).

import CNghttp2
import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

final class HTTP2Connection {
    unowned let client: HTTP1Connection
    unowned let worker: Worker
    /// The server whose settings govern the connection (the default server of the
    /// address, or the one TLS chose by SNI).
    let server: ServerSettings
    var settings: HTTP2Settings { server.http2 }
    var session: OpaquePointer? = nil
    var streams: [Int32: HTTP2Stream] = [:]
    /// The stream last looked up by id (nghttp2 asks for one many times in a row).
    var lastStream: HTTP2Stream? = nil
    /// Streams whose heads are complete, started after nghttp2 returns.
    var ready: [HTTP2Stream] = []
    /// Streams with something new for their DATA frames.
    var dataPending: [HTTP2Stream] = []
    /// Streams whose content handler waits and can go on.
    var resumable: [HTTP2Stream] = []
    /// Streams whose body broke its Content-Length, answered after nghttp2 returns.
    var bodyFaults: [HTTP2Stream] = []
    /// Streams that ended, released after nghttp2 returns.
    var ended: [HTTP2Stream] = []
    /// Frames produced by nghttp2 and not yet written.
    let pendingOut = ByteBuffer(capacity: 16384)
    /// The name/value list of a response head being submitted (kept for its capacity).
    var nvScratch: [nghttp2_nv] = []
    /// An open header block's frame in `pendingOut`, or -1 (HTTP2Connection+HeaderFrames).
    var openHeaderFrame = -1
    /// nginx's priority tree, held streams, a round without holds (HTTP2Connection+Priority).
    var priorityTree: HTTP2PriorityTree? = nil
    var priorityHeld: [HTTP2Stream] = []
    var priorityPass = false
    var driving = false
    var again = false
    var closed = false
    /// Streams begun (`$connection_requests`, keepalive_requests).
    var requests = 0
    /// Streams opened by the client, and how many it may open (keepalive_requests).
    var opened = 0
    let maxRequests: Int
    var goingAway = false
    /// The worker stops (QUIT): see `shutDown`.
    var stopping = false
    /// `$http2`: "h2" over TLS, "h2c" on a plain connection.
    let protocolName: [UInt8]
    /// Monotonic ms when the connection last had no open stream.
    var idleSince: Int64 = 0
    /// When frames waiting for the socket time out (`send_timeout` of the default
    /// server, from the last write that made progress); 0: nothing waits.
    var sendDeadline: Int64 = 0
    /// The socket may have bytes (the client connection's flag, set by epoll events).
    var readReady: Bool {
        get { client.readReady }
        set { client.readReady = newValue }
    }
    /// The payload length of the HEADERS frame being received.
    var headerFrameBytes = 0
    /// Bytes of the client connection preface still to come.
    var magicLeft = 24
    /// nginx's flood rule: bytes read, and the payload among them (header blocks of the
    /// requests begun, DATA); frames that carry next to nothing (empty DATA, PRIORITY,
    /// WINDOW_UPDATE, PING, SETTINGS) past eight times the payload plus 8 MiB end the
    /// connection.
    var totalBytes = 0
    var payloadBytes = 0
    /// The highest stream id the client has opened.
    var lastStreamID: Int32 = 0
    /// The client acknowledged the server's SETTINGS.
    var settingsAcked = false
    /// SETTINGS ACKs not to send (the one for the SETTINGS given in the client's name).
    var droppedAcks = 0
    static let settingsAck: [UInt8] = [0, 0, 0, 4, 1, 0, 0, 0, 0]

    init(client: HTTP1Connection, server: ServerSettings) {
        self.client = client
        self.worker = client.worker
        self.server = server
        maxRequests = client.group.defaultServer.defaultSettings.keepaliveRequests
        protocolName = client.tls != nil ? Array("h2".utf8) : Array("h2c".utf8)
    }

    /// Creates the nghttp2 session and queues the server's SETTINGS; `preface` holds
    /// bytes already read (the connection preface on a plain connection).
    func start(preface: UnsafeRawBufferPointer) {
        openSession()
        idleSince = worker.now
        if !preface.isEmpty { feed(preface) }
        drive()
    }

    // MARK: the loop

    func drive() {
        if driving {
            again = true
            return
        }
        driving = true
        repeat {
            again = false
            if !closed { receive() }
            if !closed { startReady() }
            if !closed { pump() }
            if !closed { send() }
            releaseEnded()
        } while again && !closed
        driving = false
        if closed { return }
        let sessionDone =
            session.map { nghttp2_session_want_read($0) == 0 && nghttp2_session_want_write($0) == 0 } ?? true
        if pendingOut.readableCount == 0 && (sessionDone || goingAway && (streams.isEmpty || stoppingProduced)) {
            // Everything answered and written: the client may still be sending (a PING,
            // a WINDOW_UPDATE), so the close lingers, as nginx's does.
            for (_, stream) in streams { streamClosed(stream, errorCode: NGHTTP2_CANCEL.rawValue) }
            closed = true
            releaseEnded()
            client.beginLingeringClose()
            return
        }
        armTimer()
    }

    /// Reads and feeds nghttp2 until the socket would block.
    private func receive() {
        guard let s = session else { return }
        while readReady || client.transport.hasBufferedInput {
            if nghttp2_session_want_read(s) == 0 { return }
            // Frames waiting to be written first: a client that does not read its
            // answers is not read either (PING / SETTINGS floods stay bounded).
            if pendingOut.readableCount > 1 << 20 { return }
            let buf = worker.scratch
            let r: IOResult<Int>
            do { r = try client.transport.read(buf.base, buf.capacity) } catch {
                client.logInfo("\(error) while processing HTTP/2 connection")
                closeConnection()
                return
            }
            switch r {
            case .wouldBlock:
                readReady = false
                return
            case .processed(0):
                closeConnection()
                return
            case .processed(let n):
                totalBytes += n
                if totalBytes / 8 > payloadBytes + 1_048_576 {
                    client.logInfo("http2 flood detected")
                    nghttp2_session_terminate_session(s, NGHTTP2_NO_ERROR.rawValue)
                    goingAway = true
                    readReady = false
                    return
                }
                feed(UnsafeRawBufferPointer(start: buf.base, count: n))
                if closed { return }
            }
        }
    }

    /// Checks the client connection preface, then gives nghttp2 an empty SETTINGS frame
    /// in the client's name before the client's own frames: nginx does not insist on
    /// the client's SETTINGS coming first (nghttp2 does), so clients that send it late
    /// or never (nginx's own test client) are served. Its ACK is not sent.
    private func feed(_ bytes: UnsafeRawBufferPointer) {
        var rest = bytes
        if magicLeft > 0 {
            let preface = HTTP1Connection.http2Preface
            let n = min(magicLeft, rest.count)
            let start = preface.count - magicLeft
            if !rest.prefix(n).elementsEqual(preface[start..<start + n]) {
                client.logInfo("invalid http2 connection preface")
                closeConnection()
                return
            }
            magicLeft -= n
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            if magicLeft == 0 {
                let settings: [UInt8] = [0, 0, 0, 4, 0, 0, 0, 0, 0]
                droppedAcks = 1
                settings.withUnsafeBytes { feedSession($0) }
            }
        }
        if !rest.isEmpty && !closed { feedSession(rest) }
    }

    private func feedSession(_ bytes: UnsafeRawBufferPointer) {
        guard let s = session, let base = bytes.baseAddress else { return }
        let rv = nghttp2_session_mem_recv(s, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rv < 0 {
            if goingAway && rv == Int(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue) {
                // A connection error already logged and answered with GOAWAY by a callback.
                readReady = false
                return
            }
            client.logInfo("client sent invalid HTTP/2 data (\(String(cString: nghttp2_strerror(Int32(rv)))))")
            if rv == Int(NGHTTP2_ERR_FLOODED.rawValue) {
                closeConnection()
                return
            }
            // A GOAWAY is written (nghttp2's, or this one), then the connection closes:
            // the session wants neither to read nor to write any more.
            let code =
                rv == Int(NGHTTP2_ERR_TOO_MANY_CONTINUATIONS.rawValue)
                ? NGHTTP2_ENHANCE_YOUR_CALM.rawValue : NGHTTP2_PROTOCOL_ERROR.rawValue
            nghttp2_session_terminate_session(s, code)
            goingAway = true
            readReady = false
        }
    }

    /// Writes queued frames; more frames are taken from nghttp2 while the socket takes them.
    private func send() {
        guard let s = session else { return }
        while true {
            // A header block is queued whole (its frames are joined as they come).
            while pendingOut.readableCount < 65536 || openHeaderFrame >= 0 {
                var p: UnsafePointer<UInt8>? = nil
                let n = nghttp2_session_mem_send(s, &p)
                if n < 0 {
                    client.logInfo("HTTP/2 send failed (\(String(cString: nghttp2_strerror(Int32(n)))))")
                    closeConnection()
                    return
                }
                if n == 0 {
                    // Streams held back for nginx's order while nothing else went: sent now.
                    if priorityHeld.isEmpty { break }
                    resumePriorityHeld()
                    priorityPass = true
                    continue
                }
                if !priorityHeld.isEmpty { resumePriorityHeld() }
                let frame = UnsafeRawBufferPointer(start: p, count: n)
                if droppedAcks > 0 && frame.elementsEqual(Self.settingsAck) {
                    droppedAcks -= 1
                    continue
                }
                queueFrame(frame)
            }
            openHeaderFrame = -1
            priorityPass = false
            if pendingOut.readableCount == 0 { return }
            do {
                switch try client.transport.write(pendingOut.base + pendingOut.readerIndex, pendingOut.readableCount) {
                case .wouldBlock:
                    return
                case .processed(0):
                    // The TLS session is closed (the peer went away): nothing more can
                    // be written, and trying again would spin.
                    closeConnection()
                    return
                case .processed(let n):
                    pendingOut.readerIndex += n
                    if n > 0 { sendDeadline = 0 }
                    if pendingOut.readableCount == 0 { pendingOut.clear() }
                }
            } catch {
                client.logInfo("\(error) while sending to client")
                closeConnection()
                return
            }
        }
    }

    // MARK: streams

    /// Starts the requests whose heads arrived.
    private func startReady() {
        while !ready.isEmpty {
            let batch = ready
            ready.removeAll()
            for stream in batch where !stream.closed { begin(stream) }
        }
    }

    private func begin(_ stream: HTTP2Stream) {
        requests += 1
        payloadBytes += stream.requestLength
        client.stats.bump(client.stats.requests)
        stream.started = true
        stream.deadline = 0
        let r = stream.request
        r.connection = client
        r.stream = stream
        r.headBase = 0
        r.connectionRequests = requests
        r.shuttingDown = goingAway
        stream.writer.beginResponse()
        var options = client.parserOptions
        if stream.addedHost { options.maxHeaders += 1 }
        options.controlsInValues = true
        var parser = RequestParser(options: options)
        let parsed =
            stream.rejection.map { RequestParseResult.error($0) } ?? parser.parse(stream.input.readable, into: &r.head)
        switch parsed {
        case .complete where stream.headEndedStream && (r.head.contentLength ?? 0) > 0:
            r.head.headLength = 0
            ErrorPages.reject(r, .badRequest("client prematurely closed stream"), server: client.group.defaultServer)
        case .complete:
            // `$request` as nginx writes it for HTTP/2: "GET / HTTP/2.0".
            let end = r.head.requestLine.upperBound
            stream.input.base.storeBytes(of: UInt8(ascii: "2"), toByteOffset: end - 3, as: UInt8.self)
            stream.input.base.storeBytes(of: UInt8(ascii: "0"), toByteOffset: end - 1, as: UInt8.self)
            r.begin(group: client.group)
        case .incomplete:
            r.head.headLength = 0
            ErrorPages.reject(r, .badRequest("client sent invalid header"), server: client.group.defaultServer)
        case .error(let e):
            r.head.headLength = 0
            ErrorPages.reject(r, e, server: client.group.defaultServer)
        }
        // keepalive_requests, keepalive_timeout 0 and keepalive_time of the location:
        // no stream after this one (GOAWAY once it is answered).
        if let l = r.location?.settings {
            if requests >= l.keepaliveRequests || l.keepaliveTimeout == 0
                || worker.now - client.acceptedAt >= Int64(l.keepaliveTime)
            {
                closeGracefully()
            }
        }
        if stream.active {
            // As HTTP/1's `.active` state: the content handler runs at once.
            wantsResume(stream)
        } else {
            stream.finished = true
            stream.answerComplete = true
        }
        dataReady(stream)
    }

    /// A stream's answer has new bytes (or ended).
    func dataReady(_ stream: HTTP2Stream) {
        dataPending.append(stream)
    }

    /// A stream's body broke its length (answered 400 in `pump`).
    func bodyFailed(_ stream: HTTP2Stream) {
        bodyFaults.append(stream)
        again = true
    }

    /// A stream's waiting content handler can go on (body bytes came, or room to write).
    func wantsResume(_ stream: HTTP2Stream) {
        stream.waiting = false
        resumable.append(stream)
        // Asked from inside `send` (a DATA frame made room): one more turn resumes it.
        again = true
    }

    /// Resumes waiting handlers, moves answers into the streams, submits heads and
    /// resumes deferred DATA.
    private func pump() {
        if !bodyFaults.isEmpty {
            let batch = bodyFaults
            bodyFaults.removeAll()
            for stream in batch { stream.answerBodyFault() }
        }
        while !resumable.isEmpty {
            let batch = resumable
            resumable.removeAll()
            for stream in batch where !stream.closed && stream.active { _ = stream.request.resume() }
        }
        while !dataPending.isEmpty {
            let batch = dataPending
            dataPending.removeAll()
            for stream in batch where !stream.closed {
                if !stream.active { stream.pumpWriter() }
                if stream.headParsed && !stream.headSubmitted { submitHead(stream) }
                if stream.answerComplete && !stream.headSubmitted && !stream.active && stream.writer.isDrained {
                    // Answered without a response (`return 444`, a client gone): the
                    // stream is reset, as nginx closes an HTTP/1 connection then.
                    reset(stream, code: NGHTTP2_INTERNAL_ERROR.rawValue)
                    continue
                }
                if stream.headSubmitted && stream.dataDeferred, let s = session {
                    stream.dataDeferred = false
                    nghttp2_session_resume_data(s, stream.id)
                }
            }
        }
    }

    private func submitHead(_ stream: HTTP2Stream) {
        guard let s = session else { return }
        stream.headSubmitted = true
        if stream.status == 408 && !stream.endStreamReceived {
            // client_body_timeout: the stream is reset (PROTOCOL_ERROR), as nginx does.
            stream.noBody = true
            nghttp2_submit_rst_stream(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_PROTOCOL_ERROR.rawValue)
            return
        }
        var statusText: (UInt8, UInt8, UInt8) = (
            UInt8(truncatingIfNeeded: 0x30 + stream.status / 100 % 10),
            UInt8(truncatingIfNeeded: 0x30 + stream.status / 10 % 10),
            UInt8(truncatingIfNeeded: 0x30 + stream.status % 10)
        )
        let noBody =
            stream.noBody
            || stream.drained && stream.out.readableCount == 0 && stream.writer.isDrained
                && !stream.hasTrailers
        stream.headerBlock.withUnsafeMutableBufferPointer { block in
            withUnsafeMutableBytes(of: &statusText) { st in
                var nva = nvScratch
                nvScratch = []
                nva.removeAll(keepingCapacity: true)
                defer { nvScratch = nva }
                nva.append(Self.nv(":status", st.baseAddress!.assumingMemoryBound(to: UInt8.self), 3))
                let base = block.baseAddress ?? UnsafeMutablePointer<UInt8>(bitPattern: 1)!
                for (n, v) in stream.headerOffsets {
                    nva.append(
                        nghttp2_nv(
                            name: base + n.lowerBound, value: base + v.lowerBound, namelen: n.count,
                            valuelen: v.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue)))
                }
                if noBody {
                    nghttp2_submit_response(s, stream.id, nva, nva.count, nil)
                } else {
                    var provider = nghttp2_data_provider(
                        source: nghttp2_data_source(ptr: nil), read_callback: h2ReadData)
                    nghttp2_submit_response(s, stream.id, nva, nva.count, &provider)
                }
            }
        }
    }

    private static func nv(_ name: StaticString, _ value: UnsafeMutablePointer<UInt8>, _ count: Int) -> nghttp2_nv {
        nghttp2_nv(
            name: UnsafeMutablePointer(mutating: name.utf8Start), value: value, namelen: name.utf8CodeUnitCount,
            valuelen: count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
    }

    /// Resets a stream (RST_STREAM); its request ends when nghttp2 reports it closed.
    func reset(_ stream: HTTP2Stream, code: UInt32) {
        stream.noBody = true
        stream.headSubmitted = true
        if let s = session { nghttp2_submit_rst_stream(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, code) }
        drive()
    }

    /// A stream closed (both halves done, reset by the client, or refused).
    func streamClosed(_ stream: HTTP2Stream, errorCode: UInt32) {
        guard !stream.closed else { return }
        stream.closed = true
        if stream.started && !stream.drained {
            if errorCode != 0 {
                client.logInfo("client prematurely closed stream")
            }
            stream.request.aborted = true
            if stream.request.status == 0 { stream.request.status = 499 }
            stream.request.abandon()
        }
        ended.append(stream)
    }

    func releaseEnded() {
        guard !ended.isEmpty else { return }
        let batch = ended
        ended.removeAll()
        for stream in batch {
            finish(stream)
            streams[stream.id] = nil
            if lastStream === stream { lastStream = nil }
        }
        if streams.isEmpty { idleSince = worker.now }
    }

    /// The log phase of a stream's request, and its resources released.
    func finish(_ stream: HTTP2Stream) {
        if stream.started && !stream.logged {
            stream.logged = true
            stream.writer.releaseFile()
            stream.request.finalize()
            client.stats.bump(client.stats.finished)
        }
        stream.writer.releaseFile()
        stream.request.releaseContent()
        stream.request.stream = nil
    }
}
