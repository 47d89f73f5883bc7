// Unit tests of RequestParser: the fields it fills, nginx's error texts and codes for each
// strict rule, limits, and resumption across reads.

import Testing

@testable import SwiftginxHTTP

@Suite struct RequestParserTests {
    func error(_ text: String, options: RequestParserOptions = RequestParserOptions()) -> RequestParseError? {
        let (r, _, _) = parseHead(text, options: options)
        if case .error(let e) = r { return e }
        return nil
    }

    @Test func originFormFields() {
        let (r, h, b) = parseHead(
            "GET /a/b?x=1&y HTTP/1.1\r\nHost: Example.COM:8080\r\nX-A:  v  \r\nConnection: keep-alive\r\n\r\nBODY")
        #expect(r == .complete)
        #expect(h.method == .get)
        #expect(b.string(h.methodBytes) == "GET")
        #expect(b.string(h.target) == "/a/b?x=1&y")
        #expect(b.string(h.path) == "/a/b")
        #expect(b.string(h.query) == "x=1&y")
        #expect(h.version == .http11)
        #expect(b.string(h.requestLine) == "GET /a/b?x=1&y HTTP/1.1")
        #expect(b.string(h.host) == "Example.COM:8080")
        #expect(b.string(h.hostName) == "Example.COM")
        #expect(h.headers.count == 3)
        #expect(b.string(h.headers[1].value) == "v")
        #expect(h.keepAlive)
        #expect(h.contentLength == nil && !h.isChunked && !h.hasBody)
        #expect(h.headLength == b.count - 4)
    }

    @Test func absoluteFormHostWins() {
        let (r, h, b) = parseHead("GET http://a.example./p?q HTTP/1.1\r\nHost: b.example\r\n\r\n")
        #expect(r == .complete)
        #expect(b.string(h.host) == "a.example.")
        #expect(b.string(h.hostName) == "a.example")
        #expect(b.string(h.path) == "/p")
        #expect(b.string(h.query) == "q")
        let (r2, h2, b2) = parseHead("GET https://a.example:8443 HTTP/1.1\r\n\r\n")
        #expect(r2 == .complete)
        #expect(b2.string(h2.path) == "/")
        #expect(b2.string(h2.host) == "a.example:8443")
        let (r3, h3, b3) = parseHead("GET http://[::1]:80?x HTTP/1.1\r\n\r\n")
        #expect(r3 == .complete)
        #expect(b3.string(h3.hostName) == "[::1]")
        #expect(b3.string(h3.path) == "/" && b3.string(h3.query) == "x")
        #expect(error("GET http://u@h/ HTTP/1.1\r\n\r\n") == .badRequest("client sent invalid request"))
        #expect(error("GET http://a..b/ HTTP/1.1\r\n\r\n") == .badRequest("client sent invalid host in request line"))
        #expect(error("GET http:/a/ HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid request"))
    }

    @Test func asteriskOnlyForOptions() {
        let (r, h, b) = parseHead("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r == .complete && h.method == .options && b.string(h.path) == "*")
        #expect(error("GET * HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid request"))
        #expect(error("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid request"))
    }

    @Test func connectAndTraceAre405() {
        #expect(
            error("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n")
                == .methodNotAllowed("client sent CONNECT method"))
        #expect(error("CONNECT a.example HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid request"))
        #expect(error("TRACE / HTTP/1.1\r\nHost: a\r\n\r\n") == .methodNotAllowed("client sent TRACE method"))
        #expect(RequestParseError.methodNotAllowed("x").status == 405)
    }

