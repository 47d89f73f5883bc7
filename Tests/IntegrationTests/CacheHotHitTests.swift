// Hits on a hot key (answered from the worker's open entry with the head its previous
// hit wrote, CacheOpenEntries / ProxyExchange+CacheFastHit) over real sockets, against
// the counting upstream: every hit after the second is that fast one, and must answer
// exactly as the general path does — the location's own head (two locations sharing a
// zone and a key each get theirs; gzip chosen per request), the current Date, the
// request's Connection, HEAD without a body, $upstream_http_* and add_header of
// variables, conditions and ranges;
// and it must notice at once what changes the entry: a purge, a new answer, the expiry,
// a reload that changes add_header.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct CacheHotHitTests {
    func start(_ b: CountingBackend, valid: String = "1h") throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    proxy_cache_path PREFIXcache levels=1:2 keys_zone=pages:1m;
                    geo $purger { default 0; 127.0.0.1 1; }
                    map "$purger:$request_method" $purge { "1:PURGE" 1; default 0; }
                    server {
                        listen 127.0.0.1:PORT;
                        proxy_cache pages;
                        proxy_cache_key $uri;
                        proxy_cache_valid 200 \(valid);
                        location / {
                            proxy_pass http://127.0.0.1:\(b.port);
                            proxy_cache_purge $purge;
                            add_header X-Cache $upstream_cache_status;
                            add_header X-Type $upstream_http_content_type;
                        }
                        location /gz/ {
                            proxy_pass http://127.0.0.1:\(b.port);
                            gzip on;
                            gzip_types text/plain;
                            gzip_min_length 1;
                        }
                        location /other/ {
                            proxy_pass http://127.0.0.1:\(b.port);
                            proxy_cache_key /x;
                            proxy_hide_header Content-Type;
                            add_header X-Where other;
                        }
                    }
                }
                """)
        try s.start()
        return s
    }

    /// The head's fields without Date, in order.
    func fields(_ r: HTTPResponse) -> [String] {
        r.headers.filter { $0.0.lowercased() != "date" }.map { "\($0.0): \($0.1)" }
    }

    @Test func repeatedHitsAnswerAsTheFirst() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        #expect(try get(s.port, "/x").header("X-Cache") == "MISS")
        let first = try get(s.port, "/x")
        #expect(first.header("X-Cache") == "HIT")
        for _ in 0..<5 {
            let r = try get(s.port, "/x")
            #expect(r.status == 200)
            #expect(fields(r) == fields(first))
            #expect(r.bodyText == "n=1 path=/x")
            #expect(r.header("Date") != nil)
            #expect(r.header("X-Type") == "text/plain")
        }
        // The request's own fields: HTTP/1.0 closes, HEAD has no body.
        let old = try request(s.port, "GET /x HTTP/1.0\r\n\r\n")
        #expect(old.header("Connection") == "close")
        #expect(old.bodyText == "n=1 path=/x")
        let head = try request(s.port, "HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.header("X-Cache") == "HIT")
        #expect(head.header("Content-Length") == "11")
        #expect(head.body.isEmpty)
        // Conditions and ranges still go through nginx's filters.
        let range = try get(s.port, "/x", extra: "Range: bytes=0-2\r\n")
        #expect(range.status == 206)
        #expect(range.bodyText == "n=1")
        #expect(b.count == 1)
    }

    @Test func eachLocationGetsItsOwnHead() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        // "/" keys by $uri, /other/ by the literal /x: one entry, two heads.
        _ = try get(s.port, "/x")
        for _ in 0..<3 {
            let here = try get(s.port, "/x")
            #expect(here.header("X-Cache") == "HIT")
            #expect(here.header("Content-Type") != nil)
            #expect(here.header("X-Where") == nil)
            let there = try get(s.port, "/other/y")
            #expect(there.header("X-Where") == "other")
            #expect(there.header("Content-Type") == nil)
            #expect(there.header("X-Cache") == nil)
            #expect(there.bodyText == "n=1 path=/x")
        }
        #expect(b.count == 1)
    }

    @Test func compressionIsChosenForEachHit() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        for _ in 0..<3 { #expect(try get(s.port, "/gz/a").header("Content-Encoding") == nil) }
        let gz = try get(s.port, "/gz/a", extra: "Accept-Encoding: gzip\r\n")
        #expect(gz.header("Content-Encoding") == "gzip")
        #expect(try get(s.port, "/gz/a").header("Content-Encoding") == nil)
        #expect(b.count == 1)
    }

    @Test func aPurgeOrAnExpiryEndsTheHotEntry() throws {
        let b = try CountingBackend()
        let s = try start(b, valid: "2s")
        defer { s.stop() }
        for _ in 0..<4 { _ = try get(s.port, "/p") }
        #expect(try get(s.port, "/p").header("X-Cache") == "HIT")
        let purged = try request(s.port, "PURGE /p HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(purged.status == 204)
        let again = try get(s.port, "/p")
        #expect(again.header("X-Cache") == "MISS")
        #expect(again.bodyText == "n=2 path=/p")
        for _ in 0..<3 { #expect(try get(s.port, "/p").bodyText == "n=2 path=/p") }
        usleep(3_100_000)
        let expired = try get(s.port, "/p")
        #expect(expired.header("X-Cache") == "EXPIRED")
        #expect(expired.bodyText == "n=3 path=/p")
        #expect(try get(s.port, "/p").bodyText == "n=3 path=/p")
        #expect(b.count == 3)
    }

    @Test func aReloadAppliesTheNewHead() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        for _ in 0..<3 { _ = try get(s.port, "/r") }
        #expect(try get(s.port, "/r").header("X-Extra") == nil)
        let config = s.read("conf/swiftginx.conf").replacingOccurrences(
            of: "add_header X-Cache $upstream_cache_status;",
            with: "add_header X-Cache $upstream_cache_status; add_header X-Extra yes;")
        try config.write(toFile: s.prefix + "conf/swiftginx.conf", atomically: true, encoding: .utf8)
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation 2)"))
        for _ in 0..<3 {
            let r = try get(s.port, "/r")
            #expect(r.header("X-Cache") == "HIT")
            #expect(r.header("X-Extra") == "yes")
        }
        #expect(b.count == 1)
    }
}
