// The Cache-Control extensions and revalidation as nginx (1.19.3 and later) applies
// them, over real sockets, with a second server of the same swiftginx as the upstream
// (it answers 500 when asked `?e=1`, and closes without an answer for `?e=2`): an
// upstream's 5xx answer is passed on even within the entry's stale-if-error window
// (only proxy_cache_use_stale http_500 serves the stale entry for it), while a failure
// within the window is answered STALE; a 304 that says nothing of its own validity
// gives the entry the stored answer's (max-age counted again from now), so the next
// request is a HIT; and an entry is fresh through the second it is valid until.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct CacheStaleTests {
    @Test func staleIfErrorCoversFailuresNotFiveHundreds() throws {
        let upstreamPort = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    proxy_cache_path PREFIXcache keys_zone=pages:1m;
                    server {
                        listen 127.0.0.1:PORT;
                        proxy_cache pages;
                        proxy_cache_key $uri;
                        add_header X-Cache $upstream_cache_status always;
                        location / { proxy_pass http://127.0.0.1:\(upstreamPort); }
                        location /listed/ {
                            proxy_pass http://127.0.0.1:\(upstreamPort);
                            proxy_cache_use_stale http_500;
                        }
                    }
                    server {
                        listen 127.0.0.1:\(upstreamPort);
                        location / {
                            add_header Cache-Control "max-age=1, stale-if-error=30";
                            if ($arg_e = 1) { return 500; }
                            if ($arg_e = 2) { return 444; }
                            return 200 "fresh $uri";
                        }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        for path in ["/a", "/listed/a"] { #expect(try get(s.port, path).header("X-Cache") == "MISS") }
        usleep(2_100_000)
        let passed = try get(s.port, "/a?e=1")
        #expect(passed.status == 500)
        #expect(passed.header("X-Cache") == "EXPIRED")
        let listed = try get(s.port, "/listed/a?e=1")
        #expect(listed.status == 200)
        #expect(listed.header("X-Cache") == "STALE")
        #expect(listed.bodyText == "fresh /listed/a")
        // A failure within the window (the upstream closes without answering).
        let failed = try get(s.port, "/a?e=2")
        #expect(failed.status == 200)
        #expect(failed.header("X-Cache") == "STALE")
        #expect(failed.bodyText == "fresh /a")
    }

    /// nginx counts an entry fresh through the second it is valid until (stale once
    /// valid_sec < now): `proxy_cache_valid 200 1s` stored at t.0 still hits at t+1.4.
    @Test func freshThroughTheLastSecond() throws {
        let b = try CountingBackend()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    proxy_cache_path PREFIXcache keys_zone=pages:1m;
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            proxy_pass http://127.0.0.1:\(b.port);
                            proxy_cache pages;
                            proxy_cache_valid 200 1s;
                            add_header X-Cache $upstream_cache_status;
                        }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        // Just after a second starts.
        while Date().timeIntervalSince1970.truncatingRemainder(dividingBy: 1) > 0.1 { usleep(5_000) }
        #expect(try get(s.port, "/f").header("X-Cache") == "MISS")
        usleep(1_400_000)
        #expect(try get(s.port, "/f").header("X-Cache") == "HIT")
        usleep(1_000_000)
        #expect(try get(s.port, "/f").header("X-Cache") == "EXPIRED")
    }

    @Test func aBare304RenewsTheStoredValidity() throws {
        let b = try CountingBackend()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    proxy_cache_path PREFIXcache keys_zone=pages:1m;
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            proxy_pass http://127.0.0.1:\(b.port);
                            proxy_cache pages;
                            proxy_cache_revalidate on;
                            add_header X-Cache $upstream_cache_status;
                        }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        let path = "/r?cc=max-age=1&lm=1"
        #expect(try get(s.port, path).header("X-Cache") == "MISS")
        usleep(2_100_000)
        let revalidated = try get(s.port, path)
        #expect(revalidated.header("X-Cache") == "REVALIDATED")
        #expect(revalidated.bodyText == "n=1 path=\(path)")
        // The 304 had no Cache-Control: the stored max-age=1 counts again from now.
        let hit = try get(s.port, path)
        #expect(hit.header("X-Cache") == "HIT")
        #expect(b.count == 2)
    }
}
