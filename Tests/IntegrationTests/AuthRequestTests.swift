// auth_request over real sockets: the subrequest machinery of the request pipeline.
// A Django-style setup — static files and a proxied API behind an auth view — with the
// auth endpoint on the echo upstream: 2xx lets the request through (and
// auth_request_set carries the auth answer's X-User on), 401 passes the challenge on,
// 403 denies, any other status is a 500 with nginx's log line; a static subrequest
// answers at once; keep-alive connections carry several authorized requests.

import Foundation
import Testing

@Suite(.serialized) struct AuthRequestTests {
    func start(_ b: EchoBackend) throws -> TestServer {
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format auth '$status $uri user=$sent_http_x_user';
                    access_log logs/access.log auth;
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        root html;
                        location = /auth {
                            internal;
                            proxy_pass http://127.0.0.1:\(b.port)/auth;
                            proxy_pass_request_body off;
                            proxy_set_header Content-Length "";
                        }
                        location = /broken-auth { internal; proxy_pass http://127.0.0.1:\(b.port)/status/500; }
                        location /protected/ {
                            auth_request /auth;
                            auth_request_set $user $upstream_http_x_user;
                            add_header X-User $user always;
                        }
                        location /api/ {
                            auth_request /auth;
                            auth_request_set $seen "$upstream_http_x_seen_method/$upstream_http_x_seen_length";
                            add_header X-Seen $seen always;
                            proxy_pass http://127.0.0.1:\(b.port)/;
                        }
                        location /broken/ { auth_request /broken-auth; }
                        location /static-allowed/ { auth_request /allow.txt; }
                        location /static-missing/ { auth_request /missing.txt; }
                        location /open/ { }
                    }
                }
                """,
            files: [
                "html/protected/f.txt": "protected file\n", "html/allow.txt": "ok\n",
                "html/static-allowed/f.txt": "behind a static check\n", "html/static-missing/f.txt": "never\n",
                "html/open/f.txt": "open\n",
            ])
        try server.start()
        return server
    }

    @Test func anAuthViewDecidesOverStaticFiles() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let allowed = try get(s.port, "/protected/f.txt", extra: "Authorization: Bearer good\r\n")
        #expect(allowed.status == 200)
        #expect(allowed.bodyText == "protected file\n")
        #expect(allowed.header("X-User") == "alice")
        let anonymous = try get(s.port, "/protected/f.txt")
        #expect(anonymous.status == 401)
        #expect(anonymous.header("WWW-Authenticate") == "Bearer realm=\"t\"")
        #expect(!anonymous.bodyText.contains("protected file"))
        let forbidden = try get(s.port, "/protected/f.txt", extra: "Authorization: Bearer forbidden\r\n")
        #expect(forbidden.status == 403)
        #expect(forbidden.header("WWW-Authenticate") == nil)
        // The subrequest is internal: a client cannot call it directly.
        #expect(try get(s.port, "/auth").status == 404)
        #expect(s.waitForFile("logs/access.log", containing: "200 /protected/f.txt user=alice"))
    }

    @Test func theApiIsProxiedOnlyAfterTheCheckAndTheCheckGetsNoBody() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let body = String(repeating: "x", count: 3000)
        let r = try request(
            s.port,
            "POST /api/echo HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nContent-Length: 3000\r\n"
                + "Connection: close\r\n\r\n\(body)")
        #expect(r.status == 200)
        // The proxied request itself carries the body (the echo reports its length).
        #expect(r.bodyText.contains("\"method\": \"POST\""))
        #expect(r.bodyText.contains("\"length\": 3000"))
        // The check itself was a GET without the body or its Content-Length.
        #expect(r.header("X-Seen") == "GET/-")
        let denied = try request(
            s.port, "POST /api/echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello")
        #expect(denied.status == 401)
    }

    @Test func keepAliveConnectionsCarrySeveralAuthorizedRequests() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let c = try RawClient(port: s.port)
        for i in 0..<5 {
            try c.send("GET /api/item\(i) HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n")
            let r = try c.readResponse()
            #expect(r.status == 200)
            #expect(r.bodyText.contains("/item\(i)"))
        }
        // Pipelined: a denied request between two allowed ones.
        try c.send(
            "GET /protected/f.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n"
                + "GET /protected/f.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /protected/f.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        #expect(try c.readResponse().status == 401)
        let last = try c.readResponse()
        #expect(last.status == 200)
        #expect(last.bodyText == "protected file\n")
    }

    @Test func otherStatusesAre500AndStaticSubrequestsAnswerAtOnce() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        #expect(try get(s.port, "/broken/x").status == 500)
        #expect(s.waitForFile("logs/error.log", containing: "auth request unexpected status: 500"))
        let allowed = try get(s.port, "/static-allowed/f.txt")
        #expect(allowed.status == 200)
        #expect(allowed.bodyText == "behind a static check\n")
        // A 404 from the check is "unexpected" too: 500, as nginx.
        #expect(try get(s.port, "/static-missing/f.txt").status == 500)
        #expect(try get(s.port, "/open/f.txt").status == 200)
    }
}
