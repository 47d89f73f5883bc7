// The SSI filter over real sockets: a static page with echo, set, if/elif/else, config
// and blocks; includes of a static file, of a location proxied to this server, and of
// the echo upstream streaming its answer in pieces (the page waits for it and goes on
// in order); the answer is chunked without Content-Length, Last-Modified or ETag; a
// location without `ssi on` sends the commands as they are.

import Foundation
import Testing

@Suite(.serialized) struct SSITests {
    func start(_ b: EchoBackend) throws -> TestServer {
        let page = """
            <!--# set var="who" value="<world>" -->hello <!--# echo var="who" -->|\
            <!--# echo var="who" encoding="none" -->|<!--# echo var="nothing" default="dflt" -->|\
            <!--# echo var="arg_x" -->|\
            <!--# if expr="$arg_x = /^y+$/" -->Y<!--# elif expr="$arg_x" -->X<!--# else -->NONE<!--# endif -->|\
            <!--# include virtual="/part.html" -->|<!--# include virtual="/self/part.html" -->|\
            <!--# include virtual="/api/stream?n=2&ms=100" -->|\
            <!--# block name="fallback" -->stub!<!--# endblock -->\
            <!--# include virtual="/missing.html" stub="fallback" -->|\
            <!--# include virtual="/part.html" set="kept" --><!--# echo var="kept" -->|\
            <!--# bogus -->|<!--# config errmsg="E" --><!--# bogus -->|end
            """
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        root html;
                        location / { ssi on; }
                        location /self/ { proxy_pass http://127.0.0.1:PORT/plain/; }
                        location /plain/ { alias html/; }
                        location /api/ { proxy_pass http://127.0.0.1:\(b.port)/; }
                    }
                }
                """,
            files: ["html/page.html": page, "html/part.html": "PART"])
        try server.start()
        return server
    }

    @Test func aStaticPageRunsItsCommandsAndIncludesInOrder() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let r = try get(s.port, "/page.html?x=yy")
        #expect(r.status == 200)
        #expect(r.header("Transfer-Encoding") == "chunked")
        #expect(r.header("Content-Length") == nil)
        #expect(r.header("Last-Modified") == nil)
        #expect(r.header("ETag") == nil)
        let parts = r.bodyText.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        #expect(
            parts == [
                "hello &lt;world&gt;", "<world>", "dflt", "yy", "Y", "PART", "PART", "chunk 0\nchunk 1\n", "stub!",
                "PART", "[an error occurred while processing the directive]", "E", "end",
            ])
        #expect(try get(s.port, "/page.html?x=z").bodyText.contains("|X|"))
        #expect(try get(s.port, "/page.html").bodyText.contains("|(none)|NONE|"))
    }

    @Test func withoutSSITheCommandsAreSentAsTheyAre() throws {
        let b = try EchoBackend()
        let s = try start(b)
        defer {
            s.stop()
            b.stop()
        }
        let r = try get(s.port, "/plain/page.html")
        #expect(r.status == 200)
        #expect(r.header("Content-Length") != nil)
        #expect(r.bodyText.hasPrefix("<!--# set var=\"who\""))
    }
}
