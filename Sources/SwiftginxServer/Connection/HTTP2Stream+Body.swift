// The request body of an HTTP/2 stream: the payload of its DATA frames, handed to the
// request in the framing its head announces (Content-Length, or chunked when the
// client sent no length; the body ends with END_STREAM). The length is checked as
// nginx checks it: more bytes than Content-Length declares ("client intended to send
// body data larger than declared") or END_STREAM before all of them ("client
// prematurely closed stream: only N out of M bytes of request body received") answers
// the stream 400 if its request reads the body (a proxy: the upstream request is
// abandoned, even when the whole body has gone up already); the offending frame's
// bytes are not passed on.
//
// Flow control is nginx's (the server sends its WINDOW_UPDATEs itself): until the
// request reads its body a client may send `http2_body_preread_size` bytes (the initial
// stream window). When the request starts reading a buffered body the stream's window
// opens to the largest there is (2^31-1, as nginx's "no flow control" for a body read
// whole); a body streamed upstream (`proxy_request_buffering off`) keeps the preread
// window and gets it back as the upstream takes the bytes, so memory stays bounded.
// The connection's window is given back as DATA arrives.

import CNghttp2
import SwiftginxHTTP
import SwiftginxPosix

extension HTTP2Stream {
    /// The head did not end the stream and it is no tunnel: a body follows, ended by
    /// END_STREAM whatever Content-Length says (as nginx reads it).
    var hasOpenBody: Bool { !headEndedStream && !isTunnel }

    /// Body bytes from a DATA frame.
    func receiveBody(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty, !bodyFault else { return }
        requestLength += bytes.count
        bodyReceived += Int64(bytes.count)
        if let declared = declaredLength, bodyReceived > declared {
            failBody("client intended to send body data larger than declared")
            return
        }
        if chunkedBody {
            var size: [UInt8] = []
            var n = bytes.count
            repeat {
                let d = n & 15
                size.append(UInt8(d < 10 ? 48 + d : 87 + d))
                n >>= 4
            } while n > 0
            bodyIn.append(Array(size.reversed()))
            bodyIn.append("\r\n")
            bodyIn.append(bytes)
            bodyIn.append("\r\n")
        } else {
            bodyIn.append(bytes)
        }
    }

    /// The client's END_STREAM.
    func receiveEnd() {
        endStreamReceived = true
        if let declared = declaredLength, bodyReceived < declared, !bodyFault, !headEndedStream {
            failBody(
                "client prematurely closed stream: only \(bodyReceived) out of \(declared) bytes of request body received"
            )
            return
        }
        if chunkedBody { bodyIn.append("0\r\n\r\n") }
    }

    /// The body broke its length: logged now, answered once nghttp2 has returned.
    private func failBody(_ message: String) {
        bodyFault = true
        connection.client.logInfo(message)
        // The bytes of the frame that broke it are not passed on (those before stay).
        connection.bodyFailed(self)
    }

    /// A stream whose body broke its length, its request reading it and no answer
    /// begun: the content handler is stopped and the stream answered 400.
    func answerBodyFault() {
        guard started, !closed, active, !headParsed, !finished else { return }
        request.abandon()
        request.keepAlive = false
        request.status = 0
        request.respondError(400)
    }

    /// The request reads its body: the stream's window as nginx opens it then.
    private func startReading() {
        guard !readingBody else { return }
        readingBody = true
        guard !endStreamReceived, !closed, let s = connection.session else { return }
        // A streamed body and a tunnel keep the preread window, given back as read.
        if isTunnel || request.proxy?.streaming == true { return }
        // As nginx: the client's window (the preread size less what came) up to 2^31-1.
        let window = Int64(connection.settings.bodyPrereadSize) - bodyReceived
        let delta = Int64(Int32.max) - window
        if delta > 0 && delta <= Int64(Int32.max) {
            nghttp2_submit_window_update(s, UInt8(NGHTTP2_FLAG_NONE.rawValue), id, Int32(delta))
        }
        connection.again = true
    }

    /// Gives the client back the window of the body bytes the request has taken.
    private func consumed() {
        guard let s = connection.session, !closed else { return }
        let due = bodyReceived - bodyConsumed - Int64(bodyIn.readableCount)
        guard due > 0 else { return }
        bodyConsumed += due
        nghttp2_session_consume_stream(s, id, Int(due))
        connection.again = true
    }

    func readBody(_ buf: UnsafeMutableRawPointer, _ count: Int) -> IOResult<Int> {
        startReading()
        if bodyFault {
            // Answered 400 once the reader has returned (answerBodyFault).
            waiting = true
            connection.bodyFailed(self)
            return .wouldBlock
        }
        if bodyIn.readableCount == 0 {
            if endStreamReceived || closed { return .processed(0) }
            waiting = true
            return .wouldBlock
        }
        let n = min(count, bodyIn.readableCount)
        buf.copyMemory(from: bodyIn.base + bodyIn.readerIndex, byteCount: n)
        bodyIn.readerIndex += n
        if bodyIn.readableCount == 0 { bodyIn.clear() }
        consumed()
        return .processed(n)
    }

    func takeBufferedBody(_ body: (UnsafeRawBufferPointer) -> Void) {
        startReading()
        guard bodyIn.readableCount > 0 else { return }
        body(bodyIn.readable)
        bodyIn.clear()
        consumed()
    }
}
