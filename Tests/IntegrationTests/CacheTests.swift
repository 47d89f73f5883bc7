// proxy_cache over real sockets, against a counting upstream (Support/cache_backend.py,
// which tells how many requests reached it): MISS then HIT without a second upstream
// request, EXPIRED after the validity, STALE while the upstream is down, a background
// update, REVALIDATED by a 304, Vary, bypass and Set-Cookie, the lock letting one of
// many concurrent misses through, entries kept across a restart (the loader), and a
// serving process killed with SIGKILL in the middle of storing an entry leaving no
// half entry to be served. Every process is stopped by pid and every wait is bounded.

import Foundation
import Glibc
import SwiftginxPosix
import Synchronization
import Testing

/// The counting upstream, started on a free port and stopped by pid.
final class CountingBackend {
    let port: Int
    private(set) var pid: Int32 = 0
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/cache_backend.py"
    ).path

    init(port: Int? = nil) throws {
        let port = port ?? freePort()
        self.port = port
        pid = try ProcessControl.spawn(
            "/usr/bin/python3", ["python3", Self.script, String(port)], stdout: -1, stderr: -1)
        for _ in 0..<250 {
            if canConnect(port: port) { return }
            usleep(20_000)
        }
        stop()
        throw TestFailure("cache backend did not start on port \(port)")
    }

    /// Requests the upstream has received.
    var count: Int {
        (try? get(port, "/count")).flatMap { Int($0.bodyText) } ?? -1
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        _ = ProcessControl.wait(pid, timeout: 5000)
        pid = 0
    }

    deinit { stop() }
}

