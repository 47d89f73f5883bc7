// What a stream's Request asks of the connection below (Request+Downstream.swift):
// the answer is ready or comes later, a timer, bytes written outside the writer (a
// proxied body, a spooled file region), the end of an answer produced by events; and
// the 421 a stream gets when its Host picks a server without HTTP/2.

import CNghttp2
import Glibc
import SwiftginxConfig
import SwiftginxPosix

extension HTTP2Stream {
    /// The content handler answers later, driven by events.
    func activate() { active = true }

    /// The writer holds the whole answer now.
    func respond() {
        active = false
        finished = true
        connection.dataReady(self)
        connection.drive()
    }

    /// The active content handler has written its whole answer.
    func contentFinished() {
        active = false
        finished = true
        answerComplete = true
        deadline = 0
        if request.aborted && !closed {
            // The answer cannot be completed (a timeout, an upstream cut short): the
            // stream is reset, as HTTP/1 would close the connection.
            let code = request.status == 408 ? NGHTTP2_PROTOCOL_ERROR : NGHTTP2_INTERNAL_ERROR
            connection.reset(self, code: code.rawValue)
            return
        }
        connection.dataReady(self)
        connection.drive()
    }

    func schedule(after ms: Int) {
        deadline = connection.worker.now + Int64(ms)
    }

    /// Bytes of the answer written by a content handler (the head, a proxied body).
    func write(_ buf: UnsafeRawPointer, _ count: Int) -> IOResult<Int> {
        if closed { return .processed(count) }
        let n = accept(buf, count)
        if n == 0 && count > 0 {
            waiting = true
            return .wouldBlock
        }
        return .processed(n)
    }

    /// A file region of the answer (a proxied body spooled to a temporary file).
    func sendfile(_ file: Int32, offset: inout Int64, count: Int) throws(SystemError) -> IOResult<Int> {
        if closed { return .processed(count) }
        if out.readableCount >= queueLimit {
            waiting = true
            return .wouldBlock
        }
        let want = min(count, 65536)
        out.reserve(want)
        switch try FileSystem.pread(file, into: out.writable, count: want, offset: offset) {
        case .wouldBlock: return .wouldBlock
        case .processed(let n):
            out.writerIndex += n
            offset += Int64(n)
            connection.dataReady(self)
            return .processed(n)
        }
    }
}

extension Request {
    /// A stream whose Host picks a server without `http2` (on an address without
    /// `listen ... http2`) is answered 421, as nginx does: TLS chose the protocol for
    /// the server SNI named, and this server does not speak it.
    func http2Allowed(_ server: VirtualServer, _ group: ListenGroup) -> Bool {
        if server.settings.http2.enabled || group.options.http2 { return true }
        logInfo("client attempted to request the server name for which the negotiated protocol is disabled")
        keepAlive = false
        ErrorPages.sendDefault(self, 421)
        return false
    }
}