    @Test func methods() {
        for (m, e) in [
            ("GET", HTTPMethod.get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
            ("PATCH", .patch), ("OPTIONS", .options), ("PROPFIND", .other), ("M-SEARCH", .other),
        ] {
            let (r, h, _) = parseHead("\(m) / HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(r == .complete && h.method == e, "\(m)")
        }
        for bad in ["get / HTTP/1.1", " GET / HTTP/1.1", "GET\t/ HTTP/1.1", "G(T / HTTP/1.1", "GET"] {
            #expect(error(bad + "\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid method"), "\(bad)")
        }
    }

    @Test func requestLineShape() {
        let invalid = RequestParseError.badRequest("client sent invalid request")
        for bad in [
            "GET  / HTTP/1.1", "GET / HTTP/1.1 ", "GET /", "GET / HTTP/1.10", "GET / http/1.1",
            "GET / HTTP/0.9", "GET / HTTP/1", "GET /a\u{7F} HTTP/1.1", "GET a HTTP/1.1",
        ] {
            #expect(error(bad + "\r\nHost: a\r\n\r\n") == invalid, "\(bad)")
        }
        #expect(error("GET / HTTP/2.0\r\nHost: a\r\n\r\n") == .versionNotSupported)
        #expect(RequestParseError.versionNotSupported.status == 505)
        // A bad target comes first, as nginx reads the line left to right: the HTTP/2
        // preface read as HTTP/1 is a 400.
        #expect(error("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n") == .badRequest("client sent invalid request"))
        let (r, h, _) = parseHead("GET / HTTP/1.2\r\nHost: a\r\n\r\n")
        #expect(r == .complete && h.version == HTTPVersion(major: 1, minor: 2) && h.keepAlive)
        let (r2, h2, _) = parseHead("GET /caf\u{E9} HTTP/1.0\r\n\r\n")  // obs-text in the target, as nginx
        #expect(r2 == .complete && !h2.keepAlive && h2.host == nil)
    }

    @Test func leadingEmptyLinesAreSkipped() {
        let (r, h, b) = parseHead("\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r == .complete && b.string(h.requestLine) == "GET / HTTP/1.1" && h.headLength == b.count)
        // as nginx, an empty line before the request line may end in a bare LF too
        let (r2, h2, b2) = parseHead("\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(r2 == .complete && b2.string(h2.requestLine) == "GET / HTTP/1.1")
    }

    @Test func bareLFHeadsAreAccepted() {
        let (r, h, b) = parseHead("GET /a?b HTTP/1.0\nHost: localhost\nX-A: v \n\nBODY")
        #expect(r == .complete)
        #expect(b.string(h.requestLine) == "GET /a?b HTTP/1.0")
        #expect(b.string(h.hostName) == "localhost")
        #expect(h.headers.count == 2 && b.string(h.headers[1].value) == "v")
        #expect(h.headLength == b.count - 4)
        let (r2, h2, b2) = parseHead("\nPOST / HTTP/1.1\nHost: a\nContent-Length: 3\n\nabc")
        #expect(r2 == .complete && h2.contentLength == 3 && h2.headLength == b2.count - 3)
        // split at every offset: the same result however the bytes arrive
        let text = "GET / HTTP/1.1\nHost: a\nX: 1\n\n"
        for cut in 1..<text.utf8.count {
            let (rs, hs, _) = parseHeadSplit(text, at: cut)
            #expect(rs == .complete && hs.headers.count == 2, "cut \(cut)")
        }
    }

    @Test func lineEndings() {
        let hl = RequestParseError.badRequest("client sent invalid header line")
        // mixed styles in one head: either way round
        #expect(error("GET / HTTP/1.1\nHost: a\r\n\r\n") == hl)
        #expect(error("GET / HTTP/1.1\nHost: a\n\r\n") == hl)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX: b\nTransfer-Encoding: chunked\r\n\r\n") == hl)
        #expect(error("GET / HTTP/1.1\nHost: a\nX: a\rb\n\n") == hl)
        #expect(error("GET / HTTP/1.1\rHost: a\n\n") == .badRequest("client sent invalid request"))
        #expect(error("GET / HTTP/1.1\r\nHost: a\n\r\n") == hl)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n") == hl)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\n\n") == hl)
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\n\r\r\n") == hl)
    }

    @Test func headerSyntax() {
        let hl = RequestParseError.badRequest("client sent invalid header line")
        for bad in [
            "X-A : 1", "X A: 1", ": 1", "NoColon", " X: 1", "\tX: 1", "X\u{01}: 1", "X(: 1", "X-A: a\u{00}b",
            "X-A: a\u{7F}", "X-A: a\u{0B}",
        ] {
            #expect(error("GET / HTTP/1.1\r\nHost: a\r\n\(bad)\r\n\r\n") == hl, "\(bad.debugDescription)")
        }
        #expect(error("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n folded\r\n\r\n") == hl)
        let nonASCII: [UInt8] =
            Array("GET / HTTP/1.1\r\nHost: a\r\nContent-Length".utf8) + [0x85] + Array(": 5\r\n\r\n".utf8)
        var p = RequestParser()
        var h = RequestHead()
        #expect(nonASCII.withUnsafeBytes { p.parse($0, into: &h) } == .error(hl))
        // obs-text and HTAB in values are fine
        let ok: [UInt8] = Array("GET / HTTP/1.1\r\nHost: a\r\nX: \t".utf8) + [0xFF, 0x80] + Array("\tv\r\n\r\n".utf8)
        p.reset()
        #expect(ok.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        #expect(Array(ok[h.headers[1].value]) == [0xFF, 0x80, 0x09, 0x76])
    }

    @Test func invalidHeaderNamesAreIgnoredOrKept() {
        let text = "GET / HTTP/1.1\r\nHost: a\r\nX_Under: 1\r\nX.Dot: 2\r\nOk: 3\r\n\r\n"
        let (r, h, b) = parseHead(text)
        #expect(r == .complete)
        #expect(h.headers.map { b.string($0.name)! } == ["Host", "Ok"])
        var o = RequestParserOptions()
        o.underscoresInHeaders = true
        let (_, h2, b2) = parseHead(text, options: o)
        #expect(h2.headers.map { b2.string($0.name)! } == ["Host", "X_Under", "Ok"])
        o.ignoreInvalidHeaders = false
        o.underscoresInHeaders = false
        let (_, h3, _) = parseHead(text, options: o)
        #expect(h3.headers.count == 4)
        // an ignored name never acts as a framing header
        let (r4, h4, _) = parseHead("POST / HTTP/1.1\r\nHost: a\r\nContent_Length: 5\r\n\r\n")
        #expect(r4 == .complete && h4.contentLength == nil)
    }

    @Test func host() {
        #expect(error("GET / HTTP/1.1\r\n\r\n") == .badRequest("client sent HTTP/1.1 request without \"Host\" header"))
        #expect(
            error("GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n")
                == .badRequest("client sent duplicate header line: \"host: b\", previous value: \"Host: a\""))
        for bad in ["a..b", "a/b", "a\\b", "", ":80", "."] {
            #expect(
                error("GET / HTTP/1.1\r\nHost: \(bad)\r\n\r\n") == .badRequest("client sent invalid host header"),
                "\(bad)")
        }
        let (r, h, b) = parseHead("GET / HTTP/1.0\r\n\r\n")
        #expect(r == .complete && h.host == nil)
        let (_, h2, b2) = parseHead("GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n")
        #expect(b2.string(h2.hostName) == "[::1]")
        _ = b
    }

    /// nginx 1.31.5's Host rules (ngx_http_validate_host), for the header and the request line.
    @Test func hostValidationAsNginx() {
        let good: [(String, String)] = [
            ("l", "l"), ("a.b:", "a.b"), ("www.a-b.xyz.", "www.a-b.xyz"), ("a-b.xyz.:88", "a-b.xyz"),
            ("1.2.3.4:65535", "1.2.3.4"), ("[abcd::ef98:0:7654:321]", "[abcd::ef98:0:7654:321]"),
            ("[::ffff:12.30.67.89]:80", "[::ffff:12.30.67.89]"), ("a_b~c!$&'()*+,;=%41", "a_b~c!$&'()*+,;=%41"),
            ("[v1F.!$&'()*+,;=-._~Az09:]", "[v1F.!$&'()*+,;=-._~Az09:]"),
        ]
        for (value, name) in good {
            let (r, h, b) = parseHead("GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n")
            #expect(r == .complete, "\(value)")
            #expect(b.string(h.hostName) == name, "\(value)")
        }
        let bad = [
            "example.com.:1.2", "1.2.3.4:65536", "1.2.3.4:98777", "1.2.3.4:9000:80", "[a::1].", "[a::1].:98",
            "[a::1]..:98", "extra[a::1]:98", "[a::1", "[a::1]x", "..a", "a/b", "[a:/:1]", "a b", "a\"b", "a@b",
        ]
        for value in bad {
            #expect(
                error("GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n") == .badRequest("client sent invalid host header"),
                "\(value)")
        }
    }

    @Test func absoluteFormHostAsNginx() {
        for (authority, name) in [
            ("[abcd::ef98:0:7654:321]:5", "[abcd::ef98:0:7654:321]"), ("a.b.:2", "a.b"),
            ("[v0A.!$&'()*+,;=-._~z:]", "[v0A.!$&'()*+,;=-._~z:]"),
        ] {
            let (r, h, b) = parseHead("GET http://\(authority)/ HTTP/1.0\r\n\r\n")
            #expect(r == .complete, "\(authority)")
            #expect(b.string(h.hostName) == name, "\(authority)")
        }
        #expect(
            error("GET http://1.2.3.4:123456/ HTTP/1.0\r\n\r\n")
                == .badRequest("client sent invalid host in request line"))
        #expect(error("GET http://a_b/ HTTP/1.0\r\n\r\n") == .badRequest("client sent invalid request"))
        #expect(error("GET http://extra[::1]/ HTTP/1.0\r\n\r\n") == .badRequest("client sent invalid request"))
    }

