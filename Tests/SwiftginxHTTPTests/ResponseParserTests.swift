// Unit tests of ResponseParser: heads as gunicorn, uWSGI, Daphne and Apache send them, the
// keep-alive and upgrade decisions, nginx's error texts for each strict rule, smuggling-
// style framing, the size limit and resumption. Every case is parsed whole, byte by byte
// and split at every offset, and the three must agree.

import Testing

@testable import SwiftginxHTTP

/// What one parse of a response head produced, as comparable values.
struct ResponseSnapshot: Equatable, CustomStringConvertible {
    var result: ResponseParseResult
    var version = HTTPVersion.http11
    var status = 0
    var reason = ""
    var headers: [String] = []
    var contentLength: Int64? = nil
    var chunked = false
    var keepAlive = false
    var upgrade = false
    var headLength = 0

    var description: String {
        "\(result) \(status) \(reason.debugDescription) \(headers) cl=\(String(describing: contentLength)) "
            + "chunked=\(chunked) ka=\(keepAlive) up=\(upgrade) len=\(headLength)"
    }

    /// Feeds growing prefixes of `bytes` (lengths `cuts`, the last being the whole) to one
    /// parser; the first answer that is not `.incomplete` must stay the answer.
    static func run(_ bytes: [UInt8], cuts: [Int], maxHeadBytes: Int) -> ResponseSnapshot {
        var parser = ResponseParser(maxHeadBytes: maxHeadBytes)
        var head = ResponseHead()
        var first: ResponseParseResult? = nil
        var last = ResponseParseResult.incomplete
        for n in cuts {
            last = bytes[..<n].withUnsafeBytes { parser.parse($0, into: &head) }
            if first == nil, last != .incomplete { first = last }
        }
        if let first, first != last { Issue.record("answer changed from \(first) to \(last)") }
        var s = ResponseSnapshot(result: last)
        guard last == .complete else { return s }
        func text(_ r: Range<Int>) -> String { String(decoding: bytes[r], as: UTF8.self) }
        s.version = head.version
        s.status = head.status
        s.reason = text(head.reason)
        s.headers = head.headers.map { text($0.name) + ": " + text($0.value) }
        s.contentLength = head.contentLength
        s.chunked = head.isChunked
        s.keepAlive = head.keepAlive
        s.upgrade = head.connectionUpgrade
        s.headLength = head.headLength
        return s
    }

    /// Whole, byte by byte, and split at every offset; records an issue when they differ.
    static func allWays(_ bytes: [UInt8], maxHeadBytes: Int = 8192) -> ResponseSnapshot {
        let whole = run(bytes, cuts: [bytes.count], maxHeadBytes: maxHeadBytes)
        let bytewise = run(bytes, cuts: Array(0...bytes.count), maxHeadBytes: maxHeadBytes)
        #expect(bytewise == whole, "\(String(decoding: bytes, as: UTF8.self).debugDescription) byte by byte")
        if bytes.count <= 4096 {
            for k in 1..<max(bytes.count, 1) {
                let split = run(bytes, cuts: [k, bytes.count], maxHeadBytes: maxHeadBytes)
                if split != whole {
                    Issue.record("split at \(k) differs: \(split) vs \(whole)")
                    break
                }
            }
        }
        return whole
    }

    static func allWays(_ text: String, maxHeadBytes: Int = 8192) -> ResponseSnapshot {
        allWays(Array(text.utf8), maxHeadBytes: maxHeadBytes)
    }
}

@Suite struct ResponseParserTests {
    func parse(_ text: String, maxHeadBytes: Int = 8192) -> ResponseSnapshot {
        ResponseSnapshot.allWays(text, maxHeadBytes: maxHeadBytes)
    }

    func error(_ text: String, maxHeadBytes: Int = 8192) -> ResponseParseError? {
        if case .error(let e) = parse(text, maxHeadBytes: maxHeadBytes).result { return e }
        return nil
    }

    // MARK: what real upstreams send

    @Test func gunicorn() {
        let text =
            "HTTP/1.1 200 OK\r\nServer: gunicorn\r\nDate: Tue, 05 Mar 2024 10:00:00 GMT\r\nConnection: close\r\n"
            + "Content-Type: text/html; charset=utf-8\r\nX-Frame-Options: DENY\r\nContent-Length: 5\r\n"
            + "Vary: Cookie\r\n\r\nhello"
        let s = parse(text)
        #expect(s.result == .complete)
        #expect(s.version == .http11 && s.status == 200 && s.reason == "OK")
        #expect(s.headers.count == 7 && s.headers[3] == "Content-Type: text/html; charset=utf-8")
        #expect(s.contentLength == 5 && !s.chunked && !s.keepAlive && !s.upgrade)
        #expect(s.headLength == text.utf8.count - 5)
    }

