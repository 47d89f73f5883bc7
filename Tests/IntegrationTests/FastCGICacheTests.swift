// fastcgi_cache against Debian's php-fpm running a script that counts its runs: a MISS
// then HITs that never reach PHP (the same body, the PHP's own header kept), HEAD from
// the entry (its CGI head stored with the status line it meant, without the Status
// field), the bypass, fastcgi_cache_valid per status, fastcgi_cache_purge, and nginx's refusal of a
// fastcgi_cache without a key. The server and php-fpm are stopped by pid.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct FastCGICacheTests {
    @Test func phpAnswersAreCached() throws {
        let php = try CGIBackend.startPHPFPM(unixSocket: false)
        defer { php.stop() }
        let s = try FastCGISCGITests.server(
            """
            fastcgi_cache_path PREFIXcache levels=1:2 keys_zone=php:1m;
            map $request_method $purge { PURGE 1; default 0; }
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root \(php.documentRoot);
                location / {
                    include fastcgi.conf;
                    fastcgi_pass \(php.address);
                    fastcgi_cache php;
                    fastcgi_cache_key $request_uri;
                    fastcgi_cache_valid 200 302 1h;
                    fastcgi_cache_bypass $arg_nocache;
                    fastcgi_cache_purge $purge;
                    add_header X-Cache $upstream_cache_status always;
                }
            }
            """)
        defer { s.stop() }
        let first = try get(s.port, "/count.php")
        #expect(first.header("X-Cache") == "MISS")
        let n = first.bodyText
        #expect(n.hasPrefix("n="))
        for _ in 0..<4 {
            let hit = try get(s.port, "/count.php")
            #expect(hit.status == 200)
            #expect(hit.header("X-Cache") == "HIT")
            #expect(hit.bodyText == n)
            #expect(hit.header("X-Run") == String(n.dropFirst(2)))
            #expect(hit.header("Status") == nil)
        }
        let head = try request(
            s.port, "HEAD /count.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.header("X-Cache") == "HIT")
        #expect(head.body.isEmpty)
        let bypassed = try get(s.port, "/count.php?nocache=1")
        #expect(bypassed.header("X-Cache") == "BYPASS")
        #expect(bypassed.bodyText != n)
        // A status fastcgi_cache_valid does not list is not stored.
        _ = try get(s.port, "/teapot.php")
        #expect(try get(s.port, "/teapot.php").header("X-Cache") == "MISS")  // 418 is not valid here
        _ = try get(s.port, "/index.php?r=1")
        let index = try get(s.port, "/index.php?r=1")
        #expect(index.header("X-Cache") == "HIT")
        #expect(index.bodyText == "php index")
        // fastcgi_cache_purge drops the entry: the next request runs the script again.
        let purged = try request(s.port, "PURGE /count.php HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        #expect(purged.status == 204)
        let after = try get(s.port, "/count.php")
        #expect(after.header("X-Cache") == "MISS")
        #expect(after.bodyText != n)
    }

    @Test func aCacheWithoutAKeyIsRefused() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    fastcgi_cache_path PREFIXcache keys_zone=php:1m;
                    server { listen 127.0.0.1:PORT; location / { fastcgi_pass 127.0.0.1:9; fastcgi_cache php; } }
                }
                """)
        #expect(throws: (any Error).self) { try s.start() }
        #expect(s.read("stderr.txt").contains("no \"fastcgi_cache_key\" for \"fastcgi_cache\""))
    }
}
