// The request head of the CGI-style upstream protocols: uwsgi's packet, FastCGI's
// BEGIN_REQUEST and PARAMS records, SCGI's netstring. All three carry the same
// parameters, built as nginx builds them: the location's `*_param` lines in order (an
// `if_not_empty` one left out when its value is empty), then, unless
// `*_pass_request_headers off`, one HTTP_* parameter per client header name (upper-cased,
// '-' made '_'; a repeated header joined with ", ", Cookie with "; ", at its first
// place), except the names a `*_param` already sets. The body follows: unframed for
// uwsgi and SCGI, in STDIN records for FastCGI (ProxyExchange+FastCGI.swift).
//
// Everything is written straight into the exchange's request buffer — values evaluated
// in place, lengths patched afterwards — so a request allocates nothing here. The
// encodings are the ones `UwsgiPacket`, `FastCGIRecord` and `SCGIRequest` in
// SwiftginxHTTP define (and their tests check); this is their in-place form.

import SwiftginxConfig
import SwiftginxHTTP

extension UpstreamRequestBuilder {
    private static let cookieName = Array("cookie".utf8)
    /// BEGIN_REQUEST without FCGI_KEEP_CONN and with it, each followed by the PARAMS header
    /// whose length and padding are patched once the parameters are written.
    private static let fastcgiStart: [[UInt8]] = [false, true].map {
        [1, 1, 0, 1, 0, 8, 0, 0, 0, 1, $0 ? 1 : 0, 0, 0, 0, 0, 0, 1, 4, 0, 1, 0, 0, 0, 0]
    }
    private static let fastcgiParamsEnd: [UInt8] = [1, 4, 0, 1, 0, 0, 0, 0]
    /// Room left before an SCGI head for its netstring length ("123:").
    private static let scgiPrefixRoom = 21

    /// Writes the head of a uwsgi, FastCGI or SCGI request into `x.requestHead` (empty).
    static func buildCGI(for x: ProxyExchange, proto: UpstreamProtocol) -> Sent {
        let out = x.requestHead
        let request = x.request
        let settings = x.settings
        var keep = false
        switch proto {
        case .fastcgi:
            keep = settings.fastcgi.keepConn && (x.group?.keepalive ?? 0) > 0
            // BEGIN_REQUEST (responder role, FCGI_KEEP_CONN), then the PARAMS header, patched.
            out.append(fastcgiStart[keep ? 1 : 0])
        case .scgi:
            out.reserve(scgiPrefixRoom)
            out.writerIndex += scgiPrefixRoom
            // CONTENT_LENGTH first, as the protocol wants.
            out.append("CONTENT_LENGTH\0")
            let length: Int64 =
                !settings.passRequestBody ? 0 : x.streaming ? (request.head.contentLength ?? 0) : x.bodyLength
            out.append(decimal: length)
            out.append(0)
        default:
            out.append(settings.modifier1)
            out.append(0)
            out.append(0)
            out.append(settings.modifier2)
        }
        let blockStart = out.writerIndex
        var w = CGIPairWriter(proto: proto, out: out)
        for param in settings.params {
            w.beginKey()
            out.append(param.nameBytes)
            w.beginValue()
            appendValue(param.value, for: request, to: out)
            w.end(skipIfEmpty: param.ifNotEmpty)
        }
        if settings.passRequestHeaders { appendHeaderParams(x, &w) }
        let size = out.writerIndex - blockStart
        switch proto {
        case .fastcgi:
            if w.tooBig || size > FastCGIRecord.maxContent {
                request.logError("fastcgi request record is too big: \(size)", level: .alert)
                return Sent(uri: 0..<0, connectionClose: true, failed: true)
            }
            let padding = (8 - size % 8) % 8
            out.base.storeBytes(of: UInt8(size >> 8), toByteOffset: 20, as: UInt8.self)
            out.base.storeBytes(of: UInt8(size & 0xFF), toByteOffset: 21, as: UInt8.self)
            out.base.storeBytes(of: UInt8(padding), toByteOffset: 22, as: UInt8.self)
            for _ in 0..<padding { out.append(0) }
            out.append(fastcgiParamsEnd)
            // No body to send: the empty STDIN record goes with the head, in one write.
            if !settings.passRequestBody || (!x.streaming && x.bodyLength == 0) {
                out.append(FastCGIRecord.stdinEnd)
            }
            return Sent(uri: 0..<0, connectionClose: !keep)
        case .scgi:
            // The netstring's length goes right before the headers; the block moves down to it.
            let total = out.writerIndex - scgiPrefixRoom
            var digits = 1
            var rest = total / 10
            while rest > 0 {
                digits += 1
                rest /= 10
            }
            (out.base + digits + 1).copyMemory(from: out.base + scgiPrefixRoom, byteCount: total)
            var n = total
            for i in stride(from: digits - 1, through: 0, by: -1) {
                out.base.storeBytes(of: UInt8(48 + n % 10), toByteOffset: i, as: UInt8.self)
                n /= 10
            }
            out.base.storeBytes(of: UInt8(ascii: ":"), toByteOffset: digits, as: UInt8.self)
            out.writerIndex = digits + 1 + total
            out.append(UInt8(ascii: ","))
        default:
            if w.tooBig || size > UwsgiPacket.maxSize {
                request.logError("uwsgi request is too big: \(size)")
                return Sent(uri: 0..<0, connectionClose: true, failed: true)
            }
            out.base.storeBytes(of: UInt8(size & 0xFF), toByteOffset: 1, as: UInt8.self)
            out.base.storeBytes(of: UInt8(size >> 8), toByteOffset: 2, as: UInt8.self)
        }
        return Sent(uri: 0..<0, connectionClose: true)
    }

