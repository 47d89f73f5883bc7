// What an idle keep-alive connection holds (HTTP1Connection+Idle.swift): past the
// worker's first `maxIdleRequestsKept` idle connections, an idle connection gives its
// request, buffers and parser back to the worker, takes a set again when bytes arrive
// and answers as before (with its own client address); a head still incomplete keeps
// its buffer; the object that is left is small (measured with malloc_usable_size).

import Glibc
import Testing

@testable import SwiftginxServer

@_silgen_name("malloc_usable_size") private func mallocUsableSize(_ p: UnsafeMutableRawPointer) -> Int

@Suite struct IdleConnectionTests {
    static let config = """
        daemon off;
        events {}
        http {
            server {
                listen 127.0.0.1:8080;
                root PREFIX/html;
                location = /addr { return 200 "$remote_addr $realip_remote_addr\\n"; }
            }
        }
        """

    func harness() throws -> Harness {
        try Harness(config: Self.config, files: ["html/a.txt": Array(repeating: 97, count: 1024)])
    }

    func get(_ h: Harness, _ c: Client, _ path: String = "/a.txt") {
        c.clear()
        c.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        h.run { c.read() >= 0 && c.text.hasSuffix(String(repeating: "a", count: 1024)) }
    }

    @Test func idleConnectionsBeyondTheKeptOnesHoldNoRequest() throws {
        let h = try harness()
        let n = Worker.maxIdleRequestsKept + 8
        var clients: [Client] = []
        for _ in 0..<n {
            let c = try h.connect()
            get(h, c)
            #expect(c.statuses == [200])
            clients.append(c)
        }
        h.run(for: 0.2) { false }
        let attached = clients.filter { $0.connection.attached }.count
        #expect(attached == Worker.maxIdleRequestsKept)
        #expect(h.worker.idleRequestsKept == Worker.maxIdleRequestsKept)
        for c in clients where !c.connection.attached {
            #expect(c.connection.state == .idle)
            #expect(c.connection.request === h.worker.idleRequest)
            // The object left: the connection and its transport.
            let bytes =
                mallocUsableSize(Unmanaged.passUnretained(c.connection).toOpaque())
                + mallocUsableSize(Unmanaged.passUnretained(c.connection.transport).toOpaque())
            #expect(bytes <= 512)
        }
        // Every connection answers its next request, lent or not, with its own address.
        for c in clients {
            get(h, c)
            #expect(c.statuses == [200])
        }
        let other = try h.connect(peer: "127.0.0.9")
        for c in [other] + clients.suffix(4) {
            c.clear()
            c.send("GET /addr HTTP/1.1\r\nHost: x\r\n\r\n")
            h.run { c.read() >= 0 && c.text.hasSuffix("\n") }
            let expected = c === other ? "127.0.0.9 127.0.0.9\n" : "127.0.0.1 127.0.0.1\n"
            #expect(c.text.hasSuffix("\r\n\r\n" + expected))
        }
        clients.append(other)
        // Closing connections that keep their request frees their places.
        for c in clients { c.close() }
        h.run { h.worker.idleRequestsKept == 0 }
        #expect(h.worker.idleRequestsKept == 0)
    }

    @Test func aHeadCutInTwoKeepsItsBytesAcrossTheWait() throws {
        let h = try harness()
        var clients: [Client] = []
        for _ in 0..<(Worker.maxIdleRequestsKept + 2) {
            let c = try h.connect()
            get(h, c)
            clients.append(c)
        }
        h.run(for: 0.2) { false }
        let lent = try #require(clients.first { !$0.connection.attached })
        lent.clear()
        lent.send("GET /a.txt HTTP/1.1\r\nHo")
        h.run(for: 0.2) { false }
        #expect(lent.connection.attached)
        #expect(lent.connection.state == .readingHead)
        lent.send("st: x\r\n\r\n")
        h.run { lent.read() >= 0 && lent.text.hasSuffix(String(repeating: "a", count: 1024)) }
        #expect(lent.statuses == [200])
    }
}
