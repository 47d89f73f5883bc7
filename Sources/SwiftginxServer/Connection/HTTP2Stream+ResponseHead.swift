// The answer's response head on an HTTP/2 stream. Handlers write the head as the
// HTTP/1.1 bytes they write for an HTTP/1 client (Request+ResponseHead.swift, a proxied
// answer's UpstreamResponse+ClientHead.swift, cache hits, error pages); every one of
// those heads is the server's own: upstream heads were checked strictly where they were
// read, and the values the server adds come from its configuration and variables. So the
// head is not parsed again by the strict ResponseParser (which refuses control bytes in
// a value) but split here by a small trusted splitter: the status line `HTTP/1.x NNN`,
// then `Name: value` lines up to the empty line. A value may hold any byte but NUL, CR
// and LF, as nginx sends it over HTTP/2 (`add_header X-Foo $http_x_foo` echoes a
// client's field whatever its bytes, h2_headers.t "all chars"); names are lower-cased
// and the connection-specific fields left out (RFC 9113 §8.2.2). A head that does not
// split so (a value with a bare LF or a NUL from a variable) answers 502, as before.

import SwiftginxHTTP

/// Splits the server's own HTTP/1.1 response head into a HEADERS frame's field list.
enum HTTP2HeadSplitter {
    /// Which fields a head loses on its way to a HEADERS frame.
    enum Dropped {
        /// An answer: Connection, Keep-Alive, Proxy-Connection, Transfer-Encoding, Upgrade.
        case response
        /// The same and Content-Length (the answer ends with trailers).
        case responseAndLength
        /// A WebSocket back end's 101 become the tunnel's 200: the handshake's fields
        /// (Connection, Upgrade, Sec-WebSocket-Accept, Keep-Alive, Transfer-Encoding,
        /// Content-Length).
        case tunnel
    }

    /// The status of a head beginning `HTTP/1.x NNN` (then SP and a reason, or the end
    /// of the line) and the offset of its first field line; nil for anything else.
    static func statusLine(_ b: UnsafeRawBufferPointer) -> (status: Int, fields: Int)? {
        guard b.count >= 14, b[0] == 0x48, b[1] == 0x54, b[2] == 0x54, b[3] == 0x50, b[4] == 0x2F, b[5] == 0x31,
            b[6] == 0x2E, b[8] == ASCII.sp, b[12] == ASCII.sp || b[12] == ASCII.cr
        else { return nil }
        let d0 = b[9] &- 0x30
        let d1 = b[10] &- 0x30
        let d2 = b[11] &- 0x30
        guard d0 < 10, d1 < 10, d2 < 10 else { return nil }
        var i = 12
        while i + 1 < b.count {
            let c = b[i]
            if c == ASCII.cr { return b[i + 1] == ASCII.lf ? (Int(d0) * 100 + Int(d1) * 10 + Int(d2), i + 2) : nil }
            if c == ASCII.lf || c == 0 { return nil }
            i += 1
        }
        return nil
    }

