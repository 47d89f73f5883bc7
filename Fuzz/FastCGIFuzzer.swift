// libFuzzer entry point for the FastCGI and SCGI sides: FastCGIRecordDecoder on what an
// application answers, ResponseParser's CGI modes on the STDOUT it carries, and the
// FastCGI PARAMS encoding. Built by `scripts/fuzz fastcgi` with the SwiftginxHTTP sources
// (not part of the package). The input is decoded whole and again in two pieces split at
// a position taken from its first byte (consumed bytes dropped between pieces, as the
// server does): the events, STDOUT and STDERR must agree and every range must lie inside
// the piece. The STDOUT bytes are then parsed as a FastCGI head and as an SCGI head, whole
// and split, with the same outcome. Last, the input cut at 0xFF bytes into parameters is
// encoded and the PARAMS record decoded back.
// Any trap, sanitizer report or disagreement is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzFastCGI(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    let k = bytes.isEmpty ? 0 : Int(bytes[0]) * bytes.count / 256
    let whole = FastCGIFuzz.decode(bytes, splitAt: nil)
    let split = FastCGIFuzz.decode(bytes, splitAt: k)
    if whole.events != split.events || whole.stdout != split.stdout || whole.stderr != split.stderr {
        fatalError("FastCGI records split at \(k) disagree")
    }
    for kind in [ResponseHeadKind.cgi, .statusLineOrCGI] {
        let a = FastCGIFuzz.head(whole.stdout, kind: kind, splitAt: nil)
        let b = FastCGIFuzz.head(whole.stdout, kind: kind, splitAt: k % (whole.stdout.count + 1))
        if a != b { fatalError("CGI head split disagrees: \(a) vs \(b)") }
    }
    FastCGIFuzz.roundTrip(bytes)
    return 0
}

enum FastCGIFuzz {
    static func decode(_ bytes: [UInt8], splitAt: Int?) -> (events: [String], stdout: [UInt8], stderr: [UInt8]) {
        var dec = FastCGIRecordDecoder()
        var events: [String] = []
        var out: [UInt8] = []
        var err: [UInt8] = []
        let pieces: [ArraySlice<UInt8>] = splitAt.map { [bytes[..<$0], bytes[$0...]] } ?? [bytes[...]]
        for piece in pieces {
            let buf = Array(piece)
            var off = 0
            loop: while true {
                let before = off
                let e = buf.withUnsafeBytes { dec.next($0, offset: &off) }
                precondition(off >= before && off <= buf.count)
                switch e {
                case .needMore:
                    precondition(off == buf.count)
                    break loop
                case .stdout(let r):
                    precondition(r.upperBound <= off && r.lowerBound >= before && !r.isEmpty)
                    out += buf[r]
                case .stderr(let r):
                    precondition(r.upperBound <= off && r.lowerBound >= before && !r.isEmpty)
                    err += buf[r]
                case .stdoutClosed: events.append("closed")
                case .endRequest(let a, let s): events.append("end \(a) \(s)")
                case .error(let e):
                    events.append(e.logMessage)
                    return (events, out, err)
                }
            }
        }
        return (events, out, err)
    }

    static func head(_ bytes: [UInt8], kind: ResponseHeadKind, splitAt: Int?) -> String {
        var parser = ResponseParser(maxHeadBytes: 4096)
        parser.kind = kind
        var head = ResponseHead()
        var r = ResponseParseResult.incomplete
        for n in [splitAt ?? bytes.count, bytes.count] {
            r = bytes[..<n].withUnsafeBytes { parser.parse($0, into: &head) }
            if r != .incomplete { break }
        }
        guard r == .complete else { return "\(r)" }
        precondition(head.headLength <= bytes.count && head.reason.upperBound <= head.headLength)
        for h in head.headers { precondition(h.value.upperBound < head.headLength) }
        return "\(head.status) \(head.headLength) \(head.headers.count) \(head.reason)"
    }

    static func roundTrip(_ bytes: [UInt8]) {
        var parts = bytes.split(separator: 0xFF, omittingEmptySubsequences: false).map(Array.init)
        if parts.count % 2 == 1 { parts.append([]) }
        var params: [(key: [UInt8], value: [UInt8])] = []
        var i = 0
        while i < parts.count {
            params.append((parts[i], parts[i + 1]))
            i += 2
        }
        var out: [UInt8] = []
        guard FastCGIRecord.appendRequestStart(params: params, keepConnection: true, to: &out) == nil else {
            precondition(out.isEmpty)
            return
        }
        precondition(out.count % 8 == 0 && out[1] == 1 && out[17] == 4)
        let size = Int(out[20]) << 8 | Int(out[21])
        var p = 24
        func length() -> Int {
            if out[p] & 0x80 == 0 {
                p += 1
                return Int(out[p - 1])
            }
            let n = Int(out[p] & 0x7F) << 24 | Int(out[p + 1]) << 16 | Int(out[p + 2]) << 8 | Int(out[p + 3])
            p += 4
            return n
        }
        var decoded: [(key: [UInt8], value: [UInt8])] = []
        while p < 24 + size {
            let kl = length()
            let vl = length()
            decoded.append((Array(out[p..<(p + kl)]), Array(out[(p + kl)..<(p + kl + vl)])))
            p += kl + vl
        }
        precondition(p == 24 + size && decoded.count == params.count)
        for (a, b) in zip(decoded, params) { precondition(a.key == b.key && a.value == b.value) }
    }
}