    @Test func uwsgiDaphneApache() {
        let uwsgi = parse("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(uwsgi.result == .complete && uwsgi.chunked && uwsgi.contentLength == nil && uwsgi.keepAlive)
        let daphne = parse(
            "HTTP/1.1 302 Found\r\nLocation: /accounts/login/?next=/\r\nContent-Length: 0\r\nVary: Cookie\r\n"
                + "X-Content-Type-Options: nosniff\r\nReferrer-Policy: same-origin\r\n\r\n")
        #expect(daphne.status == 302 && daphne.reason == "Found" && daphne.contentLength == 0 && daphne.keepAlive)
        #expect(daphne.headers[0] == "Location: /accounts/login/?next=/")
        let apache = parse(
            "HTTP/1.1 404 Not Found\r\nDate: Tue, 05 Mar 2024 10:00:00 GMT\r\nServer: Apache/2.4.57 (Debian)\r\n"
                + "Content-Length: 196\r\nKeep-Alive: timeout=5, max=100\r\nConnection: Keep-Alive\r\n"
                + "Content-Type: text/html; charset=iso-8859-1\r\n\r\n")
        #expect(apache.status == 404 && apache.reason == "Not Found" && apache.contentLength == 196 && apache.keepAlive)
        let runserver = parse("HTTP/1.0 200 OK\r\nServer: WSGIServer/0.2 CPython/3.12.2\r\n\r\n")
        #expect(runserver.version == .http10 && runserver.contentLength == nil && !runserver.keepAlive)
    }

    @Test func reasonPhrase() {
        let none = parse("HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n")
        #expect(none.result == .complete && none.status == 200 && none.reason == "")
        let empty = parse("HTTP/1.1 204 \r\n\r\n")
        #expect(empty.result == .complete && empty.status == 204 && empty.reason == "")
        let spaced = parse("HTTP/1.1 500 Internal\tServer  Error \r\n\r\n")
        #expect(spaced.reason == "Internal\tServer  Error ")
        let custom = parse("HTTP/1.1 599 Whatever \u{E9}t\u{E9}\r\n\r\n")  // obs-text is fine
        #expect(custom.status == 599 && custom.reason == "Whatever \u{E9}t\u{E9}")
        #expect(parse("HTTP/1.1 999 X\r\n\r\n").status == 999)
        #expect(parse("HTTP/1.2 200 OK\r\n\r\n").version == HTTPVersion(major: 1, minor: 2))
    }

    @Test func bareLFLineEndings() {
        let s = parse("HTTP/1.1 200 OK\nContent-Length: 2\nX-A: 1\r\n\nok")
        #expect(s.result == .complete && s.contentLength == 2 && s.headers == ["Content-Length: 2", "X-A: 1"])
        #expect(s.headLength == 43)
        let t = parse("HTTP/1.1 204 No Content\n\n")
        #expect(t.result == .complete && t.headLength == 25)
    }

    @Test func informationalHeads() {
        let bytes =
            Array(
                "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n"
                    .utf8) + Array("HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok".utf8)
        var parser = ResponseParser()
        var head = ResponseHead()
        var base = 0
        var seen: [Int] = []
        while true {
            let r = bytes[base...].withUnsafeBytes { parser.parse($0, into: &head) }
            #expect(r == .complete)
            seen.append(head.status)
            if !head.isInformational { break }
            base += head.headLength
            parser.reset()
        }
        #expect(seen == [100, 103, 201] && head.contentLength == 2 && bytes.count - base - head.headLength == 2)
        let continueHead = parse("HTTP/1.1 100 Continue\r\n\r\n")
        #expect(continueHead.result == .complete && continueHead.status == 100 && continueHead.headLength == 25)
        let switching = parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n")
        #expect(switching.status == 101 && switching.upgrade && switching.keepAlive)
    }

    @Test func keepAlive() {
        #expect(parse("HTTP/1.1 200 OK\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.1 200 OK\r\nConnection: foo, CLOSE\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.0 200 OK\r\n\r\n").keepAlive)
        #expect(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive)
        #expect(parse("HTTP/1.0 200 OK\r\nconnection: Keep-Alive\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.0 200 OK\r\nKeep-Alive: timeout=5\r\n\r\n").keepAlive)
        #expect(!parse("HTTP/1.0 200 OK\r\nConnection: keep-alivex\r\n\r\n").keepAlive)
        // Transfer-Encoding on HTTP/1.0: framing unreliable, never reused (RFC 9112 §6.1)
        let te10 = parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(te10.result == .complete && te10.chunked && !te10.keepAlive)
    }

    @Test func connectionUpgrade() {
        let s = parse(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n")
        #expect(s.upgrade && s.keepAlive)
        let two = parse("HTTP/1.1 101 Switching Protocols\r\nConnection: keep-alive\r\nConnection: upgrade\r\n\r\n")
        #expect(two.upgrade)
        #expect(!parse("HTTP/1.1 200 OK\r\nUpgrade: h2c\r\n\r\n").upgrade)
        #expect(!parse("HTTP/1.1 200 OK\r\nConnection: upgraded\r\n\r\n").upgrade)
    }

    @Test func repeatedHeadersStaySeparate() {
        let text =
            "HTTP/1.1 200 OK\r\nSet-Cookie: csrftoken=abc; Path=/; SameSite=Lax\r\n"
            + "Set-Cookie: sessionid=xyz; HttpOnly; Path=/\r\nset-cookie: a=b\r\nContent-Length: 0\r\n\r\n"
        let s = parse(text)
        #expect(
            s.headers == [
                "Set-Cookie: csrftoken=abc; Path=/; SameSite=Lax", "Set-Cookie: sessionid=xyz; HttpOnly; Path=/",
                "set-cookie: a=b", "Content-Length: 0",
            ])
    }

    @Test func headerValuesAreTrimmed() {
        let bytes: [UInt8] =
            Array("HTTP/1.1 200 OK\r\nX-A:\t \u{7E}v  v\t\r\nX-B:\r\nX-C: ".utf8) + [0x80, 0xFF] + [13, 10, 13, 10]
        let s = ResponseSnapshot.allWays(bytes)
        #expect(s.result == .complete)
        #expect(s.headers[0] == "X-A: ~v  v" && s.headers[1] == "X-B: ")
        var p = ResponseParser()
        var h = ResponseHead()
        #expect(bytes.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        #expect(Array(bytes[h.headers[2].value]) == [0x80, 0xFF])
        #expect(parse("HTTP/1.1 200 OK\r\nX_Under: 1\r\nX.Dot~: 2\r\n\r\n").headers == ["X_Under: 1", "X.Dot~: 2"])
    }

    // MARK: errors

    @Test func invalidStatusLines() {
        for bad in [
            "HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/1.1 099 Low", "HTTP/1.1 000 Zero", "HTTP/1.1 abc OK",
            "HTTP/1.1 -20 OK", "HTTP/1.1 +20 OK", "HTTP/2.0 200 OK", "HTTP/0.9 200 OK", "HTTP/1.10 200 OK",
            "HTTP/1 200 OK", "HTTP/1.1  200 OK", "HTTP/1.1\t200 OK", "http/1.1 200 OK", "HTTP/1.1 200OK",
            "HTTP/1.1 200\tOK", "ICY 200 OK", " HTTP/1.1 200 OK", "HTTP/1.1 200 O\u{00}K", "HTTP/1.1 200 O\u{7F}",
            "HTTP/1.1 200 OK\rX", "HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1 20", "", "\r\nHTTP/1.1 200 OK",
        ] {
            #expect(error(bad + "\r\nContent-Length: 0\r\n\r\n") == .invalidStatusLine, "\(bad.debugDescription)")
        }
        // an answer that is not HTTP/1.x at all fails before any line end
        #expect(error("<html><body>") == .invalidStatusLine)
        #expect(error("HTTP/1.1 2x") == .invalidStatusLine)
        #expect(parse("HTTP/1.1 20").result == .incomplete)
        #expect(ResponseParseError.invalidStatusLine.logMessage == "upstream sent no valid HTTP/1.0 header")
        #expect(ResponseParseError.invalidStatusLine.status == 502)
    }

    /// Field values are checked 8 bytes at a time: a bad byte is found at every offset
    /// of a long value, and tabs and bytes above 0x7F (obs-text) pass wherever they are.
    @Test func everyBadByteOfALongValueIsFound() {
        let value = Array(repeating: UInt8(ascii: "v"), count: 40)
        for bad: UInt8 in [0x00, 0x01, 0x0B, 0x1F, 0x7F] {
            for at in 0..<value.count {
                var v = value
                v[at] = bad
                let bytes = Array("HTTP/1.1 200 OK\r\nX-Long: ".utf8) + v + Array("\r\nContent-Length: 0\r\n\r\n".utf8)
                let result = bytes.withUnsafeBytes { b -> ResponseParseResult in
                    var p = ResponseParser()
                    var head = ResponseHead()
                    return p.parse(b, into: &head)
                }
                let hex = String(bad, radix: 16)
                let expected =
                    "X-Long: " + String(repeating: "v", count: at) + "\\x" + (hex.count == 1 ? "0" : "") + hex + "..."
                #expect(result == .error(.invalidHeader(expected)), "byte \(bad) at \(at)")
            }
        }
        for good: UInt8 in [0x09, 0x20, 0x7E, 0x80, 0xC3, 0xFF] {
            var v = value
            for at in stride(from: 0, to: v.count, by: 3) { v[at] = good }
            let bytes = Array("HTTP/1.1 200 OK\r\nX-Long: ".utf8) + v + Array("\r\nContent-Length: 0\r\n\r\n".utf8)
            #expect(ResponseSnapshot.allWays(bytes).result == .complete, "byte \(good)")
        }
    }

    @Test func invalidHeaderLines() {
        let cases: [(String, String)] = [
            ("X-A: a\u{00}b", "X-A: a\\x00..."),
            ("X-A: a\u{7F}", "X-A: a\\x7f..."),
            ("X-A: a\u{0B}", "X-A: a\\x0b..."),
            ("X-A : 1", "X-A\\x20..."),
            ("X A: 1", "X\\x20..."),
            (": 1", "\\x3a..."),
            ("NoColon", "NoColon\\x0d..."),
            ("X(: 1", "X\\x28..."),
            ("X\u{01}: 1", "X\\x01..."),
            ("\tX: 1", "\\x09..."),
            ("X: a\rb", "X: a\\x0d..."),
            ("X: a\u{00}\rb", "X: a\\x00..."),
        ]
        for (line, detail) in cases {
            let e = error("HTTP/1.1 200 OK\r\n\(line)\r\nContent-Length: 0\r\n\r\n")
            #expect(e == .invalidHeader(detail), "\(line.debugDescription)")
        }
        // obs-fold
        #expect(error("HTTP/1.1 200 OK\r\nX-A: 1\r\n folded\r\n\r\n") == .invalidHeader("\\x20..."))
        // a name byte outside ASCII
        let nonASCII: [UInt8] = Array("HTTP/1.1 200 OK\r\nContent-Length".utf8) + [0x85] + Array(": 5\r\n\r\n".utf8)
        #expect(ResponseSnapshot.allWays(nonASCII).result == .error(.invalidHeader("Content-Length\\x85...")))
        // a CR alone ends nothing
        #expect(error("HTTP/1.1 200 OK\r\nX: 1\r\r\n\r\n") == .invalidHeader("X: 1\\x0d..."))
        #expect(error("HTTP/1.1 200 OK\r\nX: 1\r\n\r\r\n") == .invalidHeader("\\x0d..."))
        #expect(error("HTTP/1.1 200 OK\r\nX: 1\n\rX") == .invalidHeader("\\x0d..."))
        #expect(
            ResponseParseError.invalidHeader("X-A: a\\x00...").logMessage
                == "upstream sent invalid header: \"X-A: a\\x00...\"")
    }

