// The HTTP/2 client session of an upstream connection (`proxy_http_version 2`), on
// libnghttp2 (framing, HPACK, flow control: nothing of it is written here). One stream
// at a time, as nginx's proxy_v2 module does: the session lives with its
// UpstreamConnection, so a connection kept in the keep-alive cache carries its session
// (and the next request opens the next stream on it). The request head the exchange
// built for HTTP/1.1 (UpstreamRequestBuilder) becomes the HEADERS list: the request
// line gives :method and :path, Host gives :authority, the connection-specific fields
// are dropped. The response's HEADERS become an HTTP/1.1 head ("HTTP/1.1 200 OK" and
// the fields) and its DATA the body bytes, written into the response's input buffer,
// so that the head parser, headers processing, caching and the relay run unchanged
// (ProxyExchange+HTTP2.swift). The callbacks only record what happened.

import CNghttp2
import SwiftginxHTTP

final class UpstreamHTTP2 {
    private(set) var session: OpaquePointer? = nil
    /// The exchange whose request is on the current stream (the body's source).
    weak var exchange: ProxyExchange? = nil
    /// The current stream (-1: none yet).
    var streamID: Int32 = -1
    /// Where decoded response bytes go while nghttp2 reads (the response's input buffer).
    var sink: ByteBuffer? = nil

    // The current stream's answer.
    /// The fields of the head being received, as HTTP/1 lines.
    var fields: [UInt8] = []
    /// The answer's trailer fields (after its DATA), as HTTP/1 lines.
    var trailers: [UInt8] = []
    var status = 0
    /// The final (non-1xx) head was written to the sink.
    var headDone = false
    /// END_STREAM came from the upstream.
    var ended = false
    /// Our END_STREAM went out (the whole request body is sent).
    var requestEnded = false
    /// The stream was reset or refused (RST_STREAM's code, or the code it closed with).
    var resetCode: UInt32? = nil
    /// A RST_STREAM NO_ERROR came after the upstream's END_STREAM (one is allowed).
    var resetAfterEnd = false
    /// The upstream sent GOAWAY: no further stream on this connection.
    var goaway = false
    var goawayCode: UInt32 = 0
    /// An invalid answer: the error-log line (without its context).
    var failure: String? = nil
    /// The request body's source has nothing now (a streamed body): resume when it has.
    var deferred = false
    /// The request has a body (a DATA provider was given).
    var hasBody = false
    /// `proxy_set_body`: where the next body byte is in the exchange's request head
    /// buffer (-1: the body is the client's).
    var inlineBodyAt = -1
    /// The largest head accepted (proxy_buffer_size): a longer header list is refused
    /// before it is all received.
    var maxHead = 8192
    /// Upstream bytes being fed to nghttp2 (they are moved out of the input buffer first).
    var scratch: [UInt8] = []
    /// Frames taken from nghttp2 and not written yet.
    let pendingOut = ByteBuffer(capacity: 0)

