// The PROXY protocol header a load balancer puts before a connection's first byte
// (`listen ... proxy_protocol`): version 1, one text line ("PROXY TCP4 192.0.2.1
// 192.0.2.2 123 5678\r\n", or "PROXY UNKNOWN ...\r\n"), and version 2, a binary
// header (a 12-byte signature, version/command, family/transport, a length, the
// addresses and type-length-value fields). Parsed as nginx parses it: v1 addresses
// are kept as written (hex digits, '.' and ':' only), v2 addresses are formatted;
// a v2 LOCAL command, an unspecified family or a non-stream transport is skipped
// without addresses, as is "PROXY UNKNOWN". Pure: no sockets; the connection gives
// it the bytes it peeked and consumes exactly what the header took.

/// The addresses (and v2 TLVs) a PROXY protocol header carried.
public struct ProxyProtocolHeader: Sendable, Equatable {
    /// The client's address as text ("192.0.2.1", "2001:db8::1").
    public var sourceAddress: [UInt8]
    public var sourcePort: Int
    /// The address the client connected to, as text.
    public var destinationAddress: [UInt8]
    public var destinationPort: Int
    /// Version 2's type-length-value fields, as received.
    public var tlvs: [UInt8]

    public init(
        sourceAddress: [UInt8], sourcePort: Int, destinationAddress: [UInt8], destinationPort: Int,
        tlvs: [UInt8] = []
    ) {
        self.sourceAddress = sourceAddress
        self.sourcePort = sourcePort
        self.destinationAddress = destinationAddress
        self.destinationPort = destinationPort
        self.tlvs = tlvs
    }
}

public enum ProxyProtocol {
    /// The longest version 1 line (nginx's NGX_PROXY_PROTOCOL_V1_MAX_HEADER).
    public static let maxV1Header = 107
    /// The most bytes nginx reads for a header (NGX_PROXY_PROTOCOL_MAX_HEADER).
    public static let maxHeader = 4096

    public enum ParseResult: Equatable {
        /// More bytes are needed.
        case incomplete
        /// Not a valid header: the connection is closed; `message` is nginx's error-log text.
        case broken(message: String)
        /// A header of `length` bytes; nil when it carried no addresses (UNKNOWN, LOCAL...).
        case complete(length: Int, header: ProxyProtocolHeader?)
    }

