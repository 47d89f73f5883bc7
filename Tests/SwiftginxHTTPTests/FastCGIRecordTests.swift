// Unit tests of FastCGIRecord and FastCGIRecordDecoder: the exact bytes of BEGIN_REQUEST,
// PARAMS (1- and 4-byte lengths, padding, the size limit) and STDIN headers; and the
// decoder's events for answers as PHP-FPM and nginx's test daemons send them (padding,
// stderr between stdout records, END_REQUEST), parsed whole, byte by byte and split at
// every offset, which must agree; and nginx's error texts for what it refuses.

import Testing

@testable import SwiftginxHTTP

@Suite struct FastCGIRecordTests {
    func p(_ k: String, _ v: String) -> (key: [UInt8], value: [UInt8]) { (Array(k.utf8), Array(v.utf8)) }

    func record(_ type: UInt8, _ content: [UInt8], padding: Int = 0, id: UInt16 = 1) -> [UInt8] {
        [
            1, type, UInt8(id >> 8), UInt8(id & 0xFF), UInt8(content.count >> 8), UInt8(content.count & 0xFF),
            UInt8(padding), 0,
        ] + content + [UInt8](repeating: 0, count: padding)
    }

    @Test func requestStartExactBytes() {
        var out: [UInt8] = []
        #expect(FastCGIRecord.appendRequestStart(params: [p("A", "bc")], keepConnection: true, to: &out) == nil)
        let begin: [UInt8] = [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0]
        // "A"=1, "bc"=2: 1 + 1 + 1 + 2 = 5 bytes, padded by 3.
        let params: [UInt8] = [1, 4, 0, 1, 0, 5, 3, 0, 1, 2, 0x41, 0x62, 0x63, 0, 0, 0]
        let end: [UInt8] = [1, 4, 0, 1, 0, 0, 0, 0]
        #expect(out == begin + params + end)
        var plain: [UInt8] = []
        #expect(FastCGIRecord.appendRequestStart(params: [], keepConnection: false, to: &plain) == nil)
        #expect(plain == [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0] + end)
    }

    @Test func longLengthsUseFourBytes() {
        var out: [UInt8] = []
        let value = String(repeating: "v", count: 200)
        #expect(FastCGIRecord.appendRequestStart(params: [p("K", value)], keepConnection: false, to: &out) == nil)
        // 1 + 4 + 1 + 200 = 206 bytes, padded by 2.
        #expect(Array(out[16..<24]) == [1, 4, 0, 1, 0, 206, 2, 0])
        #expect(Array(out[24..<30]) == [1, 0x80, 0, 0, 200, 0x4B])
        #expect(FastCGIRecord.pairSize(keyCount: 127, valueCount: 128) == 1 + 127 + 4 + 128)
    }

    @Test func tooBigParamsLeaveOutputUnchanged() {
        var out: [UInt8] = [9]
        let big = String(repeating: "x", count: 70000)
        #expect(FastCGIRecord.appendRequestStart(params: [p("K", big)], keepConnection: false, to: &out) == 70006)
        #expect(out == [9])
    }

    @Test func stdinHeader() {
        var out: [UInt8] = []
        FastCGIRecord.appendHeader(.stdin, contentLength: 0x1234, to: &out)
        #expect(out == [1, 5, 0, 1, 0x12, 0x34, 0, 0])
    }