    init() {
        var callbacks: OpaquePointer? = nil
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, upstreamH2BeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, upstreamH2Header)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, upstreamH2FrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, upstreamH2DataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, upstreamH2StreamClosed)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, upstreamH2FrameSent)

        var option: OpaquePointer? = nil
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        // The upstream's answers are what we asked for: bounded like a client's floods.
        nghttp2_option_set_max_outbound_ack(option, 1000)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_send_header_block_length(option, 1 << 20)
        // A header block in more than 64 CONTINUATION frames is a flood, not an answer.
        nghttp2_option_set_max_continuations(option, 64)
        var s: OpaquePointer? = nil
        nghttp2_session_client_new2(&s, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        session = s
        // nginx's connection start: no push, the largest windows. (nginx also asks for no
        // HPACK table, but does not hold the upstream to the table size update that
        // RFC 7541 then requires, which nghttp2 does: the default table is kept.)
        var iv = [
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_ENABLE_PUSH.rawValue), value: 0),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue), value: UInt32(Int32.max)),
        ]
        nghttp2_submit_settings(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), &iv, iv.count)
        nghttp2_session_set_local_window_size(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32.max)
    }

    deinit {
        if let s = session { nghttp2_session_del(s) }
    }

    /// Whether a new stream may be opened on this connection (keep-alive reuse).
    var reusable: Bool {
        guard let s = session, !goaway, failure == nil else { return false }
        return ended && requestEnded && resetCode == nil && pendingOut.readableCount == 0
            && nghttp2_session_want_read(s) != 0 && streamID < Int32.max - 2
    }

    /// The session still reads: false once it has ended the connection (a protocol
    /// error it found, answered with GOAWAY).
    var alive: Bool { session.map { nghttp2_session_want_read($0) != 0 } ?? false }

    /// Clears the per-stream state before a request.
    func beginStream() {
        streamID = -1
        fields.removeAll(keepingCapacity: true)
        trailers.removeAll(keepingCapacity: true)
        status = 0
        headDone = false
        ended = false
        requestEnded = false
        resetCode = nil
        resetAfterEnd = false
        failure = nil
        deferred = false
        hasBody = false
        inlineBodyAt = -1
    }

    // MARK: the request

    private static let dropped: [[UInt8]] = [
        "host", "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "expect",
    ].map { Array($0.utf8) }

    /// Submits the request whose HTTP/1.1 head (and `proxy_set_body` body after it) is in
    /// `head`; `body`: a DATA provider follows. Returns the number of head bytes used
    /// (what follows is the body that proxy_set_body wrote into the buffer), or nil when
    /// the head cannot be sent (logged by the caller).
    func submitRequest(head: UnsafeRawBufferPointer, scheme: StaticString, authority: [UInt8], body: Bool) -> Int? {
        guard let s = session else { return nil }
        // Lines: the request line, then fields, up to the empty line.
        var lines: [Range<Int>] = []
        var start = 0
        var end = -1
        var i = 0
        while i + 1 < head.count {
            if head[i] == 13 && head[i + 1] == 10 {
                if i == start {
                    end = i + 2
                    break
                }
                lines.append(start..<i)
                start = i + 2
                i += 2
                continue
            }
            i += 1
        }
        guard end > 0, let requestLine = lines.first else { return nil }
        let line = head[requestLine]
        guard let sp1 = line.firstIndex(of: 32), let sp2 = line.lastIndex(of: 32), sp1 < sp2 else { return nil }
        // Lowercased field names and their values, kept alive while nghttp2 copies them.
        var store: [UInt8] = []
        var spans: [(Range<Int>, Range<Int>)] = []
        func add(_ name: some Collection<UInt8>, _ value: some Collection<UInt8>, lower: Bool) {
            let n = store.count
            if lower {
                for c in name { store.append(c >= 65 && c <= 90 ? c | 0x20 : c) }
            } else {
                store.append(contentsOf: name)
            }
            let v = store.count
            store.append(contentsOf: value)
            spans.append((n..<v, v..<store.count))
        }
        add(":method".utf8, head[line.startIndex..<sp1], lower: false)
        add(
            ":scheme".utf8, UnsafeRawBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount),
            lower: false)
        add(":path".utf8, head[(sp1 + 1)..<sp2], lower: false)
        var host: Slice<UnsafeRawBufferPointer>? = nil
        var regular: [(Slice<UnsafeRawBufferPointer>, Slice<UnsafeRawBufferPointer>)] = []
        for r in lines.dropFirst() {
            let l = head[r]
            guard let colon = l.firstIndex(of: UInt8(ascii: ":")) else { continue }
            let name = head[l.startIndex..<colon]
            var v = colon + 1
            while v < l.endIndex && (head[v] == 32 || head[v] == 9) { v += 1 }
            let value = head[v..<l.endIndex]
            if asciiCaseEqual(name, Self.dropped[0]) {
                host = value
                continue
            }
            if Self.dropped.contains(where: { asciiCaseEqual(name, $0) }) { continue }
            regular.append((name, value))
        }
        if let host, !host.isEmpty {
            add(":authority".utf8, host, lower: false)
        } else {
            add(":authority".utf8, authority, lower: false)
        }
        for (name, value) in regular { add(name, value, lower: true) }
        beginStream()
        hasBody = body
        let id: Int32 = store.withUnsafeMutableBufferPointer { b in
            let nva = spans.map { n, v in
                nghttp2_nv(
                    name: b.baseAddress! + n.lowerBound, value: b.baseAddress! + v.lowerBound, namelen: n.count,
                    valuelen: v.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            if body {
                var provider = nghttp2_data_provider(
                    source: nghttp2_data_source(ptr: nil), read_callback: upstreamH2ReadBody)
                return nghttp2_submit_request(s, nil, nva, nva.count, &provider, nil)
            }
            return nghttp2_submit_request(s, nil, nva, nva.count, nil, nil)
        }
        guard id > 0 else { return nil }
        streamID = id
        return end
    }

    /// The streamed body has more: DATA frames may go on.
    func resumeBody() {
        guard deferred, let s = session, streamID > 0 else { return }
        deferred = false
        nghttp2_session_resume_data(s, streamID)
    }

    // MARK: frames in and out

    /// Feeds upstream bytes to nghttp2 (decoded output goes to `sink`); nil when the
    /// connection is broken (nghttp2's reason).
    func receive(_ bytes: UnsafeRawBufferPointer) -> String? {
        guard let s = session, let base = bytes.baseAddress else { return nil }
        let rv = nghttp2_session_mem_recv(s, base.assumingMemoryBound(to: UInt8.self), bytes.count)
        if rv < 0 { return String(cString: nghttp2_strerror(Int32(rv))) }
        return nil
    }

    /// Takes frames from nghttp2 into `pendingOut`, up to about 64 KiB; false on a failure.
    func takeFrames() -> Bool {
        guard let s = session else { return false }
        while pendingOut.readableCount < 65536 {
            var p: UnsafePointer<UInt8>? = nil
            let n = nghttp2_session_mem_send(s, &p)
            if n < 0 { return false }
            if n == 0 { break }
            if pendingOut.readableCount == 0 { pendingOut.clear() }
            pendingOut.reserve(n)
            pendingOut.append(UnsafeRawBufferPointer(start: p, count: n))
        }
        return true
    }

    // MARK: the answer, written as HTTP/1.1

    fileprivate func headerField(_ name: UnsafeRawBufferPointer, _ value: UnsafeRawBufferPointer) {
        guard failure == nil else { return }
        if headDone {
            // Trailers (kept for proxy_pass_trailers), bounded as the head is.
            guard name.first != UInt8(ascii: ":"), trailers.count + name.count + value.count + 4 <= maxHead else {
                return
            }
            trailers.append(contentsOf: name)
            trailers.append(UInt8(ascii: ":"))
            trailers.append(UInt8(ascii: " "))
            trailers.append(contentsOf: value)
            trailers.append(13)
            trailers.append(10)
            return
        }
        if name.first == UInt8(ascii: ":") {
            guard name.elementsEqual(":status".utf8) else {
                failure = "upstream sent invalid header \"\(text(name)): \(text(value))\""
                return
            }
            if status != 0 {
                failure = "upstream sent duplicate :status header"
                return
            }
            guard value.count == 3, value.allSatisfy({ $0 >= 48 && $0 <= 57 }) else {
                failure = "upstream sent invalid :status \"\(text(value))\""
                return
            }
            let code = Int(value[0] - 48) * 100 + Int(value[1] - 48) * 10 + Int(value[2] - 48)
            if code < 200 && code != 103 {
                failure = "upstream sent unexpected :status \"\(text(value))\""
                return
            }
            status = code
            return
        }
        if status == 0 {
            failure = "upstream sent no :status header"
            return
        }
        if fields.count + name.count + value.count + 4 > maxHead {
            failure = "upstream sent too big header"
            return
        }
        fields.append(contentsOf: name)
        fields.append(UInt8(ascii: ":"))
        fields.append(UInt8(ascii: " "))
        fields.append(contentsOf: value)
        fields.append(13)
        fields.append(10)
    }

    /// A response head is complete: "HTTP/1.1 <status> <reason>", its fields, the empty line.
    fileprivate func headComplete(endStream: Bool) {
        guard failure == nil, let out = sink else { return }
        if status == 0 {
            failure = "upstream sent no :status header"
            return
        }
        if status == 103 && endStream {
            failure = "upstream prematurely closed stream"
            return
        }
        let line = HTTPStatus.statusLine(status)
        out.reserve(line.count + fields.count + 2)
        out.append(line)
        out.append(fields)
        out.append("\r\n")
        fields.removeAll(keepingCapacity: true)
        if status != 103 { headDone = true }
        status = 0
    }

    fileprivate func data(_ bytes: UnsafeRawBufferPointer) {
        guard failure == nil, let out = sink else { return }
        if !headDone {
            failure = "upstream sent unexpected http2 frame: 0"
            return
        }
        out.reserve(bytes.count)
        out.append(bytes)
    }

    private func text(_ b: UnsafeRawBufferPointer) -> String { String(decoding: b, as: UTF8.self) }

    fileprivate static func from(_ userData: UnsafeMutableRawPointer?) -> UpstreamHTTP2 {
        Unmanaged<UpstreamHTTP2>.fromOpaque(userData!).takeUnretainedValue()
    }
}

