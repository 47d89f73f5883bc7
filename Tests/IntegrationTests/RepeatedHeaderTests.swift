// Repeated header lines as nginx's variables see them: `$http_*` and `$content_type`
// join every line (", ", cookies "; "), `$cookie_*` searches every Cookie line,
// `$sent_http_*` in an add_header sees the fields added before it, `$upstream_http_*`
// joins the upstream's lines, and a refused URI leaves `$uri` empty (logged empty, not "-").

import Foundation
import Testing

@Suite struct RepeatedHeaderTests {
    @Test func variablesJoinRepeatedLines() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format u "[$uri]";
                    server {
                        listen 127.0.0.1:PORT;
                        access_log logs/u.log u;
                        location / {
                            add_header X-Foo $http_foo;
                            add_header X-Type $content_type;
                            add_header X-Cookie $http_cookie;
                            add_header X-C-Bar $cookie_bar;
                            add_header X-C-Foo $cookie_foo;
                            add_header X-C-Sp $cookie_sp;
                            add_header X-C-Qux $cookie_qux;
                            return 204;
                        }
                        location /s {
                            add_header Cache-Control foo;
                            add_header Cache-Control bar;
                            add_header X-Sent-CC $sent_http_cache_control;
                            return 204;
                        }
                        location /u {
                            add_header X-Up $upstream_http_bar;
                            proxy_pass http://127.0.0.1:PORT/backend;
                        }
                        location /backend { add_header Bar a; add_header Bar b; return 204; }
                    }
                }
                """)
        try s.start()
        let r = try request(
            s.port,
            "GET / HTTP/1.1\r\nHost: x\r\nFoo: a\r\nFoo: b\r\nContent-Type: t1\r\nContent-Type: t2\r\n"
                + "Cookie: foo=1, qux=0; x=2\r\nCookie: bar=3;  SP = v w ; spx=1\r\n\r\n")
        #expect(r.header("X-Foo") == "a, b")
        #expect(r.header("X-Type") == "t1, t2")
        #expect(r.header("X-Cookie") == "foo=1, qux=0; x=2; bar=3;  SP = v w ; spx=1")
        // nginx: names without case, spaces around "=", the value up to ";"; no item qux.
        #expect(r.header("X-C-Sp") == "v w")
        #expect(r.header("X-C-Qux") == nil)
        #expect(r.header("X-C-Bar") == "3")
        #expect(r.header("X-C-Foo") == "1, qux=0")
        #expect(try get(s.port, "/s").header("X-Sent-CC") == "foo, bar")
        #expect(try get(s.port, "/u").header("X-Up") == "a, b")
        #expect(try request(s.port, "GET /../x HTTP/1.0\r\n\r\n").status == 400)
        s.stop()
        #expect(s.read("logs/u.log").contains("\n[]\n"))
    }
}