    static let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]

    /// Parses the header at the start of `buf`.
    public static func parse(_ buf: UnsafeRawBufferPointer) -> ParseResult {
        let n = buf.count
        if n == 0 { return .incomplete }
        // Version 2: the signature, or a prefix of it while it is arriving.
        var isV2Prefix = true
        for i in 0..<min(n, signature.count) where buf[i] != signature[i] {
            isV2Prefix = false
            break
        }
        if isV2Prefix {
            return n < 16 ? .incomplete : parseV2(buf)
        }
        return parseV1(buf)
    }

    // MARK: version 1

    private static func parseV1(_ buf: UnsafeRawBufferPointer) -> ParseResult {
        let n = buf.count
        let proxy = Array("PROXY ".utf8)
        for i in 0..<min(n, proxy.count) where buf[i] != proxy[i] { return broken(buf) }
        guard let lf = buf.prefix(maxV1Header).firstIndex(of: 0x0A) else {
            return n < maxV1Header ? .incomplete : broken(buf)
        }
        var p = 6
        if matches(buf, p, "UNKNOWN") {
            // Anything up to CRLF is skipped.
            guard lf > 0, buf[lf - 1] == 0x0D else { return broken(buf) }
            return .complete(length: lf + 1, header: nil)
        }
        guard matches(buf, p, "TCP"), p + 4 < n, buf[p + 3] == 0x34 || buf[p + 3] == 0x36, buf[p + 4] == 0x20 else {
            return broken(buf)
        }
        p += 5
        guard let (src, afterSrc) = address(buf, from: p, end: lf),
            let (dst, afterDst) = address(buf, from: afterSrc, end: lf),
            let (srcPort, afterSrcPort) = port(buf, from: afterDst, end: lf, separator: 0x20),
            let (dstPort, afterDstPort) = port(buf, from: afterSrcPort, end: lf, separator: 0x0D),
            afterDstPort == lf
        else { return broken(buf) }
        let header = ProxyProtocolHeader(
            sourceAddress: src, sourcePort: srcPort, destinationAddress: dst, destinationPort: dstPort)
        return .complete(length: lf + 1, header: header)
    }

    private static func matches(_ buf: UnsafeRawBufferPointer, _ at: Int, _ word: String) -> Bool {
        let w = Array(word.utf8)
        guard at + w.count <= buf.count else { return false }
        for i in 0..<w.count where buf[at + i] != w[i] { return false }
        return true
    }

    /// An address up to a space: hex digits, '.' and ':' only (as nginx checks it).
    private static func address(_ buf: UnsafeRawBufferPointer, from: Int, end: Int) -> ([UInt8], Int)? {
        var i = from
        while i < end {
            let c = buf[i]
            if c == 0x20 { return i > from ? (Array(buf[from..<i]), i + 1) : nil }
            let ok =
                c == 0x3A || c == 0x2E || (c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66)
                || (c >= 0x41 && c <= 0x46)
            if !ok { return nil }
            i += 1
        }
        return nil
    }

    /// A decimal port (0-65535) up to `separator`.
    private static func port(_ buf: UnsafeRawBufferPointer, from: Int, end: Int, separator: UInt8) -> (Int, Int)? {
        var i = from
        var value = 0
        while i < end, buf[i] != separator {
            let c = buf[i]
            guard c >= 0x30 && c <= 0x39 else { return nil }
            value = value * 10 + Int(c - 0x30)
            if value > 65535 { return nil }
            i += 1
        }
        guard i < end, i > from else { return nil }
        return (value, i + 1)
    }

    /// nginx's `broken header: "<the first line>"`.
    private static func broken(_ buf: UnsafeRawBufferPointer) -> ParseResult {
        var end = 0
        while end < buf.count && end < maxV1Header && buf[end] != 0x0D && buf[end] != 0x0A { end += 1 }
        return .broken(message: "broken header: \"\(String(decoding: buf[0..<end], as: UTF8.self))\"")
    }

    // MARK: version 2

    private static func parseV2(_ buf: UnsafeRawBufferPointer) -> ParseResult {
        let version = buf[12] >> 4
        guard version == 2 else { return .broken(message: "unknown PROXY protocol version: \(version)") }
        let len = Int(buf[14]) << 8 | Int(buf[15])
        let total = 16 + len
        if total > maxHeader { return .broken(message: "header is too large") }
        if buf.count < total { return .incomplete }
        let command = buf[12] & 0x0F
        let transport = buf[13] & 0x0F
        // Only PROXY over STREAM carries addresses; anything else is skipped whole.
        guard command == 1, transport == 1 else { return .complete(length: total, header: nil) }
        let body = UnsafeRawBufferPointer(rebasing: buf[16..<total])
        let addressLength: Int
        switch buf[13] >> 4 {
        case 1: addressLength = 12
        case 2: addressLength = 36
        default: return .complete(length: total, header: nil)
        }
        guard body.count >= addressLength else { return .broken(message: "broken PROXY protocol v2 header") }
        let size = addressLength == 12 ? 4 : 16
        var src: [UInt8] = []
        var dst: [UInt8] = []
        appendAddress(UnsafeRawBufferPointer(rebasing: body[0..<size]), to: &src)
        appendAddress(UnsafeRawBufferPointer(rebasing: body[size..<(2 * size)]), to: &dst)
        let srcPort = Int(body[2 * size]) << 8 | Int(body[2 * size + 1])
        let dstPort = Int(body[2 * size + 2]) << 8 | Int(body[2 * size + 3])
        let header = ProxyProtocolHeader(
            sourceAddress: src, sourcePort: srcPort, destinationAddress: dst, destinationPort: dstPort,
            tlvs: Array(body[addressLength...]))
        return .complete(length: total, header: header)
    }

    /// 4 bytes as dotted decimal, 16 as RFC 5952 text (the longest run of two or more
    /// zero groups as "::", lowercase hex), as nginx prints addresses.
    public static func appendAddress(_ raw: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        if raw.count == 4 {
            for i in 0..<4 {
                if i > 0 { out.append(0x2E) }
                appendDecimal(Int(raw[i]), to: &out)
            }
            return
        }
        var groups = [Int](repeating: 0, count: 8)
        for i in 0..<8 { groups[i] = Int(raw[2 * i]) << 8 | Int(raw[2 * i + 1]) }
        var bestStart = -1
        var bestLength = 1
        var i = 0
        while i < 8 {
            if groups[i] == 0 {
                var j = i
                while j < 8 && groups[j] == 0 { j += 1 }
                if j - i > bestLength {
                    bestStart = i
                    bestLength = j - i
                }
                i = j
            } else {
                i += 1
            }
        }
        let hex = Array("0123456789abcdef".utf8)
        i = 0
        while i < 8 {
            if i == bestStart {
                out += [0x3A, 0x3A]
                i += bestLength
                continue
            }
            if i > 0 && i != bestStart + bestLength { out.append(0x3A) }
            let g = groups[i]
            var started = false
            for shift in stride(from: 12, through: 0, by: -4) {
                let d = (g >> shift) & 0xF
                if d != 0 || started || shift == 0 {
                    out.append(hex[d])
                    started = true
                }
            }
            i += 1
        }
    }

    private static func appendDecimal(_ v: Int, to out: inout [UInt8]) {
        if v >= 100 { out.append(UInt8(0x30 + v / 100)) }
        if v >= 10 { out.append(UInt8(0x30 + (v / 10) % 10)) }
        out.append(UInt8(0x30 + v % 10))
    }

    // MARK: TLVs

    /// The value of the first TLV of `type` in `tlvs`; nil when absent or when the
    /// list is malformed (nginx's "broken PROXY protocol TLV").
    public static func value(ofType type: Int, in tlvs: ArraySlice<UInt8>) -> ArraySlice<UInt8>? {
        var p = tlvs.startIndex
        while p < tlvs.endIndex {
            guard tlvs.endIndex - p >= 3 else { return nil }
            let t = Int(tlvs[p])
            let len = Int(tlvs[p + 1]) << 8 | Int(tlvs[p + 2])
            p += 3
            guard tlvs.endIndex - p >= len else { return nil }
            if t == type { return tlvs[p..<(p + len)] }
            p += len
        }
        return nil
    }

    /// The SSL TLV (0x20): its client byte and verify word come first, then sub-TLVs.
    public static let sslType = 0x20
}