    /// `$request_port`: the port sent with the host that named the server (the absolute
    /// target's over the Host header); none for no port, an empty one or 0.
    @Test func requestPort() {
        func port(_ text: String) -> Int? {
            let (r, h, b) = parseHead(text)
            #expect(r == .complete, "\(text)")
            return b.withUnsafeBytes { h.requestPort(in: $0) }
        }
        #expect(port("GET / HTTP/1.0\r\n\r\n") == nil)
        #expect(port("GET / HTTP/1.0\r\nHost: a\r\n\r\n") == nil)
        #expect(port("GET / HTTP/1.0\r\nHost: a:\r\n\r\n") == nil)
        #expect(port("GET / HTTP/1.0\r\nHost: a:0\r\n\r\n") == nil)
        #expect(port("GET / HTTP/1.0\r\nHost: a.:8080\r\n\r\n") == 8080)
        #expect(port("GET / HTTP/1.0\r\nHost: [::1]:443\r\n\r\n") == 443)
        #expect(port("GET http://a:8080 HTTP/1.0\r\nHost: a:9000\r\n\r\n") == 8080)
    }

    /// `max_headers`: counted over the headers kept (ignored invalid names do not count).
    @Test func maxHeaders() {
        var o = RequestParserOptions()
        o.maxHeaders = 2
        let (r, h, _) = parseHead("GET / HTTP/1.0\r\nHost: a\r\nX_A: 1\r\nB: 2\r\n\r\n", options: o)
        #expect(r == .complete && h.headers.count == 2)
        #expect(
            error("GET / HTTP/1.0\r\nHost: a\r\nA: 1\r\nB: 2\r\n\r\n", options: o)
                == .headerTooLarge("client sent too many header lines"))
        #expect(RequestParserOptions().maxHeaders == 1000)
    }

    /// Headers nginx takes once: a second line is a 400 naming both.
    @Test func uniqueHeaders() {
        for name in [
            "If-Modified-Since", "If-Unmodified-Since", "If-Match", "If-None-Match", "Content-Range", "If-Range",
            "Expect", "Authorization", "Proxy-Authorization",
        ] {
            #expect(
                error("GET / HTTP/1.1\r\nHost: a\r\n\(name): x\r\n\(name.lowercased()): y\r\n\r\n")
                    == .badRequest(
                        "client sent duplicate header line: \"\(name.lowercased()): y\", previous value: \"\(name): x\""
                    ),
                "\(name)")
        }
        // Repeatable ones are kept (joined by the variables).
        let (r, h, _) = parseHead(
            "GET / HTTP/1.1\r\nHost: a\r\nUser-Agent: a\r\nUser-Agent: b\r\nContent-Type: a\r\n"
                + "Content-Type: b\r\nCookie: a=1\r\nCookie: b=2\r\n\r\n")
        #expect(r == .complete && h.headers.count == 7)
    }

    @Test func connectNeedsAuthorityForm() {
        #expect(error("CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid request"))
        #expect(error("CONNECT http://a:1 HTTP/1.1\r\nHost: a\r\n\r\n") == .badRequest("client sent invalid request"))
    }

    @Test func fragmentIsNotPartOfTheQuery() {
        let (_, h, b) = parseHead("GET http://localhost:8080?args#frag HTTP/1.0\r\n\r\n")
        #expect(b.string(h.path) == "/" && b.string(h.query) == "args")
        let (_, h2, b2) = parseHead("GET /a?x=1#f?g HTTP/1.0\r\n\r\n")
        #expect(b2.string(h2.path) == "/a" && b2.string(h2.query) == "x=1")
        let (_, h3, b3) = parseHead("GET /a#f?g HTTP/1.0\r\n\r\n")
        #expect(b3.string(h3.path) == "/a#f?g" && h3.query == nil)
    }

    @Test func contentLength() {
        let (r, h, _) = parseHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\t 0042 \r\n\r\n")
        #expect(r == .complete && h.contentLength == 42 && h.hasBody)
        let inv = RequestParseError.badRequest("client sent invalid \"Content-Length\" header")
        for bad in ["", "+5", "-1", "0x5", "5, 5", "5 5", "1_0", "9223372036854775808", "18446744073709551621"] {
            #expect(error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \(bad)\r\n\r\n") == inv, "\(bad)")
        }
        let (_, max, _) = parseHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 9223372036854775807\r\n\r\n")
        #expect(max.contentLength == Int64.max)
        #expect(
            error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n")
                == .badRequest(
                    "client sent duplicate header line: \"Content-Length: 5\", previous value: \"Content-Length: 5\""))
    }

    @Test func transferEncoding() {
        let (r, h, _) = parseHead("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n")
        #expect(r == .complete && h.isChunked && h.contentLength == nil && h.hasBody)
        // nginx 1.31.5 takes exactly "chunked": any list is an unknown coding (501).
        #expect(error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n")?.status == 501)
        #expect(
            error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n")
                == .notImplemented("client sent unknown \"Transfer-Encoding\": \"gzip\""))
        #expect(error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")?.status == 501)
        #expect(error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \"chunked\"\r\n\r\n")?.status == 501)
        #expect(error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n")?.status == 501)
        #expect(error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n")?.status == 501)
        #expect(
            error("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")?
                .status == 400)
        #expect(
            error("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .badRequest("client sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time"))
        #expect(
            error("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .badRequest("client sent HTTP/1.0 request with \"Transfer-Encoding\" header"))
        #expect(RequestParseError.notImplemented("x").status == 501)
    }

    @Test func connectionExpectUpgrade() {
        let (_, a, _) = parseHead("GET / HTTP/1.1\r\nHost: a\r\nConnection: foo, Close\r\n\r\n")
        #expect(!a.keepAlive)
        let (_, b, _) = parseHead("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n")
        #expect(b.keepAlive)
        let (_, c, _) = parseHead("GET / HTTP/1.0\r\n\r\n")
        #expect(!c.keepAlive)
        let (_, d, db) = parseHead(
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n")
        #expect(db.string(d.upgrade) == "websocket" && d.keepAlive)
        let (_, e, _) = parseHead("GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n")
        #expect(e.upgrade == nil)
        let (_, f, _) = parseHead("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n")
        #expect(f.expectContinue)
        let (_, g, _) = parseHead("POST / HTTP/1.1\r\nHost: a\r\nExpect: 200-ok\r\n\r\n")
        #expect(!g.expectContinue)
        let (_, i, _) = parseHead("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n")
        #expect(!i.expectContinue)
    }

    @Test func limits() {
        var o = RequestParserOptions()
        o.maxRequestLine = 32
        o.maxHeaderLine = 20
        o.maxHeaderBytes = 80
        // request line of exactly 32 bytes with CRLF passes, 33 fails with 414
        let line30 = "GET /" + String(repeating: "a", count: 16) + " HTTP/1.1"  // 30 bytes
        let (r, _, _) = parseHead(line30 + "\r\nHost: a\r\n\r\n", options: o)
        #expect(r == .complete)
        #expect(
            error("GET /a" + String(repeating: "a", count: 16) + " HTTP/1.1\r\nHost: a\r\n\r\n", options: o)
                == .uriTooLong)
        #expect(RequestParseError.uriTooLong.status == 414)
        // header line over 20 bytes, and a head over 80 bytes
        let tooLong = RequestParseError.headerTooLarge("client sent too long header line")
        #expect(
            error("GET / HTTP/1.1\r\nHost: a\r\nX: " + String(repeating: "b", count: 16) + "\r\n\r\n", options: o)
                == tooLong)
        #expect(
            error("GET / HTTP/1.1\r\nHost: a\r\n" + String(repeating: "X: 12345678\r\n", count: 6) + "\r\n", options: o)
                == tooLong)
        #expect(tooLong.status == 400 && tooLong.errorPageCode == 494)
        // the limit is detected before the line ends
        var p = RequestParser(options: o)
        var h = RequestHead()
        let partial = Array(("GET /" + String(repeating: "a", count: 40)).utf8)
        #expect(partial.withUnsafeBytes { p.parse($0, into: &h) } == .error(.uriTooLong))
    }

    @Test func resumesAcrossReads() {
        let text = Array("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc".utf8)
        var p = RequestParser()
        var h = RequestHead()
        for n in 1..<(text.count - 3) {
            let r = text[..<n].withUnsafeBytes { p.parse($0, into: &h) }
            #expect(r == .incomplete, "prefix \(n)")
        }
        let r = text.withUnsafeBytes { p.parse($0, into: &h) }
        #expect(r == .complete && h.contentLength == 3 && h.headLength == text.count - 3)
        // calling again after completion is stable; reset starts a new request
        #expect(text.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        p.reset()
        let next = Array("GET / HTTP/1.1\r\nHost: b\r\n\r\n".utf8)
        #expect(next.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        #expect(h.headers.count == 1 && h.contentLength == nil)
    }

    @Test func headersKeepCapacityAcrossRequests() {
        var h = RequestHead()
        h.headers.reserveCapacity(64)
        let cap = h.headers.capacity
        h.reset()
        #expect(h.headers.capacity == cap)
    }

    /// As nginx, bytes no method may hold fail the request line before it ends (a uwsgi
    /// packet or a TLS record sent to an HTTP port gets its 400 at once).
    @Test func anInvalidMethodByteFailsBeforeTheLineEnds() {
        var p = RequestParser()
        var h = RequestHead()
        let binary: [UInt8] = [0x00, 0x2c, 0x01, 0x00, 0x0c]
        #expect(binary.withUnsafeBytes { p.parse($0, into: &h) } == .error(.badRequest("client sent invalid method")))
        p.reset()
        let lower = Array("get".utf8)
        #expect(lower.withUnsafeBytes { p.parse($0, into: &h) } == .error(.badRequest("client sent invalid method")))
        p.reset()
        let partial = Array("GE".utf8)
        #expect(partial.withUnsafeBytes { p.parse($0, into: &h) } == .incomplete)
        p.reset()
        let method = Array("GET /pa".utf8)
        #expect(method.withUnsafeBytes { p.parse($0, into: &h) } == .incomplete)
    }

    /// The same verdict whatever the split: an invalid method byte is reported before a
    /// bad line end or an over-long line (found by the fuzzer: " wG/..." whole said
    /// "invalid request", split after 5 bytes "invalid method").
    @Test func anInvalidMethodIsReportedBeforeTheLineEnd() {
        #expect(error(" wG/teP/ HTTP/1.1\rkworl: x\r\n\r\n") == .badRequest("client sent invalid method"))
        #expect(error("get / HTTP/1.1\nHost: a\r\n\r\n") == .badRequest("client sent invalid method"))
        #expect(error("POSTHTTapplication/x\r / HTTP/1.0\r\n\r\n") == .badRequest("client sent invalid method"))
        // A line whose CR is the last byte so far: the method is judged already.
        var p = RequestParser()
        var h = RequestHead()
        let pending = Array(":\t\tT : d\r".utf8)
        #expect(pending.withUnsafeBytes { p.parse($0, into: &h) } == .error(.badRequest("client sent invalid method")))
        var options = RequestParserOptions()
        options.maxRequestLine = 16
        #expect(
            error("g" + String(repeating: "a", count: 40) + "\r\n\r\n", options: options)
                == .badRequest("client sent invalid method"))
        let long = "GET /" + String(repeating: "a", count: 40) + " HTTP/1.1\r\n\r\n"
        #expect(error(long, options: options) == .uriTooLong)
    }
}
