// HTTP1Connection over socketpairs, without the binary: a head delivered one byte at
// a time, pipelined requests answered in order with one write, a request body nobody
// reads discarded before the next request, back-pressure from a client that does not
// read, and a client that goes away in the middle of a response.

import Glibc
import Testing

@testable import SwiftginxServer

@Suite struct HTTP1ConnectionTests {
    static let config = """
        daemon off;
        events {}
        http {
            server {
                listen 127.0.0.1:8080;
                root PREFIX/html;
                location / { }
                location = /hello { return 200 "hello\\n"; }
            }
        }
        """

    static let big = (0..<(4 << 20)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }

    func harness() throws -> Harness {
        try Harness(
            config: Self.config,
            files: [
                "html/a.txt": Array("file a\n".utf8), "html/b.txt": Array("file b\n".utf8), "html/big.bin": Self.big,
            ])
    }

    @Test func aHeadArrivingOneByteAtATimeGetsOneAnswer() throws {
        let h = try harness()
        let c = try h.connect()
        let request = Array("GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\n".utf8)
        for (i, byte) in request.enumerated() {
            c.send([byte])
            h.turn()
            c.read()
            if i < request.count - 1 {
                #expect(c.received.isEmpty, "answered before the head was complete (byte \(i))")
                #expect(c.connection.state == .readingHead)
            }
        }
        h.run { c.read() > 0 || c.text.hasSuffix("file a\n") }
        #expect(c.statuses == [200])
        #expect(c.text.hasSuffix("\r\n\r\nfile a\n"))
        #expect(c.text.contains("Content-Length: 7\r\n"))
        // Kept alive, waiting for the next request.
        #expect(c.connection.state == .idle)
        #expect(h.worker.activeConnections == 1)
    }

    @Test func pipelinedRequestsAreAnsweredInOrderInOneWrite() throws {
        let h = try harness()
        let c = try h.connect()
        c.send(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /missing HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /hello HTTP/1.1\r\nHost: x\r\n\r\nGET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        // One turn answers all four: the responses were held in memory and written together.
        h.turn()
        c.read()
        #expect(c.statuses == [200, 404, 200, 200], "\(c.text)")
        let a = c.text.range(of: "file a\n")
        let hello = c.text.range(of: "hello\n")
        let b = c.text.range(of: "file b\n")
        #expect(a != nil && hello != nil && b != nil)
        if let a, let hello, let b { #expect(a.upperBound <= hello.lowerBound && hello.upperBound <= b.lowerBound) }
        #expect(c.connection.requests == 4)
    }

    @Test func anUnreadBodyIsDiscardedBeforeTheNextRequest() throws {
        let h = try harness()
        let c = try h.connect()
        // Static files do not read request bodies: the body is skipped, as nginx does.
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234")
        h.run { c.read() >= 0 && c.statuses.count == 1 }
        #expect(c.connection.state == .discardingBody)
        c.send("56789GET /b.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { c.read() >= 0 && c.statuses.count == 2 }
        #expect(c.statuses == [200, 200], "\(c.text)")
        #expect(c.text.hasSuffix("file b\n"))
        // A chunked body, delivered byte by byte, is discarded too.
        c.clear()
        let chunked = Array(
            "GET /a.txt HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\nGET /hello HTTP/1.1\r\nHost: x\r\n\r\n"
                .utf8)
        for byte in chunked {
            c.send([byte])
            h.turn()
        }
        h.run { c.read() >= 0 && c.statuses.count == 2 }
        #expect(c.statuses == [200, 200], "\(c.text)")
        #expect(c.text.hasSuffix("hello\n"))
    }

    @Test func aClientThatDoesNotReadHoldsTheResponseAtTheSocket() throws {
        let h = try harness()
        let c = try h.connect(sendBuffer: 16384, receiveBuffer: 16384)
        c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        h.turn()
        h.turn()
        // The socket is full: the rest of the file waits in the writer, nothing spins.
        #expect(c.connection.state == .sending)
        #expect(c.connection.writer.fileRemaining > 0)
        #expect(c.connection.writer.fileRemaining < Int64(Self.big.count))
        let waiting = c.connection.writer.fileRemaining
        h.turn()
        #expect(c.connection.writer.fileRemaining == waiting)
        // Reading lets it go on, to the last byte.
        let done = h.run(for: 10, waitPerTurn: 1) {
            c.read()
            return c.received.count >= Self.big.count + 100 && c.connection.state == .idle
        }
        #expect(done)
        let body = c.received.suffix(Self.big.count)
        #expect(Array(body) == Self.big)
    }

    @Test func aClientThatGoesAwayMidResponseIsClosedAndLogged() throws {
        let h = try harness()
        let c = try h.connect(sendBuffer: 16384, receiveBuffer: 16384)
        c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        h.turn()
        c.read(limit: 20000)
        #expect(c.connection.state == .sending)
        c.close()
        let closed = h.run { h.worker.activeConnections == 0 }
        #expect(closed)
        #expect(h.errorLog.contains("while sending response to client"))
        // The worker goes on serving others.
        let d = try h.connect()
        d.send("GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { d.read() >= 0 && d.statuses == [200] }
        #expect(d.statuses == [200])
    }

    @Test func aClientThatClosesItsSideMidResponseIsFinishedAtOnce() throws {
        let h = try harness()
        let c = try h.connect(sendBuffer: 16384, receiveBuffer: 16384)
        c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        h.turn()
        h.turn()
        #expect(c.connection.state == .sending)
        // No write will fail (the client's buffer is full, nothing is read): only the
        // end of its stream tells that it has gone.
        shutdown(c.fd, Int32(SHUT_WR))
        let closed = h.run(for: 2) { h.worker.activeConnections == 0 }
        #expect(closed)
        #expect(h.errorLog.contains("client prematurely closed connection while sending response to client"))
    }

    /// A keep-alive connection whose next head is cut short: the log line must not name
    /// (or read) the previous request, whose bytes are gone from the buffer.
    @Test func aHeadCutShortAfterAKeepAliveRequestIsLoggedWithoutTheOldRequest() throws {
        let h = try harness()
        let c = try h.connect()
        // The first head is long, its Host field last: its ranges reach far past the
        // short second head.
        c.send("GET /a.txt HTTP/1.1\r\nX-Long: \(String(repeating: "x", count: 300))\r\nHost: x\r\n\r\n")
        h.run { c.read() >= 0 && c.statuses == [200] }
        #expect(c.connection.state == .idle)
        c.send("GET /b.txt HTTP/1.1\r\nHo")
        h.turn()
        #expect(c.connection.state == .readingHead)
        c.close()
        h.run { h.worker.activeConnections == 0 }
        #expect(h.worker.activeConnections == 0)
        let line = h.errorLog.split(separator: "\n").first { $0.contains("prematurely closed") }
        #expect(line != nil, "\(h.errorLog)")
        #expect(line.map { !$0.contains("/a.txt") } == true, "\(line ?? "")")
    }

    @Test func aBadHeadIsAnswered400AndTheConnectionCloses() throws {
        let h = try harness()
        let c = try h.connect()
        c.send("GET /a.txt HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
        h.run {
            c.read()
            return c.closedByServer
        }
        #expect(c.statuses == [400])
        #expect(c.closedByServer)
    }
}
