// The HTTP/2 client session of `proxy_http_version 2` without sockets: the request head
// built for HTTP/1.1 becomes a HEADERS list (pseudo-headers first, `Host` as
// `:authority`, connection-specific fields dropped, names lowercased), decoded here
// with nghttp2's own HPACK inflater; an answer's frames, fed byte by byte, come out as
// the HTTP/1.1 head and body the relay reads; a reset stream and an invalid :status are
// reported with nginx's wording.

import CNghttp2
import Testing

@testable import SwiftginxServer

@Suite struct UpstreamHTTP2SessionTests {
    static let head =
        "POST /p?q=1 HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\nX-Custom: Yes\r\n"
        + "Transfer-Encoding: chunked\r\nTE: trailers\r\nContent-Length: 0\r\n\r\n"

    /// A session with the request submitted and its first frames taken.
    func submitted(_ head: String = Self.head, body: Bool = false) throws -> (UpstreamHTTP2, [UInt8]) {
        let h = UpstreamHTTP2()
        let bytes = Array(head.utf8)
        let used = bytes.withUnsafeBytes {
            h.submitRequest(head: $0, scheme: "http", authority: Array("fallback".utf8), body: body)
        }
        #expect(used == bytes.count)
        #expect(h.takeFrames())
        let out = Array(h.pendingOut.readable)
        h.pendingOut.clear()
        return (h, out)
    }

    /// The header list of the first HEADERS frame after the connection preface.
    func headerList(_ wire: [UInt8]) throws -> [(String, String)] {
        let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
        #expect(Array(wire.prefix(preface.count)) == preface)
        var i = preface.count
        while i + 9 <= wire.count {
            let length = Int(wire[i]) << 16 | Int(wire[i + 1]) << 8 | Int(wire[i + 2])
            let type = wire[i + 3]
            if type == 1 {
                return inflate(Array(wire[(i + 9)..<(i + 9 + length)]))
            }
            i += 9 + length
        }
        throw NoHeadersFrame()
    }

    func inflate(_ block: [UInt8]) -> [(String, String)] {
        var inflater: OpaquePointer? = nil
        nghttp2_hd_inflate_new(&inflater)
        defer { nghttp2_hd_inflate_del(inflater) }
        var fields: [(String, String)] = []
        var rest = block[...]
        while true {
            var nv = nghttp2_nv()
            var flags: Int32 = 0
            let n = rest.withUnsafeBufferPointer {
                nghttp2_hd_inflate_hd2(inflater, &nv, &flags, $0.baseAddress, $0.count, 1)
            }
            if n < 0 { break }
            rest = rest.dropFirst(n)
            if flags & Int32(NGHTTP2_HD_INFLATE_EMIT.rawValue) != 0 {
                fields.append(
                    (
                        String(decoding: UnsafeBufferPointer(start: nv.name, count: nv.namelen), as: UTF8.self),
                        String(decoding: UnsafeBufferPointer(start: nv.value, count: nv.valuelen), as: UTF8.self)
                    ))
            }
            if flags & Int32(NGHTTP2_HD_INFLATE_FINAL.rawValue) != 0 { break }
            if n == 0 && rest.isEmpty { break }
        }
        nghttp2_hd_inflate_end_headers(inflater)
        return fields
    }

    static func frame(_ type: UInt8, _ flags: UInt8, _ stream: UInt32, _ payload: [UInt8]) -> [UInt8] {
        [UInt8(payload.count >> 16 & 0xff), UInt8(payload.count >> 8 & 0xff), UInt8(payload.count & 0xff), type, flags]
            + [UInt8(stream >> 24), UInt8(stream >> 16 & 0xff), UInt8(stream >> 8 & 0xff), UInt8(stream & 0xff)]
            + payload
    }

