// The HTTP/2 connection's timer and its end: one timer for the earliest stream
// deadline, keepalive_timeout with no stream open (client_header_timeout before the
// first), send_timeout while frames wait for a client that stopped reading; a graceful
// GOAWAY on reload and QUIT; closing and freeing the nghttp2 session. The loop and the
// streams are in HTTP2Connection.swift.

import CNghttp2
import SwiftginxPosix

extension HTTP2Connection {
    /// The connection's timer: the earliest stream deadline, or keepalive_timeout with
    /// no stream open, or send_timeout while frames wait for the socket.
    func armTimer() {
        var at = Int64.max
        for (_, stream) in streams where stream.deadline > 0 { at = min(at, stream.deadline) }
        if streams.isEmpty { at = min(at, idleSince + idleTimeout) }
        if pendingOut.readableCount > 0 {
            if sendDeadline == 0 {
                sendDeadline = worker.now + Int64(client.group.defaultServer.defaultSettings.sendTimeout)
            }
            at = min(at, sendDeadline)
        } else {
            sendDeadline = 0
        }
        if at == Int64.max { at = worker.now + Int64(server.keepaliveTimeout) }
        worker.schedule(client, after: Int(max(0, at - worker.now)))
    }

    /// How long the connection may stay without a stream: client_header_timeout before
    /// the first one, keepalive_timeout after (as an HTTP/1 connection waits).
    var idleTimeout: Int64 {
        Int64(opened == 0 ? server.clientHeaderTimeout : server.keepaliveTimeout)
    }

    func onTimeout() {
        let now = worker.now
        if sendDeadline > 0 && now >= sendDeadline && pendingOut.readableCount > 0 {
            // A client that stopped reading: nginx's send_timeout closes the connection.
            client.logInfo("client timed out (110: Connection timed out) while sending response to client")
            closeConnection()
            return
        }
        if streams.isEmpty && now >= idleSince + idleTimeout {
            closeGracefully()
            return
        }
        for (_, stream) in streams where stream.deadline > 0 && stream.deadline <= now && !stream.closed {
            stream.deadline = 0
            if stream.tunnelClosing {
                // A closed tunnel's client did not end its side in time.
                if let s = session {
                    nghttp2_submit_rst_stream(
                        s, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_NO_ERROR.rawValue)
                }
                continue
            }
            if !stream.started {
                // client_header_timeout: a header block still incomplete (nginx resets
                // the stream with PROTOCOL_ERROR and keeps the connection).
                client.logInfo("client timed out (110: Connection timed out) while reading client request headers")
                if let s = session {
                    nghttp2_submit_rst_stream(
                        s, UInt8(NGHTTP2_FLAG_NONE.rawValue), stream.id, NGHTTP2_PROTOCOL_ERROR.rawValue)
                }
                continue
            }
            if stream.request.rateWakeDue() {
                wantsResume(stream)
                continue
            }
            stream.request.onTimeout()
            // A delay that ended (limit_req) may have started a content handler that
            // waits to be driven, as a new stream's is (`begin`).
            if stream.active { wantsResume(stream) }
            dataReady(stream)
        }
        drive()
    }

    /// GOAWAY, then close once the open streams are answered (graceful stop, reload's
    /// old connections, keepalive_timeout).
    func closeGracefully() {
        guard !closed, let s = session else { return }
        if !goingAway {
            goingAway = true
            nghttp2_submit_goaway(
                s, UInt8(NGHTTP2_FLAG_NONE.rawValue), nghttp2_session_get_last_proc_stream_id(s),
                NGHTTP2_NO_ERROR.rawValue, nil, 0)
        }
        drive()
    }

    /// Graceful stop of the worker: GOAWAY, and the connection closes once no stream
    /// is still producing its answer, even if a client's window holds the rest back,
    /// as nginx closes an HTTP/2 connection whose requests are all finalized.
    func shutDown() {
        stopping = true
        closeGracefully()
    }

    var stoppingProduced: Bool {
        stopping && streams.values.allSatisfy { $0.finished && !$0.active }
    }

    func closeConnection() {
        if closed { return }
        closed = true
        for (_, stream) in streams {
            streamClosed(stream, errorCode: NGHTTP2_CANCEL.rawValue)
        }
        releaseEnded()
        client.close()
    }

    /// Frees the nghttp2 session (the client connection is closing).
    func teardown() {
        closed = true
        for (_, stream) in streams {
            streamClosed(stream, errorCode: NGHTTP2_CANCEL.rawValue)
        }
        if !ended.isEmpty {
            let batch = ended
            ended.removeAll()
            for stream in batch { finish(stream) }
        }
        streams.removeAll()
        lastStream = nil
        if let s = session {
            nghttp2_session_del(s)
            session = nil
        }
    }
}
