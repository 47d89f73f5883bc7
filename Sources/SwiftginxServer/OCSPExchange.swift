// One OCSP request as nginx sends it, on the stapler's thread: the responder's name
// resolved (getaddrinfo), then for each address in turn a connect, `GET
// /uri/<base64 request> HTTP/1.0` with the Host header, and the answer read to the
// end (at most 16 KiB, as nginx's buffer), all within one timeout (nginx's 60 s). A
// failed address (refused, timed out, invalid answer, wrong Content-Type) is logged
// and the next one tried. Waits are sliced so that a stopped stapler ends quickly.

import Glibc
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxTLS

struct OCSPExchange {
    let responder: OCSPResponder
    /// The request target (path and escaped request).
    let target: String
    /// Milliseconds for each address: connect, send and read together.
    var timeout = 60_000
    let isStopped: @Sendable () -> Bool

    /// The body of a 200 answer and the peer that sent it; failures go to `report`
    /// (message, peer when connected). A non-200 answer ends the exchange unlogged,
    /// as in nginx.
    func run(report: (String, String?) -> Void) -> (body: [UInt8], peer: String)? {
        let addresses: [SocketAddress]
        switch SocketAddress.resolve(host: responder.host, port: responder.port) {
        case .failure(let e):
            report("\(responder.host) could not be resolved \(e)", nil)
            return nil
        case .success(let list): addresses = list
        }
        let request = Array(
            "GET \(target) HTTP/1.0\r\nHost: \(responder.host)\r\n\r\n".utf8)
        for address in addresses {
            if isStopped() { return nil }
            let peer = address.description
            guard let answer = exchange(address, request, peer: peer, report: report) else { continue }
            switch OCSPReply.parse(answer) {
            case .incomplete:
                report("OCSP responder prematurely closed connection", peer)
            case .invalid:
                report("OCSP responder sent invalid response", peer)
            case .invalidContentType(let value):
                report("OCSP responder sent invalid \"Content-Type\" header: \"\(value)\"", peer)
            case .complete(let status, let body):
                return status == 200 ? (body, peer) : nil
            }
        }
        return nil
    }

    /// Connects, sends and reads to the end; nil (logged) when the address failed
    /// before anything could be read.
    private func exchange(
        _ address: SocketAddress, _ request: [UInt8], peer: String, report: (String, String?) -> Void
    ) -> [UInt8]? {
        let deadline = Clock.monotonicMilliseconds() + Int64(timeout)
        let fd: Int32
        do {
            switch try Socket.connect(to: address) {
            case .connected(let f): fd = f
            case .inProgress(let f):
                fd = f
                guard wait(fd, writable: true, until: deadline) else {
                    Socket.close(fd)
                    if !isStopped() { report("OCSP responder timed out (110: Connection timed out)", peer) }
                    return nil
                }
                if let e = Socket.pendingError(fd) {
                    Socket.close(fd)
                    report("\(e)", peer)
                    return nil
                }
            }
        } catch {
            report("\(error)", peer)
            return nil
        }
        defer { Socket.close(fd) }
        var sent = 0
        while sent < request.count {
            guard wait(fd, writable: true, until: deadline) else {
                if !isStopped() { report("OCSP responder timed out (110: Connection timed out)", peer) }
                return nil
            }
            let n = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                report("\(SystemError("send", errno: errno))", peer)
                return nil
            }
            sent += n
        }
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while answer.count < 16384 {
            guard wait(fd, writable: false, until: deadline) else {
                if !isStopped() { report("OCSP responder timed out (110: Connection timed out)", peer) }
                return nil
            }
            let room = 16384 - answer.count
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, room, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                // As nginx: logged, then the answer so far is judged (usually incomplete).
                report("\(SystemError("recv", errno: errno))", peer)
                break
            }
            if n == 0 { break }
            answer += buffer[0..<n]
        }
        return answer
    }

    /// Waits for `fd` in slices of 100 ms, giving up when stopped or past `deadline`.
    private func wait(_ fd: Int32, writable: Bool, until deadline: Int64) -> Bool {
        while !isStopped() {
            let left = deadline - Clock.monotonicMilliseconds()
            if left <= 0 { return false }
            if Socket.wait(fd, writable: writable, timeout: Int(min(left, 100))) { return true }
        }
        return false
    }
}
