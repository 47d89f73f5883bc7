// The nghttp2 session of an HTTP2Connection: its options (the flood guards), the
// server's SETTINGS, and the C callbacks through which nghttp2 reports decoded header
// fields, body bytes, complete frames and closed streams, and asks for DATA payload.
// The callbacks only record what happened; HTTP2Connection acts on it after nghttp2
// returns, so no request code runs inside nghttp2.
//
// Flood guards (each nghttp2's, set here): rapid reset (CVE-2023-44487) — at most
// 1000 stream resets at once then 33 a second, past that GOAWAY; CONTINUATION floods
// — at most 8 CONTINUATION frames per header block; SETTINGS floods — at most 32
// entries per frame; outbound ACK floods (PING, SETTINGS) — at most 1000 queued
// answers, then the connection is closed; the header list — large_client_header_buffers
// (ENHANCE_YOUR_CALM beyond it, as nginx); HPACK's dynamic table — 4096 bytes;
// streams — http2_max_concurrent_streams open at once.

import CNghttp2
import SwiftginxConfig
import SwiftginxHTTP

extension HTTP2Connection {
    func openSession() {
        var callbacks: OpaquePointer? = nil
        nghttp2_session_callbacks_new(&callbacks)
        defer { nghttp2_session_callbacks_del(callbacks) }
        nghttp2_session_callbacks_set_on_begin_frame_callback(callbacks, h2BeginFrame)
        nghttp2_session_callbacks_set_on_begin_headers_callback(callbacks, h2BeginHeaders)
        nghttp2_session_callbacks_set_on_header_callback(callbacks, h2Header)
        nghttp2_session_callbacks_set_on_frame_recv_callback(callbacks, h2FrameReceived)
        nghttp2_session_callbacks_set_on_data_chunk_recv_callback(callbacks, h2DataChunk)
        nghttp2_session_callbacks_set_on_stream_close_callback(callbacks, h2StreamClosed)
        nghttp2_session_callbacks_set_on_frame_send_callback(callbacks, h2FrameSent)
        nghttp2_session_callbacks_set_data_source_read_length_callback(callbacks, h2DataLength)

        var option: OpaquePointer? = nil
        nghttp2_option_new(&option)
        defer { nghttp2_option_del(option) }
        nghttp2_option_set_no_recv_client_magic(option, 1)
        // The request head is checked as nginx checks it (HTTP2Stream+Head.swift), and
        // the body's length against Content-Length (HTTP2Stream.receiveBody).
        nghttp2_option_set_no_http_messaging(option, 1)
        // WINDOW_UPDATEs as nginx sends them (HTTP2Stream+Body.swift).
        nghttp2_option_set_no_auto_window_update(option, 1)
        nghttp2_option_set_max_outbound_ack(option, 1000)
        nghttp2_option_set_max_settings(option, 32)
        nghttp2_option_set_max_continuations(option, 8)
        nghttp2_option_set_stream_reset_rate_limit(option, 1000, 33)
        nghttp2_option_set_max_deflate_dynamic_table_size(option, 4096)
        // Response heads as large as nginx sends them (split into CONTINUATION frames).
        nghttp2_option_set_max_send_header_block_length(option, 1 << 20)

        var s: OpaquePointer? = nil
        nghttp2_session_server_new2(&s, callbacks, Unmanaged.passUnretained(self).toOpaque(), option)
        session = s
        let concurrent = UInt32(clamping: settings.maxConcurrentStreams)
        var iv = [
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS.rawValue), value: concurrent),
            nghttp2_settings_entry(
                settings_id: Int32(NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE.rawValue),
                value: UInt32(clamping: settings.bodyPrereadSize)),
            nghttp2_settings_entry(settings_id: Int32(NGHTTP2_SETTINGS_MAX_FRAME_SIZE.rawValue), value: 16_777_215),
            // WebSockets over HTTP/2 (RFC 8441, HTTP2Stream+Tunnel.swift).
            nghttp2_settings_entry(settings_id: 8, value: 1),
        ]
        nghttp2_submit_settings(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), &iv, iv.count)
        // The connection window as nginx opens it: the largest there is.
        nghttp2_session_set_local_window_size(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), 0, Int32.max)
    }

    @inline(__always) static func from(_ userData: UnsafeMutableRawPointer?) -> HTTP2Connection {
        Unmanaged<HTTP2Connection>.fromOpaque(userData!).takeUnretainedValue()
    }

    @inline(__always) func stream(_ id: Int32) -> HTTP2Stream? {
        if let s = lastStream, s.id == id { return s }
        let s = streams[id]
        if s != nil { lastStream = s }
        return s
    }
}

