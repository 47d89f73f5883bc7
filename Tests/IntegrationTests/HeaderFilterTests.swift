// nginx's header filters after a handler or an upstream set the fields: `add_header ETag`
// replaces the ETag (an empty value removes it), `expires` on a proxied response replaces
// the upstream's Cache-Control and Expires, and `expires modified` uses the upstream's
// Last-Modified.

import Foundation
import Testing

@Suite struct HeaderFilterTests {
    @Test func etagReplacedAndExpiresOverUpstream() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /f { add_header ETag '"mine"'; }
                        location /none { add_header ETag foo always; add_header ETag '' always; }
                        location /epoch { expires epoch; proxy_pass http://127.0.0.1:PORT/backend; }
                        location /modified { expires modified 2048; proxy_pass http://127.0.0.1:PORT/backend; }
                        location /backend {
                            add_header Cache-Control private;
                            add_header Cache-Control max-age=5;
                            add_header Expires "Thu, 01 Jan 2099 00:00:00 GMT";
                            add_header Last-Modified "Mon, 28 Sep 1970 06:00:00 GMT";
                            return 204;
                        }
                    }
                }
                """, files: ["html/f.txt": "f", "html/none.txt": "n"])
        try s.start()
        let f = try get(s.port, "/f.txt")
        #expect(f.headers.filter { $0.0.lowercased() == "etag" }.map(\.1) == ["\"mine\""])
        #expect(try get(s.port, "/none.txt").header("ETag") == nil)
        #expect(try get(s.port, "/none/missing").header("ETag") == nil)
        let epoch = try get(s.port, "/epoch")
        #expect(epoch.headers.filter { $0.0.lowercased() == "cache-control" }.map(\.1) == ["no-cache"])
        #expect(epoch.headers.filter { $0.0.lowercased() == "expires" }.map(\.1) == ["Thu, 01 Jan 1970 00:00:01 GMT"])
        // Last-Modified + 2048 s.
        #expect(try get(s.port, "/modified").header("Expires") == "Mon, 28 Sep 1970 06:34:08 GMT")
    }
}
