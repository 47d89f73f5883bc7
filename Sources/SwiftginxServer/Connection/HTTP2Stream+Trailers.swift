// Response trailers on an HTTP/2 stream: a HEADERS frame with END_STREAM after the last
// DATA frame (or right after the response head when the body is empty), as nginx sends
// them. They come from `add_trailer` (evaluated once the body is out, as nginx does) or
// from a chunked body's trailer section (a proxied answer with trailers); names are
// lower-cased and connection-specific fields left out. A trailer block larger than the
// client's frame size goes out in CONTINUATION frames (nghttp2 splits it).

import CNghttp2
import SwiftginxHTTP

extension HTTP2Stream {
    /// Whether trailers follow the body.
    var hasTrailers: Bool {
        trailersAtEnd || !(responseChunked?.trailerSection.isEmpty ?? true)
    }

    /// Submits the trailer fields (from the DATA callback, which then leaves END_STREAM
    /// off the last DATA frame); false when there are none after all.
    func submitTrailers() -> Bool {
        var section: [UInt8]
        if trailersAtEnd {
            _ = ResponseTrailers.lastChunk(request)
            section = request.sentTrailers
        } else {
            section = responseChunked?.trailerSection ?? []
        }
        guard let s = connection.session else { return false }
        var offsets: [(name: Range<Int>, value: Range<Int>)] = []
        var lineStart = 0
        var i = 0
        while i < section.count {
            if section[i] == 0x0A {
                var end = i
                if end > lineStart && section[end - 1] == 0x0D { end -= 1 }
                if let colon = section[lineStart..<end].firstIndex(of: 0x3A) {
                    for k in lineStart..<colon where section[k] >= 0x41 && section[k] <= 0x5A { section[k] |= 0x20 }
                    var v = colon + 1
                    while v < end && (section[v] == 0x20 || section[v] == 0x09) { v += 1 }
                    var e = end
                    while e > v && (section[e - 1] == 0x20 || section[e - 1] == 0x09) { e -= 1 }
                    let name = lineStart..<colon
                    if !Self.connectionSpecific(section[name]) { offsets.append((name, v..<e)) }
                }
                lineStart = i + 1
            }
            i += 1
        }
        guard !offsets.isEmpty else { return false }
        return section.withUnsafeMutableBufferPointer { block -> Bool in
            let base = block.baseAddress!
            let nva = offsets.map {
                nghttp2_nv(
                    name: base + $0.name.lowerBound, value: base + $0.value.lowerBound, namelen: $0.name.count,
                    valuelen: $0.value.count, flags: UInt8(NGHTTP2_NV_FLAG_NONE.rawValue))
            }
            return nghttp2_submit_trailer(s, id, nva, nva.count) == 0
        }
    }

    private static func connectionSpecific(_ name: ArraySlice<UInt8>) -> Bool {
        for n in ["connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade", "te"]
        where name.elementsEqual(n.utf8) {
            return true
        }
        return false
    }
}