@Suite(.serialized) struct CacheTests {
    func start(_ backend: CountingBackend, extra: String = "", main: String = "") throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                \(main)
                http {
                    proxy_cache_path PREFIXcache levels=1:2 keys_zone=pages:1m inactive=1h max_size=10m;
                    log_format c '$uri $upstream_cache_status';
                    access_log logs/access.log c;
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            proxy_pass http://127.0.0.1:\(backend.port);
                            proxy_cache pages;
                            proxy_cache_valid 200 1s;
                            proxy_cache_bypass $arg_nocache;
                            add_header X-Cache $upstream_cache_status;
                            \(extra)
                        }
                    }
                }
                """)
        try s.start()
        return s
    }

    @Test func missHitExpired() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        let first = try get(s.port, "/a")
        #expect(first.header("X-Cache") == "MISS")
        #expect(first.bodyText == "n=1 path=/a")
        let second = try get(s.port, "/a")
        #expect(second.header("X-Cache") == "HIT")
        #expect(second.bodyText == "n=1 path=/a")
        #expect(second.header("Content-Length") == "11")
        #expect(b.count == 1)
        usleep(2_100_000)
        let third = try get(s.port, "/a")
        #expect(third.header("X-Cache") == "EXPIRED")
        #expect(third.bodyText == "n=2 path=/a")
        #expect(try get(s.port, "/a").header("X-Cache") == "HIT")
        #expect(b.count == 2)
        // A HEAD is answered from the entry, without a body.
        let head = try request(s.port, "HEAD /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.header("X-Cache") == "HIT")
        #expect(head.body.isEmpty)
        // Ranges and conditions are answered from the whole cached answer.
        let range = try get(s.port, "/a", extra: "Range: bytes=2-4\r\n")
        #expect(range.status == 206)
        #expect(range.bodyText == "2 p")
        #expect(b.count == 2)
        #expect(s.waitForFile("logs/access.log", containing: "/a HIT"))
    }

    @Test func bypassCookieAndCacheControl() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        _ = try get(s.port, "/b")
        let bypassed = try get(s.port, "/b?nocache=1")
        #expect(bypassed.header("X-Cache") == "BYPASS")
        // The key is $scheme$proxy_host$request_uri: the bypassed request has its own.
        #expect(try get(s.port, "/b").header("X-Cache") == "HIT")
        // Set-Cookie and Cache-Control: private are not stored.
        _ = try get(s.port, "/c?cookie=1")
        #expect(try get(s.port, "/c?cookie=1").header("X-Cache") == "MISS")
        _ = try get(s.port, "/d?cc=private")
        #expect(try get(s.port, "/d?cc=private").header("X-Cache") == "MISS")
        // max-age overrides proxy_cache_valid.
        _ = try get(s.port, "/e?cc=max-age=60")
        usleep(1_200_000)
        #expect(try get(s.port, "/e?cc=max-age=60").header("X-Cache") == "HIT")
    }

    @Test func varyStoresOneVariantPerValue() throws {
        let b = try CountingBackend()
        let s = try start(b)
        defer { s.stop() }
        let a = try get(s.port, "/v?vary=X-Lang&cc=max-age=60", extra: "X-Lang: fr\r\n")
        #expect(a.bodyText.hasSuffix("X-Lang=fr"))
        let other = try get(s.port, "/v?vary=X-Lang&cc=max-age=60", extra: "X-Lang: de\r\n")
        #expect(other.header("X-Cache") == "MISS")
        #expect(other.bodyText.hasSuffix("X-Lang=de"))
        let again = try get(s.port, "/v?vary=X-Lang&cc=max-age=60", extra: "X-Lang: fr\r\n")
        #expect(again.header("X-Cache") == "HIT")
        #expect(again.bodyText.hasSuffix("X-Lang=fr"))
        #expect(b.count == 2)
    }

    @Test func staleWhileTheUpstreamIsDown() throws {
        let b = try CountingBackend()
        let s = try start(b, extra: "proxy_cache_use_stale error timeout http_502;")
        defer { s.stop() }
        #expect(try get(s.port, "/s").bodyText == "n=1 path=/s")
        b.stop()
        usleep(2_100_000)
        let stale = try get(s.port, "/s")
        #expect(stale.status == 200)
        #expect(stale.header("X-Cache") == "STALE")
        #expect(stale.bodyText == "n=1 path=/s")
        // Without a stored answer the outage shows.
        #expect(try get(s.port, "/never").status == 502)
    }

    @Test func backgroundUpdateAnswersStaleAtOnce() throws {
        let b = try CountingBackend()
        let s = try start(b, extra: "proxy_cache_use_stale updating; proxy_cache_background_update on;")
        defer { s.stop() }
        _ = try get(s.port, "/u?ms=800")
        usleep(2_100_000)
        let started = Date()
        let stale = try get(s.port, "/u?ms=800")
        #expect(stale.header("X-Cache") == "STALE")
        #expect(stale.bodyText == "n=1 path=/u?ms=800")
        #expect(Date().timeIntervalSince(started) < 0.7)
        // The update lands in the cache.
        var refreshed = ""
        for _ in 0..<50 {
            let r = try get(s.port, "/u?ms=800")
            if r.header("X-Cache") == "HIT" && r.bodyText.hasPrefix("n=2") {
                refreshed = r.bodyText
                break
            }
            usleep(100_000)
        }
        #expect(refreshed == "n=2 path=/u?ms=800")
    }

    @Test func revalidationWithAConditionalRequest() throws {
        let b = try CountingBackend()
        let s = try start(b, extra: "proxy_cache_revalidate on;")
        defer { s.stop() }
        #expect(try get(s.port, "/r?lm=1").bodyText == "n=1 path=/r?lm=1")
        usleep(2_100_000)
        let r = try get(s.port, "/r?lm=1")
        #expect(r.header("X-Cache") == "REVALIDATED")
        #expect(r.bodyText == "n=1 path=/r?lm=1")
        #expect(try get(s.port, "/r?lm=1").header("X-Cache") == "HIT")
        #expect(b.count == 2)
    }

    @Test func theLockLetsOneRequestThrough() throws {
        let b = try CountingBackend()
        // Two worker threads: the keys zone and its lock are shared by both. No clock in
        // the outcome, however loaded the machine: the answer stays fresh for an hour
        // (the location's 1 s validity would let a late request refetch it), and the lock
        // holds for a minute (nor does a slow start let a second request through).
        let s = try start(
            b, extra: "proxy_cache_lock on; proxy_cache_lock_timeout 60s; proxy_cache_lock_age 60s;",
            main: "worker_processes 2;")
        defer { s.stop() }
        let n = 100
        let path = "/l?ms=700&cc=max-age=3600"
        let results = Mutex<[String]>([])
        let port = s.port
        let threads = (0..<n).map { _ in
            Thread {
                // A client that waits as long as the lock may hold.
                let text =
                    (try? {
                        let c = try RawClient(port: port, timeoutSeconds: 60)
                        try c.send("GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                        return try c.readResponse()
                    }())?.bodyText ?? "error"
                results.withLock { $0.append(text) }
            }
        }
        threads.forEach { $0.start() }
        let deadline = Date().addingTimeInterval(90)
        while results.withLock({ $0.count }) < n && Date() < deadline { usleep(50_000) }
        let texts = results.withLock { $0 }
        #expect(texts.count == n)
        #expect(texts.allSatisfy { $0 == "n=1 path=\(path)" })
        #expect(b.count == 1)
    }

    @Test func entriesSurviveARestartAndAReload() throws {
        let b = try CountingBackend()
        let s = try start(b, extra: "proxy_cache_valid 200 1h;")
        defer { s.stop() }
        _ = try get(s.port, "/k")
        s.stop()
        try s.start()
        let r = try get(s.port, "/k")
        #expect(r.header("X-Cache") == "HIT")
        #expect(r.bodyText == "n=1 path=/k")
        #expect(b.count == 1)
        // A reload keeps the zone's index.
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation 2)"))
        #expect(try get(s.port, "/k").header("X-Cache") == "HIT")
        #expect(b.count == 1)
    }

    @Test func aKilledWriteLeavesNoHalfEntry() throws {
        let b = try CountingBackend()
        let s = try start(b, extra: "proxy_cache_valid 200 1h;")
        defer { s.stop() }
        // The upstream sends half of the body, then waits: the entry is being written.
        let client = try RawClient(port: s.port)
        try client.send("GET /big?size=200000&part=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        var temp = false
        for _ in 0..<100 {
            if !temporaryFiles(s).isEmpty {
                temp = true
                break
            }
            usleep(50_000)
        }
        #expect(temp)
        // The serving process dies without a chance to clean up; its supervisor restarts it.
        let children = (try? String(contentsOfFile: "/proc/\(s.pid)/task/\(s.pid)/children", encoding: .utf8)) ?? ""
        let child = Int32(children.split(separator: " ").first ?? "") ?? 0
        #expect(child > 0)
        if child > 0 { kill(child, SIGKILL) }
        var up = false
        for _ in 0..<200 {
            if let r = try? get(s.port, "/probe?nocache=1&cookie=1"), r.status == 200 {
                up = true
                break
            }
            usleep(50_000)
        }
        #expect(up)
        // (The probe's answer has Set-Cookie: it is not stored, so it writes no file.)
        // No entry was published, and the loader removed the temporary file.
        #expect(temporaryFiles(s).isEmpty)
        let before = b.count
        let fresh = try get(s.port, "/big?size=2000")
        #expect(fresh.header("X-Cache") == "MISS")
        #expect(fresh.body.count == 2000)
        #expect(b.count == before + 1)
    }

    @Test func anUpstreamThatStopsMidBodyStoresNothing() throws {
        let b = try CountingBackend()
        let s = try start(b, extra: "proxy_cache_valid 200 1h; proxy_read_timeout 1s;")
        defer { s.stop() }
        // Half the body, then silence past proxy_read_timeout: the client's answer is cut.
        let c = try RawClient(port: s.port, timeoutSeconds: 5)
        try c.send("GET /cut?size=100000&part=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        let cut = (try? c.readResponse())?.body.count ?? 0
        #expect(cut < 100000)
        #expect(s.waitForFile("logs/error.log", containing: "upstream timed out"))
        // No entry, no temporary file: the cache directory holds no file at all.
        let files = (FileManager.default.enumerator(atPath: s.prefix + "cache")?.allObjects as? [String] ?? [])
            .filter { !(($0 as NSString).lastPathComponent.count <= 2) }
        #expect(files.isEmpty, "\(files)")
        let before = b.count
        let again = try get(s.port, "/cut?size=1000")
        #expect(again.header("X-Cache") == "MISS")
        #expect(b.count == before + 1)
    }

    @Test func purgeByKeyAndWildcardFromAnAllowedAddress() throws {
        let b = try CountingBackend()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    proxy_cache_path PREFIXcache keys_zone=pages:1m;
                    geo $purger { default 0; 127.0.0.1 1; }
                    map "$purger:$request_method" $purge { "1:PURGE" 1; default 0; }
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            proxy_pass http://127.0.0.1:\(b.port);
                            proxy_cache pages;
                            proxy_cache_key $uri;
                            proxy_cache_valid 200 1h;
                            proxy_cache_purge $purge;
                            add_header X-Cache $upstream_cache_status;
                        }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        for path in ["/blog/1", "/blog/2", "/about"] { _ = try get(s.port, path) }
        #expect(try get(s.port, "/blog/1").header("X-Cache") == "HIT")
        // From an address the geo does not allow, PURGE is just a request for the upstream.
        let outsider = try RawClient(port: s.port, from: "127.0.0.2")
        try outsider.send("PURGE /blog/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try outsider.readResponse().status != 204)
        #expect(try get(s.port, "/blog/1").header("X-Cache") == "HIT")
        let purged = try request(s.port, "PURGE /blog/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(purged.status == 204)
        #expect(try get(s.port, "/blog/1").header("X-Cache") == "MISS")
        let none = try request(s.port, "PURGE /nothing HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(none.status == 404)
        let wildcard = try request(s.port, "PURGE /blog/* HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(wildcard.status == 204)
        #expect(try get(s.port, "/blog/1").header("X-Cache") == "MISS")
        #expect(try get(s.port, "/blog/2").header("X-Cache") == "MISS")
        #expect(try get(s.port, "/about").header("X-Cache") == "HIT")
    }

    /// Files of the cache directory whose names have a '.' (entries being written).
    func temporaryFiles(_ s: TestServer) -> [String] {
        let root = s.prefix + "cache"
        let all = FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? []
        return all.filter { ($0 as NSString).lastPathComponent.contains(".") }
    }
}
