// A scripted HTTP/1.1 upstream inside the HTTP/2 fuzzing process, so that proxied
// answers reach the fuzzed streams: the relay into DATA frames under the client's
// windows, a chunked body decoded and its trailer section, `add_trailer`, unbuffered
// relays, and a WebSocket tunnel. It listens on 127.0.0.1 (a port of the kernel's
// choice), and the harness polls it between the worker's loop turns: each connection's
// request head is read, then answered at once — a 101 for an Upgrade request, whose
// tunnel then echoes every byte, else a chunked 40 KiB body with a trailer, after which
// the connection closes.

import Glibc

final class FuzzUpstream {
    private struct Peer {
        var fd: Int32
        var head: [UInt8] = []
        var answered = false
        var tunnel = false
    }

    let port: Int
    private let listener: Int32
    private var peers: [Peer] = []
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)

    private static let answer: [UInt8] = {
        var a = Array("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Up: \u{1}ctl\r\n".utf8)
        a += Array("Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".utf8)
        for i in 0..<5 {
            a += Array("2000\r\n".utf8) + [UInt8](repeating: UInt8(97 + i), count: 0x2000) + Array("\r\n".utf8)
        }
        return a + Array("0\r\nX-Trailer: t\r\n\r\n".utf8)
    }()
    private static let switching = Array(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: x\r\n\r\n"
            .utf8)

    init() {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                bind(fd, sa, length) == 0 && listen(fd, 128) == 0 && getsockname(fd, sa, &length) == 0
            }
        }
        if !bound { fatalError("the fuzzer's upstream cannot listen: \(errno)") }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        listener = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Accepts, reads, answers and echoes what it can now; whether anything happened.
    func poll() -> Bool {
        var busy = false
        while true {
            let fd = accept(listener, nil, nil)
            if fd < 0 { break }
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            peers.append(Peer(fd: fd))
            busy = true
        }
        var i = 0
        while i < peers.count {
            if serve(&peers[i], busy: &busy) {
                i += 1
            } else {
                close(peers[i].fd)
                peers.remove(at: i)
            }
        }
        return busy
    }

    /// Whether the peer stays.
    private func serve(_ p: inout Peer, busy: inout Bool) -> Bool {
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(p.fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return false }
            if n < 0 { return errno == EAGAIN }
            busy = true
            if p.tunnel {
                if !write(p.fd, Array(buffer[0..<n])) { return false }
                continue
            }
            if p.answered { continue }
            p.head += buffer[0..<n]
            guard let end = Self.find(Array("\r\n\r\n".utf8), in: p.head) else {
                if p.head.count > 1 << 16 { return false }
                continue
            }
            p.answered = true
            if Self.find(Array("upgrade: websocket".utf8), in: p.head.map { $0 | 0x20 }) != nil {
                p.tunnel = true
                if !write(p.fd, Self.switching) { return false }
                let rest = Array(p.head[(end + 4)...])
                if !rest.isEmpty && !write(p.fd, rest) { return false }
            } else {
                _ = write(p.fd, Self.answer)
                return false
            }
        }
    }

    /// Writes all of `bytes` (a loopback socket takes 40 KiB at once); false on an error.
    private func write(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            sent += n
        }
        return true
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8]) -> Int? {
        guard hay.count >= needle.count else { return nil }
        for i in 0...(hay.count - needle.count) where hay[i] == needle[0] {
            if Array(hay[i..<(i + needle.count)]) == needle { return i }
        }
        return nil
    }

    /// Closes every connection (the input is over).
    func reset() {
        for p in peers { close(p.fd) }
        peers.removeAll()
    }
}