private func upstreamH2BeginHeaders(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let h = UpstreamHTTP2.from(userData)
    if frame.pointee.hd.stream_id == h.streamID && !h.headDone { h.fields.removeAll(keepingCapacity: true) }
    return 0
}

private func upstreamH2Header(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
    _ value: UnsafePointer<UInt8>?, _ valueLength: Int, _ flags: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let h = UpstreamHTTP2.from(userData)
    guard frame.pointee.hd.stream_id == h.streamID else { return 0 }
    h.headerField(
        UnsafeRawBufferPointer(start: name, count: nameLength), UnsafeRawBufferPointer(start: value, count: valueLength)
    )
    // A refused answer: nghttp2 resets the stream and reads no more of it.
    return h.failure == nil ? 0 : Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
}

private func upstreamH2FrameReceived(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let h = UpstreamHTTP2.from(userData)
    let hd = frame.pointee.hd
    let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    switch UInt32(hd.type) {
    case NGHTTP2_GOAWAY.rawValue:
        h.goaway = true
        h.goawayCode = frame.pointee.goaway.error_code
        return 0
    case NGHTTP2_HEADERS.rawValue where hd.stream_id == h.streamID:
        if !h.headDone { h.headComplete(endStream: endStream) }
        if endStream { h.ended = true }
    case NGHTTP2_DATA.rawValue where hd.stream_id == h.streamID:
        if endStream { h.ended = true }
    case NGHTTP2_RST_STREAM.rawValue where hd.stream_id == h.streamID:
        if !h.ended || frame.pointee.rst_stream.error_code != NGHTTP2_NO_ERROR.rawValue {
            h.resetCode = frame.pointee.rst_stream.error_code
        } else if h.resetAfterEnd {
            // A second one, on a stream already closed both ways: an error, as nginx.
            if h.failure == nil { h.failure = "upstream sent frame for closed stream \(hd.stream_id)" }
        } else {
            h.resetAfterEnd = true
        }
    default:
        break
    }
    return 0
}

