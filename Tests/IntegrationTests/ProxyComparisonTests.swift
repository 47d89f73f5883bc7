// The same proxy configuration run by nginx (the reference) and by swiftginx in
// front of one echo upstream that reports what it received: for each request the
// upstream must see the same request line, the same header lines in the same order
// and the same body; and the client must get the same status, Location and
// Set-Cookie. This is the contract for re-serializing requests "the way nginx does".

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct ProxyComparisonTests {
    static func config(backend: Int, preamble: String, temp: String) -> String {
        """
        \(preamble)
        http {
            access_log off;
            \(temp)
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                location / {
                    proxy_pass http://127.0.0.1:\(backend);
                    proxy_set_header X-Real-IP $remote_addr;
                    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                }
                location /two/ { proxy_pass http://127.0.0.1:\(backend)/new/; }
                location ~ ^/re/(.*)$ { proxy_pass http://127.0.0.1:\(backend); }
                location /rw/ {
                    rewrite ^/rw/(.*)$ /changed/$1 break;
                    proxy_pass http://127.0.0.1:\(backend)/ignored/;
                }
                location /h11/ {
                    proxy_pass http://127.0.0.1:\(backend);
                    proxy_http_version 1.1;
                    proxy_set_header Connection "";
                    proxy_set_header Host $host;
                    proxy_set_header X-Empty "";
                    proxy_set_header X-Proto $scheme;
                }
                location /nohdr/ {
                    proxy_pass http://127.0.0.1:\(backend);
                    proxy_pass_request_headers off;
                    proxy_method PUT;
                }
                location /ck/ {
                    proxy_pass http://127.0.0.1:\(backend)/;
                    proxy_cookie_domain backend.local example.org;
                    proxy_cookie_path /app/ /;
                }
                location /redir/ { proxy_pass http://127.0.0.1:\(backend)/; }
                location /noredir/ { proxy_pass http://127.0.0.1:\(backend)/; proxy_redirect off; }
                location /ownredir/ {
                    proxy_pass http://127.0.0.1:\(backend)/;
                    proxy_redirect /target /elsewhere;
                }
            }
        }
        """
    }

    /// The upstream's report of a request: target, version, header lines, body hash.
    struct Seen: Equatable, CustomStringConvertible {
        var target: String
        var version: String
        var method: String
        var headers: [String]
        var length: Int
        var sha: String
        var description: String { "\(method) \(target) \(version) \(headers) \(length)" }
    }

    func seen(_ r: HTTPResponse) throws -> Seen {
        guard let o = try? JSONSerialization.jsonObject(with: Data(r.body)) as? [String: Any] else {
            throw TestFailure("not a report: \(r.rawHead) \(r.bodyText)")
        }
        let headers = (o["headers"] as? [[String]] ?? []).map { $0.joined(separator: ": ") }
        return Seen(
            target: o["target"] as? String ?? "", version: o["version"] as? String ?? "",
            method: o["method"] as? String ?? "", headers: headers, length: o["length"] as? Int ?? -1,
            sha: o["sha256"] as? String ?? "")
    }

    @Test func upstreamSeesWhatNginxSends() throws {
        try requireNginx()
        let backend = try EchoBackend()
        let server = try TestServer(
            config: Self.config(backend: backend.port, preamble: TestServer.preamble, temp: ""))
        let nginx = try PrefixNginx(
            prefix: server.prefix,
            config: Self.config(
                backend: backend.port, preamble: PrefixNginx.preamble, temp: PrefixNginx.tempPaths))
        try server.start()
        defer {
            nginx.stop()
            server.stop()
            backend.stop()
        }
        let cases: [String] = [
            "GET /a/b?x=1&y=%20 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: t\r\nAccept: */*\r\n\r\n",
            "GET /a HTTP/1.1\r\nHost: h\r\nConnection: keep-alive\r\nKeep-Alive: 300\r\nTE: trailers\r\n"
                + "Upgrade: h2c\r\nX-Forwarded-For: 10.0.0.1\r\nX-Real-IP: 6.6.6.6\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n",
            "GET /two/sub/%7Efile%20x.txt?q=1 HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /two/ HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /re/abc?z HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /rw/x%20y?k=v HTTP/1.1\r\nHost: h\r\n\r\n",
            "GET /h11/p HTTP/1.1\r\nHost: Example.COM:8080\r\n\r\n",
            "GET /nohdr/p HTTP/1.1\r\nHost: h\r\nX-Dropped: 1\r\n\r\n",
            "POST /form HTTP/1.1\r\nHost: h\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world",
            "POST /upload-chunked HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
            "GET /a/./b/../c//d HTTP/1.1\r\nHost: h\r\n\r\n",
            "HEAD /head HTTP/1.1\r\nHost: h\r\n\r\n",
            "DELETE /del HTTP/1.0\r\nHost: h\r\n\r\n",
        ]
        for raw in cases {
            let isHead = raw.hasPrefix("HEAD")
            let a = try request(nginx.port, raw, headRequest: isHead)
            let b = try request(server.port, raw, headRequest: isHead)
            #expect(a.status == b.status, "\(raw)")
            if isHead {
                #expect(a.header("Content-Length") == b.header("Content-Length"), "\(raw)")
                continue
            }
            let sa = try seen(a)
            let sb = try seen(b)
            #expect(sa == sb, "\(raw)\nnginx:     \(sa)\nswiftginx: \(sb)")
        }
        // Redirects and cookies as the client sees them.
        for path in [
            "/redir", "/two?a=b", "/redir/redirect", "/redir/redirect-abs", "/noredir/redirect-abs",
            "/ownredir/redirect",
        ] {
            let a = try get(nginx.port, path)
            let b = try get(server.port, path)
            #expect(a.status == b.status, "\(path)")
            #expect(
                a.header("Location")?.replacingOccurrences(of: ":\(nginx.port)", with: ":P")
                    == b.header("Location")?.replacingOccurrences(of: ":\(server.port)", with: ":P"),
                "\(path): \(a.header("Location") ?? "-") vs \(b.header("Location") ?? "-")")
        }
        let a = try get(nginx.port, "/ck/cookies")
        let b = try get(server.port, "/ck/cookies")
        let cookies = { (r: HTTPResponse) in r.headers.filter { $0.0.lowercased() == "set-cookie" }.map(\.1) }
        #expect(cookies(a) == cookies(b))
        #expect(cookies(b).count == 2)
    }
}
