// A minimal blocking RFC 6455 WebSocket client over a plain loopback TCP socket,
// with receive timeouts: the HTTP/1.1 Upgrade handshake (Sec-WebSocket-Accept
// checked), masked text/binary frames of any size, whole-message receive
// (continuation frames joined, pings answered) and the closing handshake.

import Foundation
import Glibc

final class WebSocketClient {
    enum Opcode: UInt8 {
        case continuation = 0x0
        case text = 0x1
        case binary = 0x2
        case close = 0x8
        case ping = 0x9
        case pong = 0xA
    }

    /// The server did not switch protocols: its status and whole response head.
    struct HandshakeError: Error, CustomStringConvertible {
        let status: Int
        let head: String
        var description: String { "WebSocket handshake failed (\(status)):\n\(head)" }
    }

    /// -1 once closed. A throwing init closes nothing itself: the class is fully
    /// initialized by then, so deinit runs and closes it (closing twice would close a
    /// descriptor another thread of the test process may have opened meanwhile).
    private(set) var fd: Int32
    /// The server's 101 response head (without the final CRLF CRLF).
    private(set) var responseHead: String = ""
    /// Pings the server sent (each answered with a pong).
    private(set) var pingsReceived = 0
    private var buffer: [UInt8] = []
    private var readIndex = 0
    private var closed = false

    /// Connects and performs the opening handshake for `path`; `headers` are added
    /// to the request (a "Host" there replaces the default "host:port").
    static func connect(
        host: String = "127.0.0.1", port: Int, path: String, headers: [(String, String)] = [],
        timeoutSeconds: Int = 10
    ) throws -> WebSocketClient {
        try WebSocketClient(host: host, port: port, path: path, headers: headers, timeoutSeconds: timeoutSeconds)
    }