/// Counts header block bytes for `$request_length` (the stream does not exist yet when
/// its HEADERS frame begins).
private func h2BeginFrame(
    _ session: OpaquePointer?, _ hd: UnsafePointer<nghttp2_frame_hd>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let hd else { return 0 }
    let c = HTTP2Connection.from(userData)
    let sid = hd.pointee.stream_id
    switch UInt32(hd.pointee.type) {
    case NGHTTP2_HEADERS.rawValue:
        // nginx ends the connection at the frame's header for a stream the client cannot
        // open (one not above the last, unless open: trailers); nghttp2 would answer
        // STREAM_CLOSED or ignore it.
        if sid & 1 == 1 && sid <= c.lastStreamID && c.stream(sid) == nil {
            c.client.logInfo(
                "client sent HEADERS frame with incorrect identifier \(sid), the last was \(c.lastStreamID)")
            nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR.rawValue)
            c.goingAway = true
            return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
        }
        c.lastStreamID = max(c.lastStreamID, sid)
        c.headerFrameBytes = hd.pointee.length
    case NGHTTP2_PUSH_PROMISE.rawValue:
        // A client never pushes: PROTOCOL_ERROR at once, without waiting for the payload.
        c.client.logInfo("client sent PUSH_PROMISE frame")
        nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR.rawValue)
        c.goingAway = true
        return Int32(NGHTTP2_ERR_CALLBACK_FAILURE.rawValue)
    case NGHTTP2_CONTINUATION.rawValue: c.stream(hd.pointee.stream_id)?.requestLength += hd.pointee.length
    default: break
    }
    return 0
}

private func h2BeginHeaders(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let c = HTTP2Connection.from(userData)
    let hd = frame.pointee.hd
    guard hd.type == UInt8(NGHTTP2_HEADERS.rawValue), frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST else {
        return 0
    }
    c.opened += 1
    if !c.settingsAcked && hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) == 0
        && c.settings.bodyPrereadSize < 65535
    {
        // A body could overrun a window smaller than the default the client may not
        // know yet: refused, as nginx does.
        c.client.logInfo("client sent stream with data before settings were acknowledged")
        nghttp2_submit_rst_stream(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), hd.stream_id, NGHTTP2_REFUSED_STREAM.rawValue)
        return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    if c.goingAway || c.opened > c.maxRequests {
        // keepalive_requests reached or going away: no new stream.
        nghttp2_submit_rst_stream(
            session, UInt8(NGHTTP2_FLAG_NONE.rawValue), hd.stream_id, NGHTTP2_REFUSED_STREAM.rawValue)
        return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    let stream = HTTP2Stream(connection: c, id: hd.stream_id)
    stream.requestLength = c.headerFrameBytes
    stream.deadline = c.worker.now + Int64(c.server.clientHeaderTimeout)
    c.streams[hd.stream_id] = stream
    return 0
}