    /// Splits the field lines of `b` from `start` to the empty line into `block` (name
    /// and value bytes, names lower-cased) and `offsets`, less the `dropped` fields.
    /// Returns nil when a line does not split (no colon, an empty name, a space or a
    /// control in a name, NUL or a bare CR or LF in a value, no empty line), else whether
    /// the body is chunked (`Transfer-Encoding: chunked`; another coding is refused).
    static func split(
        _ b: UnsafeRawBufferPointer, from start: Int, dropping dropped: Dropped, into block: inout [UInt8],
        offsets: inout [(name: Range<Int>, value: Range<Int>)]
    ) -> Bool? {
        block.removeAll(keepingCapacity: true)
        offsets.removeAll(keepingCapacity: true)
        block.reserveCapacity(b.count)
        var chunked = false
        let n = b.count
        var i = start
        while i < n {
            if b[i] == ASCII.cr {
                // The empty line ends the head.
                return i + 1 < n && b[i + 1] == ASCII.lf ? chunked : nil
            }
            let nameStart = i
            while i < n && b[i] != 0x3A {
                if b[i] <= ASCII.sp || b[i] == 0x7F { return nil }
                i += 1
            }
            guard i < n, i > nameStart else { return nil }
            let nameEnd = i
            i += 1
            while i < n && (b[i] == ASCII.sp || b[i] == ASCII.htab) { i += 1 }
            let valueStart = i
            while i < n && b[i] != ASCII.cr {
                if b[i] == ASCII.lf || b[i] == 0 { return nil }
                i += 1
            }
            guard i + 1 < n, b[i + 1] == ASCII.lf else { return nil }
            var valueEnd = i
            while valueEnd > valueStart && (b[valueEnd - 1] == ASCII.sp || b[valueEnd - 1] == ASCII.htab) {
                valueEnd -= 1
            }
            i += 2
            let name = UnsafeRawBufferPointer(rebasing: b[nameStart..<nameEnd])
            let value = UnsafeRawBufferPointer(rebasing: b[valueStart..<valueEnd])
            switch leftOut(name, dropped) {
            case .keep: break
            case .drop: continue
            case .transferEncoding:
                if dropped == .tunnel { continue }
                guard ASCII.equalsLowercased(value, "chunked") else { return nil }
                chunked = true
                continue
            }
            let n0 = block.count
            for c in name { block.append(c &- 0x41 < 26 ? c | 0x20 : c) }
            let v0 = block.count
            block.append(contentsOf: value)
            offsets.append((n0..<v0, v0..<block.count))
        }
        return nil
    }

    private enum Verdict { case keep, drop, transferEncoding }

    /// Whether the field named `name` stays: one comparison chosen by the name's length.
    @inline(__always)
    private static func leftOut(_ name: UnsafeRawBufferPointer, _ dropped: Dropped) -> Verdict {
        switch name.count {
        case 7:
            return ASCII.equalsLowercased(name, "upgrade") ? .drop : .keep
        case 10:
            return ASCII.equalsLowercased(name, "connection") || ASCII.equalsLowercased(name, "keep-alive")
                ? .drop : .keep
        case 14:
            return dropped != .response && ASCII.equalsLowercased(name, "content-length") ? .drop : .keep
        case 16:
            return dropped != .tunnel && ASCII.equalsLowercased(name, "proxy-connection") ? .drop : .keep
        case 17:
            return ASCII.equalsLowercased(name, "transfer-encoding") ? .transferEncoding : .keep
        case 20:
            return dropped == .tunnel && ASCII.equalsLowercased(name, "sec-websocket-accept") ? .drop : .keep
        default:
            return .keep
        }
    }
}

extension HTTP2Stream {
    /// The response head is complete in `headAccum`: its status and fields for the
    /// HEADERS frame; an interim (1xx) head is dropped, a WebSocket back end's 101 opens
    /// the tunnel.
    func parseHead() {
        let split: Bool = headAccum.withUnsafeBytes { buf in
            guard let (status, fields) = HTTP2HeadSplitter.statusLine(buf) else { return false }
            if isTunnel && status == 101 {
                // The back end switched protocols: the tunnel's 200 (RFC 8441).
                guard
                    HTTP2HeadSplitter.split(
                        buf, from: fields, dropping: .tunnel, into: &headerBlock, offsets: &headerOffsets) != nil
                else { return false }
                acceptTunnel()
                return true
            }
            if status < 200 {
                // An interim answer (100 Continue): HTTP/2 clients do not wait for it.
                return true
            }
            guard
                let chunked = HTTP2HeadSplitter.split(
                    buf, from: fields, dropping: trailersAtEnd ? .responseAndLength : .response, into: &headerBlock,
                    offsets: &headerOffsets)
            else { return false }
            self.status = status
            headParsed = true
            responseChunked = nil
            if chunked {
                // A chunked body's trailer section (a proxied answer with trailers) is sent on.
                responseChunked = ChunkedDecoder()
                responseChunked!.keepsTrailers = true
            }
            noBody = request.head.method == .head || status == 204 || status == 304
            return true
        }
        headAccum.removeAll()
        if !split {
            headerBlock.removeAll()
            headerOffsets.removeAll()
            status = 502
            headParsed = true
        }
    }
}