    @Test func headTooBig() {
        let head = "HTTP/1.1 200 OK\r\nX-Pad: " + String(repeating: "p", count: 21) + "\r\n\r\n"  // 49 bytes
        #expect(head.utf8.count == 49)
        #expect(parse(head, maxHeadBytes: 49).result == .complete)
        #expect(error(head, maxHeadBytes: 48) == .headerTooBig)
        #expect(error(head, maxHeadBytes: 47) == .headerTooBig)
        #expect(error(head, maxHeadBytes: 20) == .headerTooBig)
        let bareLF = "HTTP/1.1 200 OK\nX-Pad: " + String(repeating: "p", count: 21) + "\n\n"  // 46 bytes
        #expect(parse(bareLF, maxHeadBytes: 46).result == .complete)
        #expect(error(bareLF, maxHeadBytes: 45) == .headerTooBig)
        // detected as soon as the limit is passed, without a line end
        var p = ResponseParser(maxHeadBytes: 32)
        var h = ResponseHead()
        let long = Array(("HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 40)).utf8)
        #expect(long.withUnsafeBytes { p.parse($0, into: &h) } == .error(.headerTooBig))
        #expect(ResponseParseError.headerTooBig.logMessage == "upstream sent too big header")
        // the default is nginx's proxy_buffer_size (one page)
        let big =
            "HTTP/1.1 200 OK\r\n"
            + String(repeating: "X-Long: " + String(repeating: "v", count: 90) + "\r\n", count: 90)
        #expect(error(big + "\r\n") == .headerTooBig)
    }

    @Test func contentLength() {
        let s = parse("HTTP/1.1 200 OK\r\nContent-Length:\t 0042 \r\n\r\n")
        #expect(s.result == .complete && s.contentLength == 42)
        #expect(parse("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n").contentLength == Int64.max)
        for bad in [
            "", "1,1", "5, 5", "5 5", "-1", "+5", "0x5", "1_0", "5;", "\u{663}", "9223372036854775808",
            "18446744073709551621", "99999999999999999999999999",
        ] {
            #expect(
                error("HTTP/1.1 200 OK\r\nContent-Length: \(bad)\r\n\r\n")
                    == .invalidContentLength("Content-Length: \(bad)"), "\(bad.debugDescription)")
        }
        let dup = ResponseParseError.duplicateHeader(line: "content-length: 5", previous: "Content-Length: 5")
        #expect(error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\ncontent-length: 5\r\n\r\n") == dup)
        #expect(
            dup.logMessage
                == "upstream sent duplicate header line: \"content-length: 5\", previous value: \"Content-Length: 5\"")
        #expect(
            error("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n")
                == .duplicateHeader(line: "Content-Length: 6", previous: "Content-Length: 5"))
        #expect(
            ResponseParseError.invalidContentLength("Content-Length: 1,1").logMessage
                == "upstream sent invalid \"Content-Length\" header: \"Content-Length: 1,1\"")
        // only the exact name counts
        #expect(parse("HTTP/1.1 200 OK\r\nContent_Length: 5\r\nContent-Lengths: 1\r\n\r\n").contentLength == nil)
    }

    @Test func transferEncoding() {
        let s = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding:  ChUnKeD \r\n\r\n")
        #expect(s.result == .complete && s.chunked && s.contentLength == nil)
        for bad in [
            "chunked, identity", "gzip, chunked", "chunked, chunked", "identity", "gzip", "", ",chunked", "\"chunked\"",
            "chunked;q=1",
        ] {
            #expect(
                error("HTTP/1.1 200 OK\r\nTransfer-Encoding: \(bad)\r\n\r\n") == .unknownTransferEncoding(bad),
                "\(bad.debugDescription)")
        }
        #expect(
            ResponseParseError.unknownTransferEncoding("gzip").logMessage
                == "upstream sent unknown \"Transfer-Encoding\": \"gzip\"")
        #expect(
            error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .duplicateHeader(line: "Transfer-Encoding: chunked", previous: "Transfer-Encoding: chunked"))
    }

    @Test func contentLengthAndTransferEncoding() {
        let both = ResponseParseError.contentLengthAndTransferEncoding
        #expect(error("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n") == both)
        #expect(error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n") == both)
        #expect(error("HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n") == both)
        // nginx checks each line as it comes: the first fault wins
        #expect(
            error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 3\r\n\r\n")
                == .unknownTransferEncoding("gzip"))
        #expect(
            error("HTTP/1.1 200 OK\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n")
                == .invalidContentLength("Content-Length: x"))
        #expect(
            both.logMessage
                == "upstream sent \"Content-Length\" and \"Transfer-Encoding\" headers at the same time")
    }

    @Test func smugglingStyleHeads() {
        // header injection through a value, split responses and disguised framing headers
        for bad in [
            "HTTP/1.1 200 OK\r\nX: a\rContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\u{00}\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\n Transfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: 1\r\n Transfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding\u{0B}: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1,1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551616\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n",
            "HTTP/1.1 200 OK\rContent-Length: 5\r\n\r\n",
            "HTTP/1.1 200 OK\r\n\rContent-Length: 5\r\n\r\n",
        ] {
            let s = parse(bad)
            guard case .error = s.result else {
                Issue.record("accepted: \(bad.debugDescription) → \(s)")
                continue
            }
        }
    }

    // MARK: resumption and reuse

    @Test func resumesAcrossReads() {
        let text = Array("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc".utf8)
        var p = ResponseParser()
        var h = ResponseHead()
        for n in 0..<(text.count - 3) {
            let r = text[..<n].withUnsafeBytes { p.parse($0, into: &h) }
            #expect(r == .incomplete, "prefix \(n)")
        }
        #expect(text.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        #expect(h.contentLength == 3 && h.headLength == text.count - 3)
        // stable after completion; reset starts a new response
        #expect(text.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        p.reset()
        let next = Array("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n".utf8)
        #expect(next.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        #expect(h.status == 304 && h.headers.count == 1 && h.contentLength == nil)
        // an error is sticky until reset
        p.reset()
        let bad = Array("HTTP/1.1 200 OK\r\nX : 1\r\n\r\n".utf8)
        #expect(bad.withUnsafeBytes { p.parse($0, into: &h) } == .error(.invalidHeader("X\\x20...")))
        #expect(text.withUnsafeBytes { p.parse($0, into: &h) } == .error(.invalidHeader("X\\x20...")))
        p.reset()
        #expect(text.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
    }

    @Test func bufferMayMoveBetweenCalls() {
        let text = Array("HTTP/1.1 200 OK\r\nServer: gunicorn\r\nContent-Length: 0\r\n\r\n".utf8)
        var p = ResponseParser()
        var h = ResponseHead()
        let first = Array(text[..<20])
        #expect(first.withUnsafeBytes { p.parse($0, into: &h) } == .incomplete)
        let copy = Array(text)  // a different allocation with the same prefix
        #expect(copy.withUnsafeBytes { p.parse($0, into: &h) } == .complete)
        copy.withUnsafeBytes { buf in
            #expect(copy.string(h.header("server", in: buf)) == "gunicorn")
        }
    }

    /// The line end is searched a word (8 bytes) at a time: every position of CR, LF and
    /// a bare CR within a word, and bytes that differ from CR / LF only in the high bit
    /// (obs-text 0x8D, 0x8A), which must not end a line.
    @Test func lineEndsAtEveryOffsetOfAWord() {
        for n in 0..<20 {
            let value = String(repeating: "v", count: n)
            for end in ["\r\n", "\n"] {
                let s = parse("HTTP/1.1 200 OK\(end)X-\(value): \(value)\(end)Content-Length: 0\(end)\(end)")
                #expect(s.result == .complete, "n=\(n) \(end.debugDescription)")
                #expect(s.headers == ["X-\(value): \(value)", "Content-Length: 0"], "n=\(n)")
            }
            let bare = error("HTTP/1.1 200 OK\r\nX: \(value)\rb\r\n\r\n")
            #expect(bare == .invalidHeader("X: \(value)\\x0d..."), "n=\(n)")
            let high: [UInt8] =
                Array("HTTP/1.1 200 OK\r\nX: ".utf8) + Array(repeating: 0x76, count: n) + [0x8D, 0x8A, 0x76]
                + Array("\r\nContent-Length: 0\r\n\r\n".utf8)
            let h = ResponseSnapshot.allWays(high)
            #expect(h.result == .complete && h.headers.count == 2 && h.contentLength == 0, "n=\(n)")
        }
    }

    /// The one-pass check of a header line agrees with the general one: tabs inside a
    /// value at every offset of a word, a control byte or DEL after a run of good bytes,
    /// and the table of name bytes equals the RFC's tchar.
    @Test func onePassFieldCheck() {
        for c in 0...255 { #expect(ResponseParser.isTchar(UInt8(c)) == ASCII.isTchar(UInt8(c)), "byte \(c)") }
        for n in 0..<17 {
            let pad = String(repeating: "a", count: n)
            let tab = parse("HTTP/1.1 200 OK\r\nX-T: v\(pad)\tb\t\r\nContent-Length: 0\r\n\r\n")
            #expect(tab.result == .complete && tab.headers.first == "X-T: v\(pad)\tb", "n=\(n)")
            #expect(error("HTTP/1.1 200 OK\r\nX: \(pad)\u{7F}\r\n\r\n") == .invalidHeader("X: \(pad)\\x7f..."))
            #expect(error("HTTP/1.1 200 OK\r\nX: \(pad)\u{1F}\r\n\r\n") == .invalidHeader("X: \(pad)\\x1f..."))
        }
    }
}
