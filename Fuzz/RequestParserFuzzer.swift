// libFuzzer entry point for the request parser and chunked decoder. Built by `scripts/fuzz`
// together with the SwiftginxHTTP sources (not part of the package). Each input is parsed
// as a pipelined stream: whole, and again in two pieces split at a position taken from the
// first byte, and the two runs must agree; chunked bodies go through `ChunkedDecoder`.
// Any trap, sanitizer report or disagreement is a bug.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = Array(UnsafeRawBufferPointer(start: start, count: count))
    var options = RequestParserOptions()
    options.requireHost = (bytes.first ?? 0) & 1 == 0
    options.underscoresInHeaders = (bytes.first ?? 0) & 2 == 0
    options.ignoreInvalidHeaders = (bytes.first ?? 0) & 4 == 0
    let whole = FuzzDriver.run(bytes, splitAt: nil, options: options)
    if !bytes.isEmpty {
        let k = Int(bytes[0]) * bytes.count / 256
        let split = FuzzDriver.run(bytes, splitAt: k, options: options)
        if split != whole { fatalError("split at \(k) gives \(split), whole gives \(whole)") }
    }
    // Exercise the pure helpers on the same bytes.
    bytes.withUnsafeBytes { raw in
        var out: [UInt8] = []
        _ = URINormalizer.normalize(raw, mergeSlashes: true, into: &out)
        _ = ByteRangeSpec.evaluate(raw, size: Int64(count), maxRanges: nil)
        _ = HTTPDate.parse(raw)
    }
    return 0
}

enum FuzzDriver {
    /// Messages seen (head length, body length) and how the stream ended, as text.
    static func run(_ bytes: [UInt8], splitAt: Int?, options: RequestParserOptions) -> [String] {
        var log: [String] = []
        var parser = RequestParser(options: options)
        var head = RequestHead()
        var received: [UInt8] = []
        let pieces: [ArraySlice<UInt8>] =
            splitAt.map { [bytes[..<$0], bytes[$0...]] } ?? [bytes[...]]
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
                        log.append("error \(e.status) \(e.logMessage)")
                        stop = true
                        break loop
                    case .complete:
                        precondition(head.headLength > 0 && base + head.headLength <= received.count)
                        log.append("head \(head.headLength) \(head.headers.count)")
                        base += head.headLength
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
                if !head.keepAlive || head.upgrade != nil { stop = true }
                parser.reset()
                received.removeSubrange(0..<base)
                base = 0
            }
        }
        return log
    }
}