    init(
        host: String = "127.0.0.1", port: Int, path: String, headers: [(String, String)] = [],
        timeoutSeconds: Int = 10
    ) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(host)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, 16) }
        }
        if r != 0 {
            let e = errno
            throw TestFailure("WebSocket connect to \(host):\(port) failed: errno \(e)")
        }
        try handshake(host: host, port: port, path: path, headers: headers)
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    private func handshake(host: String, port: Int, path: String, headers: [(String, String)]) throws {
        let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
        var request = "GET \(path) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { request += "Host: \(host):\(port)\r\n" }
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        request += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        for (n, v) in headers { request += "\(n): \(v)\r\n" }
        try sendAll(Array((request + "\r\n").utf8))

        var headEnd: Int? = nil
        while headEnd == nil {
            headEnd = findHeadEnd()
            if headEnd == nil { try fill(context: "the handshake response") }
        }
        let head = String(decoding: buffer[readIndex..<headEnd!], as: UTF8.self)
        readIndex = headEnd! + 4
        responseHead = head
        let lines = head.components(separatedBy: "\r\n")
        let status = lines.first.flatMap { l -> Int? in
            let parts = l.split(separator: " ")
            return parts.count >= 2 ? Int(parts[1]) : nil
        }
        guard status == 101 else { throw HandshakeError(status: status ?? 0, head: head) }
        let expected = Data(sha1(Array((key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").utf8))).base64EncodedString()
        let accept = lines.dropFirst().first { $0.lowercased().hasPrefix("sec-websocket-accept:") }
            .map { $0.dropFirst("sec-websocket-accept:".count).trimmingCharacters(in: .whitespaces) }
        guard accept == expected else {
            throw TestFailure("bad Sec-WebSocket-Accept \(accept ?? "(none)"), expected \(expected):\n\(head)")
        }
    }

    func send(text: String) throws { try sendFrame(.text, Array(text.utf8)) }

    func send(binary: [UInt8]) throws { try sendFrame(.binary, binary) }

    func ping(_ payload: [UInt8] = []) throws { try sendFrame(.ping, payload) }

    /// One masked frame (clients must mask). `fin: false` starts or continues a
    /// fragmented message.
    func sendFrame(_ opcode: Opcode, _ payload: [UInt8], fin: Bool = true) throws {
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + 14)
        frame.append((fin ? 0x80 : 0) | opcode.rawValue)
        let n = payload.count
        if n < 126 {
            frame.append(0x80 | UInt8(n))
        } else if n <= 0xFFFF {
            frame += [0x80 | 126, UInt8(n >> 8), UInt8(n & 0xFF)]
        } else {
            frame.append(0x80 | 127)
            for shift in stride(from: 56, through: 0, by: -8) {
                frame.append(UInt8((UInt64(n) >> UInt64(shift)) & 0xFF))
            }
        }
        let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
        frame += mask
        let start = frame.count
        frame += payload
        frame.withUnsafeMutableBufferPointer { p in
            for i in 0..<n { p[start + i] ^= mask[i & 3] }
        }
        try sendAll(frame)
    }

    /// The next whole message: continuation frames joined, pings answered with
    /// pongs, pongs skipped. A close frame is returned as (.close, its payload).
    func receive() throws -> (opcode: Opcode, payload: [UInt8]) {
        var messageOpcode: Opcode? = nil
        var message: [UInt8] = []
        while true {
            let frame = try readFrame()
            switch frame.opcode {
            case .ping:
                pingsReceived += 1
                if !closed { try sendFrame(.pong, frame.payload) }
            case .pong:
                continue
            case .close:
                return (.close, frame.payload)
            case .text, .binary:
                guard messageOpcode == nil else { throw TestFailure("new data frame inside a fragmented message") }
                if frame.fin { return (frame.opcode, frame.payload) }
                messageOpcode = frame.opcode
                message = frame.payload
            case .continuation:
                guard let op = messageOpcode else { throw TestFailure("continuation frame without a message") }
                message += frame.payload
                if frame.fin { return (op, message) }
            }
        }
    }

    /// Receives a message and expects it to be text.
    func receiveText() throws -> String {
        let (op, payload) = try receive()
        guard op == .text else { throw TestFailure("expected a text message, got \(op) (\(payload.count) bytes)") }
        return String(decoding: payload, as: UTF8.self)
    }

    /// Sends a close frame with `code` and waits (bounded by the receive timeout)
    /// for the peer's close frame; returns the peer's code (1005 when its close
    /// frame had none), then waits for the peer to close the TCP connection.
    @discardableResult
    func close(code: UInt16 = 1000, reason: String = "") throws -> UInt16 {
        if !closed { try sendFrame(.close, [UInt8(code >> 8), UInt8(code & 0xFF)] + Array(reason.utf8)) }
        closed = true
        while true {
            let (op, payload) = try receive()
            guard op == .close else { continue }
            let peerCode: UInt16 = payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : 1005
            waitForEOF()
            return peerCode
        }
    }

    /// True when the peer closed the TCP connection (EOF or reset) within the
    /// receive timeout; frames that arrive meanwhile are dropped.
    @discardableResult
    func waitForEOF() -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            return n == 0 || errno == ECONNRESET
        }
    }

    // MARK: - Frames

    private struct Frame {
        var fin: Bool
        var opcode: Opcode
        var payload: [UInt8]
    }

    private func readFrame() throws -> Frame {
        try need(2)
        let b0 = buffer[readIndex]
        let b1 = buffer[readIndex + 1]
        guard let opcode = Opcode(rawValue: b0 & 0x0F) else { throw TestFailure("unknown opcode \(b0 & 0x0F)") }
        if b0 & 0x70 != 0 { throw TestFailure("reserved bits set in frame: \(b0)") }
        var headerLength = 2
        var length = Int(b1 & 0x7F)
        if length == 126 {
            try need(4)
            length = Int(buffer[readIndex + 2]) << 8 | Int(buffer[readIndex + 3])
            headerLength = 4
        } else if length == 127 {
            try need(10)
            length = 0
            for i in 2..<10 { length = length << 8 | Int(buffer[readIndex + i]) }
            headerLength = 10
        }
        let masked = b1 & 0x80 != 0
        if masked { headerLength += 4 }
        try need(headerLength + length)
        let maskStart = readIndex + headerLength - 4
        let start = readIndex + headerLength
        var payload = Array(buffer[start..<(start + length)])
        if masked {
            let mask = Array(buffer[maskStart..<(maskStart + 4)])
            payload.withUnsafeMutableBufferPointer { p in
                for i in 0..<p.count { p[i] ^= mask[i & 3] }
            }
        }
        readIndex = start + length
        return Frame(fin: b0 & 0x80 != 0, opcode: opcode, payload: payload)
    }

    /// Makes sure `count` unread bytes are buffered.
    private func need(_ count: Int) throws {
        while buffer.count - readIndex < count { try fill(context: "a frame") }
    }

    private func fill(context: String) throws {
        if readIndex > 0 && readIndex >= buffer.count / 2 {
            buffer.removeFirst(readIndex)
            readIndex = 0
        }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                buffer += chunk[0..<n]
                return
            }
            if n < 0 && errno == EINTR { continue }
            if n == 0 { throw TestFailure("connection closed while reading \(context)") }
            throw TestFailure("recv failed while reading \(context): errno \(errno)")
        }
    }

    private func findHeadEnd() -> Int? {
        guard buffer.count - readIndex >= 4 else { return nil }
        for i in readIndex...(buffer.count - 4)
        where buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 {
            return i
        }
        return nil
    }

    private func sendAll(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { throw TestFailure("send failed: errno \(errno)") }
            off += n
        }
    }
}