    /// Feeds `bytes` one at a time, then takes the frames nghttp2 queued; the decoded output.
    func feed(_ h: UpstreamHTTP2, _ bytes: [UInt8]) -> String {
        let sink = ByteBuffer(capacity: 16)
        h.sink = sink
        for b in bytes { #expect([b].withUnsafeBytes { h.receive($0) } == nil) }
        h.sink = nil
        // As the exchange does after each read: nghttp2's answers (and resets) go out.
        #expect(h.takeFrames())
        return String(decoding: sink.readable, as: UTF8.self)
    }

    @Test func requestHeadBecomesAHeadersList() throws {
        let (h, wire) = try submitted()
        #expect(h.streamID == 1)
        let fields = try headerList(wire)
        #expect(fields.map(\.0) == [":method", ":scheme", ":path", ":authority", "x-custom", "content-length"])
        #expect(fields.map(\.1) == ["POST", "http", "/p?q=1", "example.com", "Yes", "0"])
        // A GET without a body ends the stream with its HEADERS.
        #expect(h.requestEnded)
    }

    @Test func withoutHostTheAuthorityIsProxyHost() throws {
        let (_, wire) = try submitted("GET / HTTP/1.1\r\nX-A: b\r\n\r\n")
        let fields = try headerList(wire)
        #expect(fields.first(where: { $0.0 == ":authority" })?.1 == "fallback")
    }

    @Test func answerFramesBecomeAnHTTP1HeadAndBody() throws {
        let (h, _) = try submitted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        // SETTINGS, HEADERS (:status 200 from the static table, "x-a: b" literal), DATA + END_STREAM.
        let answer =
            Self.frame(4, 0, 0, []) + Self.frame(1, 4, 1, [0x88, 0x00, 3] + Array("x-a".utf8) + [1, 98])
            + Self.frame(0, 1, 1, Array("hello".utf8))
        let text = feed(h, answer)
        #expect(text == "HTTP/1.1 200 OK\r\nx-a: b\r\n\r\nhello")
        #expect(h.ended && h.headDone && h.resetCode == nil && h.failure == nil)
        // The SETTINGS acknowledgement is queued; once written the connection may be reused.
        #expect(h.pendingOut.readableCount > 0)
        h.pendingOut.clear()
        #expect(h.reusable)
    }

    @Test func earlyHintsHeadComesBeforeTheAnswer() throws {
        let (h, _) = try submitted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let hints = Self.frame(1, 4, 1, [0x08, 3] + Array("103".utf8))
        let final = Self.frame(1, 5, 1, [0x89])  // :status 204, END_STREAM
        let text = feed(h, Self.frame(4, 0, 0, []) + hints + final)
        #expect(text.hasPrefix("HTTP/1.1 103 ") && text.hasSuffix("\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"), "\(text)")
        #expect(h.ended)
    }

    @Test func resetAndInvalidStatusAreReported() throws {
        let (h, _) = try submitted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = feed(h, Self.frame(4, 0, 0, []) + Self.frame(3, 0, 1, [0, 0, 0, 8]))  // RST_STREAM CANCEL
        #expect(h.resetCode == 8)
        #expect(!h.reusable)

        let (g, _) = try submitted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        // :status "abc" (literal, indexed name :status = 8): nghttp2's own check resets the
        // stream (PROTOCOL_ERROR) before the field reaches the session.
        _ = feed(g, Self.frame(4, 0, 0, []) + Self.frame(1, 5, 1, [0x08, 3] + Array("abc".utf8)))
        #expect(g.resetCode != nil || g.failure != nil, "\(String(describing: g.resetCode)) \(g.failure ?? "-")")
        #expect(!g.headDone)
        // A field before :status is the session's own refusal, in nginx's words.
        let (f, _) = try submitted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        _ = feed(f, Self.frame(4, 0, 0, []) + Self.frame(1, 5, 1, [0x00, 3] + Array("x-a".utf8) + [1, 98, 0x88]))
        #expect(f.failure != nil || f.resetCode != nil)
    }

    @Test func garbageFromTheUpstreamNeverCrashes() throws {
        var seed: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> UInt8 {
            seed ^= seed << 13
            seed ^= seed >> 7
            seed ^= seed << 17
            return UInt8(truncatingIfNeeded: seed)
        }
        for round in 0..<200 {
            let (h, _) = try submitted("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            // A valid start half the time (SETTINGS, then frames of random bytes).
            var bytes = round % 2 == 0 ? Self.frame(4, 0, 0, []) : []
            for _ in 0..<(64 + round * 8) { bytes.append(next()) }
            let sink = ByteBuffer(capacity: 16)
            h.sink = sink
            _ = bytes.withUnsafeBytes { h.receive($0) }
            h.sink = nil
            _ = h.takeFrames()
            #expect(sink.readableCount <= bytes.count * 64)
        }
    }
}

private struct NoHeadersFrame: Error {}
