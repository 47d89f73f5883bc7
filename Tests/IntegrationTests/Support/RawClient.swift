// A blocking loopback TCP client with timeouts, for sending exact bytes and
// reading exact responses (head + Content-Length body) or everything until close.

import Foundation
import Glibc

struct HTTPResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    var rawHead: String

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

final class RawClient {
    /// -1 once closed. A throwing init closes nothing itself: the class is fully
    /// initialized by then, so deinit runs and closes it (closing twice would close a
    /// descriptor another thread of the test process may have opened meanwhile).
    private(set) var fd: Int32
    var pending: [UInt8] = []

    /// `from`: a local address to connect from (any 127.x.y.z on loopback), for tests
    /// that depend on the client's address.
    init(port: Int, host: String = "127.0.0.1", timeoutSeconds: Int = 5, from: String? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if let from {
            var local = sockaddr_in()
            local.sin_family = sa_family_t(AF_INET)
            local.sin_addr.s_addr = inet_addr(from)
            _ = withUnsafePointer(to: &local) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) }
            }
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(host)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, 16) }
        }
        if r != 0 {
            throw TestFailure("connect to \(port) failed: errno \(errno)")
        }
    }

    /// Connects to a unix-domain socket (`listen unix:/path`).
    init(unixPath: String, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(unixPath.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { dst in
            for (i, b) in bytes.prefix(dst.count - 1).enumerated() { dst[i] = b }
        }
        let r = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if r != 0 { throw TestFailure("connect to \(unixPath) failed: errno \(errno)") }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    func close() { shutdown(fd, Int32(SHUT_RDWR)) }

    func send(_ s: String) throws { try send(Array(s.utf8)) }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestFailure("send failed: errno \(errno)") }
            off += n
        }
    }

    /// Reads more bytes; returns false at EOF or timeout.
    private func fill() -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { return false }
        pending += buf[0..<n]
        return true
    }

    /// Text consumed by `readUntil` so far.
    var received = ""

    /// Reads until `needle` has arrived and consumes everything up to it; false on EOF/timeout.
    func readUntil(_ needle: String) throws -> Bool {
        let n = Array(needle.utf8)
        while true {
            if let r = find(n, in: pending) {
                received += String(decoding: pending[..<(r + n.count)], as: UTF8.self)
                pending.removeFirst(r + n.count)
                return true
            }
            if !fill() { return false }
        }
    }

    /// Exactly `count` bytes (fewer at EOF or timeout).
    func readExactly(_ count: Int) throws -> [UInt8] {
        while pending.count < count { if !fill() { break } }
        let take = min(count, pending.count)
        defer { pending.removeFirst(take) }
        return Array(pending[..<take])
    }

    /// Everything until the server closes (or the timeout).
    func readToEnd() -> [UInt8] {
        while fill() {}
        defer { pending = [] }
        return pending
    }

    /// True when the server closes the connection within `milliseconds` (false when it
    /// stays open that long).
    func isClosedByPeerWithin(milliseconds: Int) -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, Int32(milliseconds)) > 0 else { return false }
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, Int32(MSG_PEEK)) <= 0
    }

    /// True when the server has closed the connection (EOF within the timeout).
    func isClosedByPeer() -> Bool {
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                pending += buf[0..<n]
                continue
            }
            if n == 0 { return true }
            return errno == ECONNRESET
        }
    }

    /// Reads one response. `headRequest` means no body follows whatever the headers say.
    func readResponse(headRequest: Bool = false) throws -> HTTPResponse {
        var headEnd: Int? = nil
        while headEnd == nil {
            if let r = find([13, 10, 13, 10], in: pending) {
                headEnd = r
                break
            }
            if !fill() {
                throw TestFailure(
                    "connection closed before a response head; got \(String(decoding: pending, as: UTF8.self))")
            }
        }
        let head = String(decoding: pending[0..<headEnd!], as: UTF8.self)
        pending.removeFirst(headEnd! + 4)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { throw TestFailure("bad status line \(statusLine)") }
        var headers: [(String, String)] = []
        for l in lines {
            guard let c = l.firstIndex(of: ":") else { continue }
            headers.append((String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)))
        }
        var resp = HTTPResponse(status: status, headers: headers, body: [], rawHead: head)
        if headRequest || status == 304 || status == 204 || status < 200 { return resp }
        if resp.header("Transfer-Encoding")?.lowercased() == "chunked" {
            resp.body = try readChunked()
        } else if let cl = resp.header("Content-Length"), let n = Int(cl) {
            while pending.count < n {
                if !fill() { throw TestFailure("short body: \(pending.count) of \(n)") }
            }
            resp.body = Array(pending[0..<n])
            pending.removeFirst(n)
        } else {
            resp.body = readToEnd()
        }
        return resp
    }

    /// A chunked body (sizes, data, trailers), decoded.
    private func readChunked() throws -> [UInt8] {
        var body: [UInt8] = []
        while true {
            var lineEnd = find([13, 10], in: pending)
            while lineEnd == nil {
                if !fill() { throw TestFailure("connection closed inside a chunked body") }
                lineEnd = find([13, 10], in: pending)
            }
            let sizeText = String(decoding: pending[0..<lineEnd!], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else {
                throw TestFailure("bad chunk size \(sizeText)")
            }
            pending.removeFirst(lineEnd! + 2)
            if size == 0 {
                while find([13, 10], in: pending) == nil { if !fill() { break } }
                if let e = find([13, 10], in: pending) { pending.removeFirst(e + 2) }
                return body
            }
            while pending.count < size + 2 {
                if !fill() { throw TestFailure("short chunk") }
            }
            body += pending[0..<size]
            pending.removeFirst(size + 2)
        }
    }

    private func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
        return nil
    }
}

/// One request on a fresh connection.
func request(_ port: Int, _ raw: String, headRequest: Bool = false) throws -> HTTPResponse {
    let c = try RawClient(port: port)
    try c.send(raw)
    return try c.readResponse(headRequest: headRequest)
}

func get(_ port: Int, _ path: String, host: String = "localhost", extra: String = "") throws -> HTTPResponse {
    try request(port, "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\(extra)\r\n")
}