    /// One HTTP_* parameter per client header name, at its first occurrence, with the
    /// values of its repetitions joined; names a `*_param` sets are left out.
    private static func appendHeaderParams(_ x: ProxyExchange, _ w: inout CGIPairWriter) {
        let request = x.request
        let out = w.out
        let buf = request.headBytes
        let headers = request.head.headers
        let params = x.settings.params
        for i in headers.indices {
            let name = buf[headers[i].name]
            var repeated = false
            for j in 0..<i where asciiCaseEqualFolded(buf[headers[j].name], name) {
                repeated = true
                break
            }
            if repeated { continue }
            w.beginKey()
            out.append("HTTP_")
            for c in name {
                out.append(c == UInt8(ascii: "-") ? UInt8(ascii: "_") : (c >= 97 && c <= 122 ? c - 32 : c))
            }
            let key = UnsafeRawBufferPointer(start: out.base + w.keyStart, count: out.writerIndex - w.keyStart)
            if params.contains(where: { $0.nameBytes.elementsEqual(key) }) {
                w.rollback()
                continue
            }
            w.beginValue()
            out.append(UnsafeRawBufferPointer(rebasing: buf[headers[i].value]))
            let separator: StaticString = asciiCaseEqual(name, Self.cookieName) ? "; " : ", "
            for k in (i + 1)..<headers.count where asciiCaseEqualFolded(buf[headers[k].name], name) {
                out.append(separator)
                out.append(UnsafeRawBufferPointer(rebasing: buf[headers[k].value]))
            }
            w.end(skipIfEmpty: false)
        }
    }

    /// Case-insensitive equality of two header names.
    @inline(__always)
    private static func asciiCaseEqualFolded(_ a: Slice<UnsafeRawBufferPointer>, _ b: Slice<UnsafeRawBufferPointer>)
        -> Bool
    {
        guard a.count == b.count else { return false }
        var i = a.startIndex
        var j = b.startIndex
        while i < a.endIndex {
            let x = a[i] >= 65 && a[i] <= 90 ? a[i] | 0x20 : a[i]
            let y = b[j] >= 65 && b[j] <= 90 ? b[j] | 0x20 : b[j]
            if x != y { return false }
            i += 1
            j += 1
        }
        return true
    }
}

/// Writes one name-value pair in place in the protocol's encoding: room for the lengths
/// is left before the key (FastCGI: up to 8 bytes, then moved down to what the lengths
/// take; uwsgi: 2 + 2 bytes), or NULs after key and value (SCGI).
struct CGIPairWriter {
    let proto: UpstreamProtocol
    let out: ByteBuffer
    /// Where the pair starts, its key, its value.
    var start = 0
    var keyStart = 0
    var valueStart = 0
    /// A key or value past the protocol's 16-bit (uwsgi) or 31-bit limits.
    var tooBig = false

    init(proto: UpstreamProtocol, out: ByteBuffer) {
        self.proto = proto
        self.out = out
    }

    mutating func beginKey() {
        start = out.writerIndex
        let room = proto == .fastcgi ? 8 : (proto == .uwsgi ? 2 : 0)
        out.reserve(room)
        out.writerIndex += room
        keyStart = out.writerIndex
    }

    mutating func beginValue() {
        switch proto {
        case .scgi: out.append(0)
        case .uwsgi:
            out.reserve(2)
            out.writerIndex += 2
        default: break
        }
        valueStart = out.writerIndex
    }

    func rollback() { out.writerIndex = start }

    mutating func end(skipIfEmpty: Bool) {
        let valueCount = out.writerIndex - valueStart
        if valueCount == 0 && skipIfEmpty {
            rollback()
            return
        }
        switch proto {
        case .fastcgi:
            let keyCount = valueStart - keyStart
            let lengths = (keyCount > 127 ? 4 : 1) + (valueCount > 127 ? 4 : 1)
            let shift = 8 - lengths
            if shift > 0 {
                (out.base + start + lengths).copyMemory(from: out.base + keyStart, byteCount: keyCount + valueCount)
                out.writerIndex -= shift
            }
            var p = start
            storeFastCGILength(keyCount, at: &p)
            storeFastCGILength(valueCount, at: &p)
        case .uwsgi:
            let keyCount = valueStart - 2 - keyStart
            if keyCount > UwsgiPacket.maxSize || valueCount > UwsgiPacket.maxSize { tooBig = true }
            storeUInt16LE(keyCount, at: start)
            storeUInt16LE(valueCount, at: valueStart - 2)
        default:
            out.append(0)
        }
    }

    /// A FastCGI length: one byte up to 127, else four with the high bit set.
    private func storeFastCGILength(_ n: Int, at p: inout Int) {
        if n > 127 {
            let v = UInt32(truncatingIfNeeded: n) | 0x8000_0000
            for shift in stride(from: 24, through: 0, by: -8) {
                out.base.storeBytes(of: UInt8(truncatingIfNeeded: v >> UInt32(shift)), toByteOffset: p, as: UInt8.self)
                p += 1
            }
        } else {
            out.base.storeBytes(of: UInt8(n), toByteOffset: p, as: UInt8.self)
            p += 1
        }
    }

    private func storeUInt16LE(_ n: Int, at p: Int) {
        out.base.storeBytes(of: UInt8(truncatingIfNeeded: n), toByteOffset: p, as: UInt8.self)
        out.base.storeBytes(of: UInt8(truncatingIfNeeded: n >> 8), toByteOffset: p + 1, as: UInt8.self)
    }
}