/// SHA-1 (FIPS 180-4), only for Sec-WebSocket-Accept.
func sha1(_ message: [UInt8]) -> [UInt8] {
    var h: [UInt32] = [0x6745_2301, 0xEFCD_AB89, 0x98BA_DCFE, 0x1032_5476, 0xC3D2_E1F0]
    var data = message
    let bitLength = UInt64(message.count) * 8
    data.append(0x80)
    while data.count % 64 != 56 { data.append(0) }
    for shift in stride(from: 56, through: 0, by: -8) { data.append(UInt8((bitLength >> UInt64(shift)) & 0xFF)) }
    var w = [UInt32](repeating: 0, count: 80)
    for chunk in stride(from: 0, to: data.count, by: 64) {
        for i in 0..<16 {
            let j = chunk + i * 4
            w[i] = UInt32(data[j]) << 24 | UInt32(data[j + 1]) << 16 | UInt32(data[j + 2]) << 8 | UInt32(data[j + 3])
        }
        for i in 16..<80 {
            let x = w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]
            w[i] = x << 1 | x >> 31
        }
        var a = h[0]
        var b = h[1]
        var c = h[2]
        var d = h[3]
        var e = h[4]
        for i in 0..<80 {
            let f: UInt32
            let k: UInt32
            switch i {
            case 0..<20:
                f = (b & c) | (~b & d)
                k = 0x5A82_7999
            case 20..<40:
                f = b ^ c ^ d
                k = 0x6ED9_EBA1
            case 40..<60:
                f = (b & c) | (b & d) | (c & d)
                k = 0x8F1B_BCDC
            default:
                f = b ^ c ^ d
                k = 0xCA62_C1D6
            }
            let temp = (a << 5 | a >> 27) &+ f &+ e &+ k &+ w[i]
            e = d
            d = c
            c = b << 30 | b >> 2
            b = a
            a = temp
        }
        h[0] = h[0] &+ a
        h[1] = h[1] &+ b
        h[2] = h[2] &+ c
        h[3] = h[3] &+ d
        h[4] = h[4] &+ e
    }
    return h.flatMap { v in [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)] }
}
