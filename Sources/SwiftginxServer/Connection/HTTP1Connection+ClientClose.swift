// A client that closes its side while its response is still being sent (a throttled
// or slow download it gave up on): nginx notices the end of the client's stream
// (EPOLLRDHUP) and finalizes the request at once, instead of waiting until a write
// fails or send_timeout expires, so the connection stops counting as active and
// writing in stub_status. The same here, with one caution nginx does not take: a
// client that half-closed after pipelining requests we have not answered yet is
// still served.

import SwiftginxPosix

extension HTTP1Connection {
    /// True when the client has gone while the response is being sent (the connection
    /// is then finished and closed).
    func clientClosedWhileSending(_ events: EpollEvents) -> Bool {
        guard state == .sending, events.contains(.readHangup) else { return false }
        // Requests already buffered behind this one are answered first.
        if input.writerIndex > headBase + request.head.headLength { return false }
        var byte: UInt8 = 0
        switch try? Socket.peek(fd, into: &byte, count: 1) {
        case .processed(0)?, nil:
            break
        default:
            return false
        }
        logInfo("client prematurely closed connection while sending response to client")
        request.keepAlive = false
        request.aborted = true
        finishResponse()
        return true
    }
}