    /// Decodes `bytes` given in pieces cut at `cuts`, discarding consumed bytes between
    /// pieces (as the server does); stdout and stderr contents joined, events in order.
    func decode(_ bytes: [UInt8], cuts: [Int]) -> (stdout: [UInt8], stderr: [UInt8], events: [String]) {
        var dec = FastCGIRecordDecoder()
        var out: [UInt8] = []
        var err: [UInt8] = []
        var events: [String] = []
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            let piece = Array(bytes[start..<cut])
            start = cut
            var off = 0
            loop: while true {
                let e = piece.withUnsafeBytes { dec.next($0, offset: &off) }
                switch e {
                case .needMore: break loop
                case .stdout(let r): out += piece[r]
                case .stderr(let r): err += piece[r]
                case .stdoutClosed: events.append("closed")
                case .endRequest(let a, let s): events.append("end \(a) \(s)")
                case .error(let e):
                    events.append(e.logMessage)
                    return (out, err, events)
                }
            }
        }
        return (out, err, events)
    }

    func allWays(_ bytes: [UInt8]) -> (stdout: [UInt8], stderr: [UInt8], events: [String]) {
        let whole = decode(bytes, cuts: [])
        let bytewise = decode(bytes, cuts: Array(0...bytes.count))
        #expect(bytewise.stdout == whole.stdout && bytewise.stderr == whole.stderr && bytewise.events == whole.events)
        for cut in 0...bytes.count {
            let split = decode(bytes, cuts: [cut])
            #expect(split.stdout == whole.stdout && split.events == whole.events, "split at \(cut)")
        }
        return whole
    }

    @Test func phpStyleAnswer() {
        let head = Array("Status: 404 Not Found\r\nContent-type: text/html\r\n\r\n".utf8)
        let bytes =
            record(7, Array("PHP Warning: x".utf8), padding: 2) + record(6, head, padding: 5)
            + record(6, Array("body".utf8), padding: 4) + record(6, []) + record(3, [0, 0, 0, 7, 0, 0, 0, 0])
        let r = allWays(bytes)
        #expect(r.stdout == head + Array("body".utf8))
        #expect(r.stderr == Array("PHP Warning: x".utf8))
        #expect(r.events == ["closed", "end 7 0"])
    }

    @Test func nginxTestDaemonAnswer() {
        // fastcgi_keepalive.t: padding sent apart, a stderr header split across writes.
        let tt = Array("test text, just for test".utf8)
        let bytes =
            record(6, Array("X: y\n\nSEE-THIS\n".utf8), padding: 8) + record(6, tt + tt) + record(7, tt)
            + record(6, []) + record(3, [0, 0, 0, 0, 0, 0, 0, 0])
        let r = allWays(bytes)
        #expect(r.stdout == Array("X: y\n\nSEE-THIS\n".utf8) + tt + tt)
        #expect(r.stderr == tt)
        #expect(r.events == ["closed", "end 0 0"])
    }

    @Test func refusedRecords() {
        #expect(
            decode([2, 6, 0, 1, 0, 0, 0, 0], cuts: []).events == [
                "upstream sent unsupported FastCGI protocol version: 2"
            ])
        #expect(decode([1, 5, 0, 1, 0, 0, 0, 0], cuts: []).events == ["upstream sent invalid FastCGI record type: 5"])
        #expect(
            decode([1, 6, 1, 1, 0, 0, 0, 0], cuts: []).events == [
                "upstream sent unexpected FastCGI request id high byte: 1"
            ])
        #expect(
            decode([1, 6, 0, 2, 0, 0, 0, 0], cuts: []).events == [
                "upstream sent unexpected FastCGI request id low byte: 2"
            ])
        // An error is sticky: nothing more is decoded after it.
        var dec = FastCGIRecordDecoder()
        var off = 0
        let bad: [UInt8] = [7, 6, 0, 1, 0, 0, 0, 0]
        _ = bad.withUnsafeBytes { dec.next($0, offset: &off) }
        off = 0
        let again = record(6, [65]).withUnsafeBytes { dec.next($0, offset: &off) }
        #expect(again == .error(.unsupportedVersion(7)))
    }

    @Test func boundaryAndReset() {
        var dec = FastCGIRecordDecoder()
        #expect(dec.atRecordBoundary)
        var off = 0
        let part: [UInt8] = [1, 6, 0]
        #expect(part.withUnsafeBytes { dec.next($0, offset: &off) } == .needMore)
        #expect(!dec.atRecordBoundary)
        dec.reset()
        #expect(dec.atRecordBoundary)
    }
}

@Suite struct SCGIRequestTests {
    @Test func netstringExactBytes() {
        var out: [UInt8] = []
        SCGIRequest.append(
            contentLength: 6, params: [(Array("SCGI".utf8), Array("1".utf8)), (Array("E".utf8), [])], to: &out)
        let headers = "CONTENT_LENGTH\u{0}6\u{0}SCGI\u{0}1\u{0}E\u{0}\u{0}"
        #expect(out == Array("\(headers.utf8.count):\(headers),".utf8))
        #expect(SCGIRequest.headersSize(contentLength: Array("6".utf8), params: []) == 17)
    }
}
