// ProxyExchange driven by the worker's loop without the binary: an upstream that
// accepts and never answers meets proxy_read_timeout (504 and nginx's log line), an
// upstream that answers in pieces is relayed to a client reading byte by byte, and an
// auth_request subrequest suspends the request until its upstream has answered.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@testable import SwiftginxServer

/// A TCP listener on 127.0.0.1 run by the test (accepts and answers only when told).
final class TestUpstream {
    let fd: Int32
    let port: Int
    var accepted: [Int32] = []

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, len) == 0 && listen(fd, 16) == 0 && getsockname(fd, $0, &len) == 0
            }
        }
        guard ok else { throw HarnessError(description: "upstream listener failed: \(errno)") }
        port = Int(UInt16(bigEndian: addr.sin_port))
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    }

    deinit {
        for a in accepted { close(a) }
        close(fd)
    }

    /// Accepts what is waiting; the number of connections so far.
    @discardableResult
    func acceptWaiting() -> Int {
        while true {
            let a = accept(fd, nil, nil)
            if a < 0 { break }
            accepted.append(a)
        }
        return accepted.count
    }

    /// What the newest connection sent so far.
    func readRequest() -> String {
        guard let a = accepted.last else { return "" }
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(a, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self) : ""
    }

    func answer(_ text: String) {
        guard let a = accepted.last else { return }
        _ = Array(text.utf8).withUnsafeBytes { send(a, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }
}

@Suite struct ProxyExchangeTests {
    func harness(_ upstream: TestUpstream) throws -> Harness {
        try Harness(
            config: """
                daemon off;
                events {}
                http {
                    server {
                        listen 127.0.0.1:8080;
                        root PREFIX/html;
                        location / {
                            proxy_pass http://127.0.0.1:\(upstream.port);
                            proxy_read_timeout 300ms;
                        }
                        location = /auth { internal; proxy_pass http://127.0.0.1:\(upstream.port)/check; }
                        location /private/ { auth_request /auth; }
                    }
                }
                """, files: ["html/private/p.txt": Array("private\n".utf8)])
    }

    @Test func aStalledUpstreamMeetsTheReadTimeout() throws {
        let up = try TestUpstream()
        let h = try harness(up)
        let c = try h.connect()
        c.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { up.acceptWaiting() > 0 && c.connection.state == .active }
        #expect(c.connection.state == .active)
        #expect(up.readRequest().hasPrefix("GET /slow HTTP/1.0\r\n"))
        let answered = h.run(for: 3) {
            c.read()
            return !c.statuses.isEmpty
        }
        #expect(answered)
        #expect(c.statuses == [504])
        #expect(
            h.errorLog.contains(
                "upstream timed out (110: Connection timed out) while reading response header from upstream"))
    }

    @Test func anUpstreamAnswerInPiecesReachesAClientReadingByteByByte() throws {
        let up = try TestUpstream()
        let h = try harness(up)
        let c = try h.connect()
        c.send("GET /pieces HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { up.acceptWaiting() > 0 && !up.readRequest().isEmpty }
        let answer = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-From: upstream\r\n\r\nhello world\n"
        for ch in answer {
            up.answer(String(ch))
            h.turn()
            c.read(limit: 1)
        }
        let done = h.run {
            c.read(limit: 1)
            return c.text.hasSuffix("hello world\n")
        }
        #expect(done)
        #expect(c.statuses == [200])
        #expect(c.text.contains("X-From: upstream\r\n"))
        #expect(c.text.contains("Content-Length: 12\r\n"))
        h.run { c.connection.state == .idle }
        #expect(c.connection.state == .idle)
    }

    @Test func anAuthSubrequestSuspendsTheRequestUntilItsUpstreamAnswers() throws {
        let up = try TestUpstream()
        let h = try harness(up)
        let c = try h.connect()
        c.send("GET /private/p.txt HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { up.acceptWaiting() > 0 && !up.readRequest().isEmpty }
        // The request waits in the access phase; nothing has been answered.
        #expect(c.connection.state == .active)
        #expect(c.connection.request.subrequest != nil)
        c.read()
        #expect(c.received.isEmpty)
        up.answer("HTTP/1.1 204 No Content\r\n\r\n")
        let done = h.run {
            c.read()
            return c.text.hasSuffix("private\n")
        }
        #expect(done)
        #expect(c.statuses == [200])
        #expect(c.connection.request.subrequest == nil)
    }
}
