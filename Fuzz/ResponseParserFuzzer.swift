// libFuzzer entry point for the upstream side: ResponseParser, ChunkedDecoder on response
// bodies, and UwsgiPacket. Built by `scripts/fuzz` together with the SwiftginxHTTP sources
// (not part of the package). Each input is read as what an upstream connection delivers:
// heads (1xx heads skipped, as the proxy does), each followed by a Content-Length or
// chunked body, then the next response while the connection stays keep-alive. It runs
// whole and again in two pieces split at a position taken from the second byte, and the
// two runs must agree; every range the parser returns must lie inside the head. The same
// bytes are then cut into uwsgi variables whose encoding is decoded back and compared,
// and read as an OCSP responder's answer (OCSPReply: a complete head stays complete
// with more bytes after it).
// Any trap, sanitizer report or disagreement is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzResponse(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    // The first byte picks the head limit: small ones reach `headerTooBig` often.
    let first = Int(bytes.first ?? 0)
    let maxHeadBytes = first < 128 ? 8192 : 16 + (first - 128) * 4
    let whole = ResponseFuzzDriver.run(bytes, splitAt: nil, maxHeadBytes: maxHeadBytes)
    if bytes.count > 1 {
        let k = Int(bytes[1]) * bytes.count / 256
        let split = ResponseFuzzDriver.run(bytes, splitAt: k, maxHeadBytes: maxHeadBytes)
        if split != whole { fatalError("split at \(k) gives \(split), whole gives \(whole)") }
    }
    UwsgiFuzz.roundTrip(bytes)
    if case .complete(let status, let body) = OCSPReply.parse(bytes),
        OCSPReply.parse(bytes + [0x41]) != .complete(status: status, body: body + [0x41])
    {
        fatalError("OCSPReply: a complete answer changed with one more body byte")
    }
    return 0
}

enum ResponseFuzzDriver {
    /// Heads seen (status, head length, header count), bodies and how the stream ended, as text.
    static func run(_ bytes: [UInt8], splitAt: Int?, maxHeadBytes: Int) -> [String] {
        var log: [String] = []
        var parser = ResponseParser(maxHeadBytes: maxHeadBytes)
        var head = ResponseHead()
        var received: [UInt8] = []
        let pieces: [ArraySlice<UInt8>] = splitAt.map { [bytes[..<$0], bytes[$0...]] } ?? [bytes[...]]
        var base = 0
        var inBody = false
        var chunked = ChunkedDecoder()
        var remaining: Int64 = 0
        var bodyBytes = 0
        var stop = false
        for piece in pieces where !stop {
            received.append(contentsOf: piece)
            loop: while !stop {
                if !inBody {
                    if base == received.count { break loop }
                    let r = received.withUnsafeBytes { raw in
                        parser.parse(UnsafeRawBufferPointer(rebasing: raw[base...]), into: &head)
                    }
                    switch r {
                    case .incomplete: break loop
                    case .error(let e):
                        precondition(e.status == 502 && !e.logMessage.isEmpty)
                        log.append("error \(e.logMessage)")
                        stop = true
                        break loop
                    case .complete:
                        check(head, available: received.count - base, maxHeadBytes: maxHeadBytes)
                        log.append("head \(head.status) \(head.headLength) \(head.headers.count)")
                        base += head.headLength
                        parser.reset()
                        if head.isInformational {
                            if head.status == 101 {
                                log.append("tunnel")
                                stop = true
                            }
                            continue loop
                        }
                        inBody = true
                        bodyBytes = 0
                        chunked = ChunkedDecoder()
                        remaining = head.isChunked ? -1 : (head.contentLength ?? 0)
                    }
                }
                if remaining >= 0 {
                    let n = Int(min(Int64(received.count - base), remaining))
                    base += n
                    bodyBytes += n
                    remaining -= Int64(n)
                    if remaining > 0 { break loop }
                } else {
                    var offset = base
                    let step = received.withUnsafeBytes { chunked.next($0, offset: &offset) }
                    precondition(offset >= base && offset <= received.count)
                    base = offset
                    switch step {
                    case .data(let r):
                        precondition(!r.isEmpty && r.upperBound <= received.count)
                        bodyBytes += r.count
                        continue loop
                    case .needMore: break loop
                    case .error(let e):
                        log.append("body error \(e.status)")
                        stop = true
                        break loop
                    case .done: break
                    }
                }
                log.append("body \(bodyBytes)")
                inBody = false
                if !head.keepAlive { stop = true }
                received.removeSubrange(0..<base)
                base = 0
            }
        }
        return log
    }

    /// Every field of a complete head is consistent and inside the head's bytes.
    static func check(_ head: ResponseHead, available: Int, maxHeadBytes: Int) {
        precondition(head.headLength > 0 && head.headLength <= available && head.headLength <= maxHeadBytes)
        precondition((100...999).contains(head.status))
        precondition(head.version.major == 1 && (0...9).contains(head.version.minor))
        precondition(head.reason.lowerBound >= 12 && head.reason.upperBound < head.headLength)
        for h in head.headers {
            precondition(!h.name.isEmpty && h.name.upperBound < h.value.lowerBound)
            precondition(h.value.lowerBound <= h.value.upperBound && h.value.upperBound < head.headLength)
        }
        precondition(!(head.isChunked && head.contentLength != nil))
        precondition((head.contentLength ?? 0) >= 0)
    }
}

enum UwsgiFuzz {
    /// Cuts `bytes` into key/value pairs at 0xFF bytes, encodes them and decodes the packet.
    static func roundTrip(_ bytes: [UInt8]) {
        var params: [(key: [UInt8], value: [UInt8])] = []
        var parts = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
        if parts.count % 2 == 1 { parts.append([]) }
        var i = 0
        while i < parts.count {
            params.append((parts[i], parts[i + 1]))
            i += 2
        }
        var out: [UInt8] = [0x5A]
        let fits = UwsgiPacket.varsSize(params) <= UwsgiPacket.maxSize
        let ok = UwsgiPacket.append(params: params, modifier1: 0, modifier2: 7, to: &out)
        precondition(ok == fits)
        guard ok else {
            precondition(out == [0x5A])
            return
        }
        let size = Int(out[2]) | Int(out[3]) << 8
        precondition(out[1] == 0 && out[4] == 7 && out.count == 5 + size)
        var p = 5
        var decoded: [(key: [UInt8], value: [UInt8])] = []
        while p < out.count {
            let kl = Int(out[p]) | Int(out[p + 1]) << 8
            let key = Array(out[(p + 2)..<(p + 2 + kl)])
            p += 2 + kl
            let vl = Int(out[p]) | Int(out[p + 1]) << 8
            let value = Array(out[(p + 2)..<(p + 2 + vl)])
            p += 2 + vl
            decoded.append((key, value))
        }
        precondition(p == out.count && decoded.count == params.count)
        for (a, b) in zip(decoded, params) { precondition(a.key == b.key && a.value == b.value) }
    }
}
