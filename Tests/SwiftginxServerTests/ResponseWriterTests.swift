// ResponseWriter.flush over a socketpair: memory then a file region, stopping at the
// first write that would block and going on from there, and a failure when the peer
// has gone.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@testable import SwiftginxServer

@Suite struct ResponseWriterTests {
    @Test func flushStopsAtBackPressureAndContinuesWhereItStopped() throws {
        let h = try Harness(
            config: "daemon off; events {} http { server { listen 127.0.0.1:8080; location / { } } }")
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        let transport = Transport(fd: fds[0])
        let writer = ResponseWriter(worker: h.worker)
        let request = Request(worker: h.worker, writer: writer, input: ByteBuffer(capacity: 64))
        let memory = (0..<300_000).map { UInt8(truncatingIfNeeded: $0) }
        writer.appendBody(memory)
        guard case .blocked = writer.flush(transport, request: request) else {
            Issue.record("a 300 KB write to a socketpair did not block")
            return
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        var rounds = 0
        while rounds < 1000 {
            rounds += 1
            let n = buffer.withUnsafeMutableBytes { recv(fds[1], $0.baseAddress, $0.count, 0) }
            if n > 0 { received += buffer[0..<n] }
            if case .done = writer.flush(transport, request: request) {
                while true {
                    let m = buffer.withUnsafeMutableBytes { recv(fds[1], $0.baseAddress, $0.count, 0) }
                    if m <= 0 { break }
                    received += buffer[0..<m]
                }
                break
            }
        }
        #expect(received == memory)
        #expect(writer.bodyBytesSent == Int64(memory.count))
        #expect(writer.output.readableCount == 0)
    }

    @Test func aPeerThatHasGoneIsAFailure() throws {
        let h = try Harness(
            config: "daemon off; events {} http { server { listen 127.0.0.1:8080; location / { } } }")
        var fds: [Int32] = [0, 0]
        #expect(socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0)
        defer { close(fds[0]) }
        _ = fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK)
        close(fds[1])
        let writer = ResponseWriter(worker: h.worker)
        let request = Request(worker: h.worker, writer: writer, input: ByteBuffer(capacity: 64))
        writer.appendBody(Array("x".utf8))
        guard case .failed(let e) = writer.flush(Transport(fd: fds[0]), request: request) else {
            Issue.record("writing to a closed peer did not fail")
            return
        }
        #expect(e.errno == EPIPE)
    }
}
