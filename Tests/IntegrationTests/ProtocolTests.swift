// HTTP/1.1 behaviour over real sockets: keep-alive, pipelining, Connection:
// close, HTTP/1.0, limits (400/413/414/431-as-400), strict rejection of
// smuggling shapes with the connection closed, and timeouts.

import Foundation
import Testing

@Suite struct ProtocolTests {
    static let config = """
        daemon off;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 64; }
        http {
            include mime.types;
            access_log logs/access.log;
            client_header_timeout 1s;
            keepalive_timeout 2s;
            keepalive_requests 3;
            client_max_body_size 10;
            large_client_header_buffers 2 1k;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                location / { root html; }
                location /big/ { client_max_body_size 100; return 200 "ok"; }
            }
        }
        """

    func makeServer() throws -> TestServer {
        let s = try TestServer(config: Self.config, files: ["html/a.txt": "AAAA"])
        try s.start()
        return s
    }

    @Test func keepAliveAndPipelining() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        let one = "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n"
        try c.send(one + one)
        let r1 = try c.readResponse()
        let r2 = try c.readResponse()
        #expect(r1.bodyText == "AAAA" && r2.bodyText == "AAAA")
        #expect(r1.header("Connection") == "keep-alive")
        // keepalive_requests 3: the third response closes.
        try c.send(one)
        let r3 = try c.readResponse()
        #expect(r3.header("Connection") == "close")
        #expect(c.isClosedByPeer())
    }

    /// A client that half-closes after its request gets the answer and then the close at
    /// once (keepalive_timeout is 2 s), whether its FIN comes with the request or after
    /// the answer: a short read does not hide the FIN (the server reads again only when
    /// epoll reports new bytes or the hangup).
    @Test func aHalfClosedClientGetsItsAnswerAndTheClose() throws {
        let s = try makeServer()
        for finAfterAnswer in [false, true] {
            let c = try RawClient(port: s.port)
            try c.send("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
            if finAfterAnswer { #expect(try c.readResponse().bodyText == "AAAA") }
            shutdown(c.fd, Int32(SHUT_WR))
            if !finAfterAnswer { #expect(try c.readResponse().bodyText == "AAAA") }
            #expect(c.isClosedByPeerWithin(milliseconds: 1500), "FIN after the answer: \(finAfterAnswer)")
        }
    }

    @Test func pipelinedBytesSplitAcrossWrites() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        let req = Array("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8)
        for b in req {
            try c.send([b])
        }
        #expect(try c.readResponse().bodyText == "AAAA")
    }

    @Test func connectionCloseAndHTTP10() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send("GET /a.txt HTTP/1.0\r\n\r\n")
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.header("Connection") == "close")
        #expect(c.isClosedByPeer())
        let k = try RawClient(port: s.port)
        try k.send("GET /a.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try k.readResponse().header("Connection") == "keep-alive")
    }

    @Test func badRequestsCloseTheConnection() throws {
        let s = try makeServer()
        let cases = [
            "GET /a.txt HTTP/1.1\r\n\r\n",  // no Host
            "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            "GET /a.txt HTTP/1.1\r\nHost: localhost\r\nBad Header: x\r\n\r\n",
            "GET /a.txt HTTP/1.1\r\nHost: localhost\r\n folded: x\r\n\r\n",
            "GET /a.txt HTTP/1.1\nHost: localhost\r\n\r\n",  // mixed line endings
            "GET /a.txt HTTP/1.1\r\nHost: localhost\nX: 1\r\n\r\n",
        ]
        for raw in cases {
            let c = try RawClient(port: s.port)
            try c.send(raw)
            let r = try c.readResponse()
            #expect(r.status == 400, "for \(raw.debugDescription)")
            #expect(r.header("Connection") == "close")
            #expect(c.isClosedByPeer(), "for \(raw.debugDescription)")
        }
    }

    @Test func bareLFHeadsAreServedAndKeepAlive() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send("GET /a.txt HTTP/1.1\nHost: localhost\n\nGET /a.txt HTTP/1.0\nHost: localhost\n\n")
        let first = try c.readResponse()
        #expect(first.status == 200 && first.header("Connection") == "keep-alive")
        let second = try c.readResponse()
        #expect(second.status == 200)
        #expect(c.isClosedByPeer())
    }

    @Test func limits() throws {
        let s = try makeServer()
        let longURI = "/" + String(repeating: "a", count: 2000)
        let uri = try request(s.port, "GET \(longURI) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(uri.status == 414)
        let bigHeader = "X-Big: " + String(repeating: "b", count: 1500)
        let hdr = try request(s.port, "GET / HTTP/1.1\r\nHost: localhost\r\n\(bigHeader)\r\n\r\n")
        #expect(hdr.status == 400)
        #expect(hdr.bodyText.contains("Request Header Or Cookie Too Large"))
        let body = try request(s.port, "POST /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 11\r\n\r\n")
        #expect(body.status == 413)
        #expect(s.waitForFile("logs/error.log", containing: "client intended to send too large body: 11 bytes"))
        let allowed = try request(
            s.port,
            "POST /big/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 50\r\n\r\n" + String(repeating: "x", count: 50))
        #expect(allowed.status == 200)
    }

    @Test func bodyIsDiscardedBeforeNextRequest() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send("POST /big/ HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n\r\nhello")
        #expect(try c.readResponse().status == 200)
        try c.send("POST /big/ HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        try c.send("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try c.readResponse().bodyText == "AAAA")
    }

    @Test func headerTimeoutClosesConnection() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send("GET /a.txt HTTP/1.1\r\n")
        let start = Date()
        #expect(c.isClosedByPeer())
        #expect(Date().timeIntervalSince(start) < 4)
        #expect(s.waitForFile("logs/error.log", containing: "client timed out"))
    }

    @Test func keepaliveTimeoutClosesIdleConnection() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        try c.send("GET /a.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        _ = try c.readResponse()
        let start = Date()
        #expect(c.isClosedByPeer())
        let waited = Date().timeIntervalSince(start)
        #expect(waited > 1 && waited < 4.5)
    }

    @Test func keepAliveHeaderTimeout() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http { keepalive_timeout 30s 25; server { listen 127.0.0.1:PORT; return 200 "x"; } }
                """)
        try s.start()
        let c = try RawClient(port: s.port)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try c.readResponse().header("Keep-Alive") == "timeout=25")
    }

    @Test func workerConnectionsLimitPausesAccepting() throws {
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log info;
                pid logs/swiftginx.pid;
                events { worker_connections 2; }
                http { server { listen 127.0.0.1:PORT; return 200 "x"; } }
                """)
        try s.start()
        // canConnect() during start may still hold a slot for a moment.
        usleep(200_000)
        let a = try RawClient(port: s.port)
        let b = try RawClient(port: s.port)
        try a.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try a.readResponse().status == 200)
        try b.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try b.readResponse().status == 200)
        // A third connection waits in the backlog until one of the two closes.
        let c = try RawClient(port: s.port, timeoutSeconds: 1)
        try c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(throws: (any Error).self) { try c.readResponse() }
        #expect(s.waitForFile("logs/error.log", containing: "2 worker_connections are not enough"))
        a.close()
        let late = try RawClient(port: s.port, timeoutSeconds: 5)
        b.close()
        try late.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try late.readResponse().status == 200)
    }

    @Test func rejectedBodyGetsResponseNotReset() throws {
        let s = try makeServer()
        let c = try RawClient(port: s.port)
        // 413 is answered before the body; the client keeps sending it and must still
        // read the response (lingering close), not a connection reset.
        try c.send("POST /a.txt HTTP/1.1\r\nHost: localhost\r\nContent-Length: 200000\r\n\r\n")
        try c.send([UInt8](repeating: 120, count: 100_000))
        let r = try c.readResponse()
        #expect(r.status == 413)
        #expect(r.header("Connection") == "close")
    }

    @Test func sendTimeoutClosesStalledDownload() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http { send_timeout 1s; server { listen 127.0.0.1:PORT; location / { root html; } } }
                """, files: ["html/big.bin": String(repeating: "z", count: 32 << 20)])
        try s.start()
        let c = try RawClient(port: s.port, timeoutSeconds: 5)
        try c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "client timed out (110: Connection timed out) while sending response to client", timeout: 6)
        )
        let got = c.readToEnd()
        #expect(got.count < 32 << 20)
    }

    @Test func severalWorkersShareTheLoad() throws {
        let s = try TestServer(
            config: """
                daemon off;
                worker_processes 3;
                error_log logs/error.log info;
                pid logs/swiftginx.pid;
                events {}
                http { server { listen 127.0.0.1:PORT; return 200 "$connection"; } }
                """)
        try s.start()
        var numbers = Set<String>()
        for _ in 0..<30 { numbers.insert(try get(s.port, "/").bodyText) }
        // Every connection got its own number, whichever worker accepted it.
        #expect(numbers.count == 30)
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
    }
}