private func h2Header(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ name: UnsafePointer<UInt8>?, _ nameLength: Int,
    _ value: UnsafePointer<UInt8>?, _ valueLength: Int, _ flags: UInt8, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let c = HTTP2Connection.from(userData)
    guard frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST, let stream = c.stream(frame.pointee.hd.stream_id)
    else { return 0 }
    let n = UnsafeRawBufferPointer(start: name, count: nameLength)
    let v = UnsafeRawBufferPointer(start: value, count: valueLength)
    switch stream.addField(name: n, value: v, limits: c.server) {
    case .ok:
        return 0
    case .tooLarge:
        c.client.logInfo("client sent too large header")
        nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
    case .fieldTooLarge:
        c.client.logInfo("client sent too large header field")
        nghttp2_session_terminate_session(session, NGHTTP2_ENHANCE_YOUR_CALM.rawValue)
    case .emptyName:
        c.client.logInfo("client sent zero header name length")
        nghttp2_session_terminate_session(session, NGHTTP2_PROTOCOL_ERROR.rawValue)
    }
    return Int32(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
}

private func h2FrameReceived(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let c = HTTP2Connection.from(userData)
    let hd = frame.pointee.hd
    if hd.type == UInt8(NGHTTP2_SETTINGS.rawValue) && hd.flags & UInt8(NGHTTP2_FLAG_ACK.rawValue) != 0 {
        c.settingsAcked = true
    }
    if hd.type == UInt8(NGHTTP2_PRIORITY.rawValue) || hd.type == UInt8(NGHTTP2_HEADERS.rawValue) {
        c.recordPriority(frame.pointee)
    }
    guard let stream = c.stream(hd.stream_id), !stream.closed else { return 0 }
    let endStream = hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0
    switch UInt32(hd.type) {
    case NGHTTP2_HEADERS.rawValue:
        if frame.pointee.headers.cat == NGHTTP2_HCAT_REQUEST {
            if endStream { stream.endStreamReceived = true }
            // The head (and the body's framing) is fixed before any DATA frame comes.
            stream.buildHead()
            c.ready.append(stream)
        } else if endStream {
            // Trailers end the body (their fields are not passed on).
            stream.receiveEnd()
            if stream.active { c.wantsResume(stream) }
        }
    case NGHTTP2_DATA.rawValue:
        if endStream {
            stream.receiveEnd()
            if stream.active { c.wantsResume(stream) }
        }
    default:
        break
    }
    return 0
}

private func h2DataChunk(
    _ session: OpaquePointer?, _ flags: UInt8, _ streamID: Int32, _ data: UnsafePointer<UInt8>?, _ length: Int,
    _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    let c = HTTP2Connection.from(userData)
    // The connection's window is given back at once (nginx keeps it wide open).
    nghttp2_session_consume_connection(session, length)
    c.payloadBytes += length
    guard let stream = c.stream(streamID), !stream.closed else { return 0 }
    stream.receiveBody(UnsafeRawBufferPointer(start: data, count: length))
    if stream.active && stream.waiting { c.wantsResume(stream) }
    return 0
}

private func h2StreamClosed(
    _ session: OpaquePointer?, _ streamID: Int32, _ errorCode: UInt32, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    let c = HTTP2Connection.from(userData)
    c.priorityTree?.streamClosed(streamID)
    if let stream = c.stream(streamID) { c.streamClosed(stream, errorCode: errorCode) }
    return 0
}

/// Our END_STREAM went out while the client is still sending its body: the stream is
/// reset with NO_ERROR (RFC 9113 §8.1), as nginx does, so the client stops (an open
/// WebSocket tunnel first waits for the client's END_STREAM).
private func h2FrameSent(
    _ session: OpaquePointer?, _ frame: UnsafePointer<nghttp2_frame>?, _ userData: UnsafeMutableRawPointer?
) -> Int32 {
    guard let frame else { return 0 }
    let c = HTTP2Connection.from(userData)
    let hd = frame.pointee.hd
    guard hd.flags & UInt8(NGHTTP2_FLAG_END_STREAM.rawValue) != 0, let stream = c.stream(hd.stream_id) else {
        return 0
    }
    if !stream.endStreamReceived && !stream.awaitClientEnd() {
        nghttp2_submit_rst_stream(session, UInt8(NGHTTP2_FLAG_NONE.rawValue), hd.stream_id, NGHTTP2_NO_ERROR.rawValue)
    }
    return 0
}

/// How large a DATA frame may be: http2_chunk_size, within the client's windows and
/// its SETTINGS_MAX_FRAME_SIZE (nghttp2 alone would stop at 16384).
private func h2DataLength(
    _ session: OpaquePointer?, _ type: UInt8, _ streamID: Int32, _ sessionWindow: Int32, _ streamWindow: Int32,
    _ maxFrame: UInt32, _ userData: UnsafeMutableRawPointer?
) -> Int {
    let c = HTTP2Connection.from(userData)
    let chunk = c.stream(streamID)?.chunkSize ?? 8192
    return max(1, min(chunk, Int(sessionWindow), Int(streamWindow), Int(maxFrame)))
}

/// nghttp2 asks for a DATA frame's payload.
func h2ReadData(
    _ session: OpaquePointer?, _ streamID: Int32, _ buf: UnsafeMutablePointer<UInt8>?, _ length: Int,
    _ flags: UnsafeMutablePointer<UInt32>?, _ source: UnsafeMutablePointer<nghttp2_data_source>?,
    _ userData: UnsafeMutableRawPointer?
) -> Int {
    let c = HTTP2Connection.from(userData)
    guard let stream = c.stream(streamID), !stream.closed, let buf, let flags else {
        return Int(NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE.rawValue)
    }
    if c.priorityTree != nil && c.yieldsPriority(stream) { return Int(NGHTTP2_ERR_DEFERRED.rawValue) }
    return stream.produce(buf, length, flags)
}