private func upstreamH2DataChunk(
    _ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32, _ data: UnsafePointer<UInt8>?, _ length: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    let h = UpstreamHTTP2.from(userData)
    guard streamID == h.streamID else { return 0 }
    h.data(UnsafeRawBufferPointer(start: data, count: length))
    return 0
}

private func upstreamH2StreamClosed(
    _ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    let h = UpstreamHTTP2.from(userData)
    guard streamID == h.streamID else { return 0 }
    if !h.ended && h.resetCode == nil {
        // Closed before its end: refused by GOAWAY, or an error nghttp2 found.
        h.resetCode = errorCode == 0 ? NGHTTP2_REFUSED_STREAM.rawValue : errorCode
    }
    // Our half is over too (a body not yet sent never will be).
    h.requestEnded = true
    return 0
}

private func upstreamH2FrameSent(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let h = UpstreamHTTP2.from(userData)
    let hd = frame.pointee.hd
    if hd.stream_id == h.streamID && hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0 {
        h.requestEnded = true
    }
    return 0
}

/// DATA payload of the request body: the exchange copies what it has (memory, file,
/// or the streamed piece); nothing now defers the stream until `resumeBody`.
private func upstreamH2ReadBody(
    _ session: OpaquePointer?, _ streamID: Int32, _ buf: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    let h = UpstreamHTTP2.from(userData)
    guard streamID == h.streamID, let x = h.exchange, let buf, let flags else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    switch x.http2BodyBytes(into: UnsafeMutableRawPointer(buf), max: length) {
    case .bytes(let n, let last):
        if last { flags.pointee |= NGHTTP2_DATA_FLAG_EOF.rawValue }
        return n
    case .later:
        h.deferred = true
        return Int(NGHTTP2_ERR_DEFERRED.rawValue)
    case .failed:
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
}
