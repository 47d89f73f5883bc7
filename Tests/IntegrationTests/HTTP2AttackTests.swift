// The HTTP/2 attacks not covered in HTTP2Tests.swift, each run over a socket while a
// normal client (curl, prior knowledge) is served: floods of frames that carry next to
// nothing (empty DATA, PRIORITY) cut off by nginx's flood rule, zero-window stalls (slow
// read) that keep the server's memory bounded and are served whole once the window
// opens, idle streams reset by client_body_timeout, and random frames (a seeded
// generator) that never bring a worker down.

import Foundation
import Glibc
import Testing

extension H2Frame {
    /// HPACK for GET `path` (http), `:authority` a: indexed :method and :scheme, literal
    /// :path and :authority with indexed names.
    static func get(_ path: String) -> [UInt8] {
        let p = Array(path.utf8)
        return [0x82, 0x86, 0x04, UInt8(p.count)] + p + [0x01, 1, 0x61]
    }

    static func windowUpdate(_ stream: UInt32, _ increment: UInt32) -> [UInt8] {
        frame(
            8, 0, stream,
            [
                UInt8(increment >> 24 & 0x7f), UInt8(increment >> 16 & 0xff), UInt8(increment >> 8 & 0xff),
                UInt8(increment & 0xff),
            ])
    }

    /// One frame read: type, flags, stream, payload (nil when the connection ended or
    /// the read timed out).
    static func read(_ c: RawClient) -> (type: UInt8, flags: UInt8, stream: UInt32, payload: [UInt8])? {
        guard let h = try? c.readExactly(9), h.count == 9 else { return nil }
        let n = Int(h[0]) << 16 | Int(h[1]) << 8 | Int(h[2])
        guard let p = try? c.readExactly(n), p.count == n else { return nil }
        let sid = UInt32(h[5] & 0x7f) << 24 | UInt32(h[6]) << 16 | UInt32(h[7]) << 8 | UInt32(h[8])
        return (h[3], h[4], sid, p)
    }
}

@Suite(.serialized) struct HTTP2AttackTests {
    func start(_ extra: String = "") throws -> TestServer {
        try HTTP2Tests.requireClients()
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        http2 on;
                        root html;
                        \(extra)
                        location /p/ { proxy_pass http://127.0.0.1:PORT/; }
                    }
                }
                """,
            files: ["html/a.txt": "site a\n", "html/big.bin": HTTP2Tests.big])
        try server.start()
        return server
    }

    func normalClientServed(_ s: TestServer) throws {
        let r = try runCommand(
            ["/usr/bin/curl", "-s", "--max-time", "10", "--http2-prior-knowledge", "http://127.0.0.1:\(s.port)/a.txt"],
            timeout: 20)
        #expect(r.stdout == "site a\n")
    }

    /// Resident memory of the server and its worker process, in KiB.
    func residentKiB(_ s: TestServer) -> Int {
        var pids = [s.pid]
        if let kids = try? runCommand(["/usr/bin/pgrep", "-P", "\(s.pid)"], timeout: 5) {
            pids += kids.stdout.split(separator: "\n").compactMap { Int32($0) }
        }
        var total = 0
        for pid in pids {
            let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
            for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
                total += Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
            }
        }
        return total
    }

    /// Empty DATA frames on an open stream: nothing is kept per frame, and past nginx's
    /// flood rule (eight times the payload plus 8 MiB of frames) the connection ends.
    @Test func emptyDataFloodIsCutOff() throws {
        let s = try start()
        defer { s.stop() }
        let c = try RawClient(port: s.port, timeoutSeconds: 3)
        var head = H2Frame.preface + H2Frame.settings
        head += H2Frame.frame(1, 0x4, 1, H2Frame.get("/p/a.txt"))  // a body follows (no END_STREAM)
        try c.send(head)
        let empty = H2Frame.frame(0, 0, 1, [])
        let batch = [UInt8]((0..<20000).flatMap { _ in empty })
        var sent = 0
        for _ in 0..<60 {
            if (try? c.send(batch)) == nil { break }
            sent += batch.count
        }
        // GOAWAY (NO_ERROR, as nginx) or a closed connection.
        #expect(H2Frame.readGoaway(c) ?? 0 == 0, "\(sent) bytes sent")
        #expect(s.waitForFile("logs/error.log", containing: "http2 flood detected"))
        try normalClientServed(s)
    }

    /// PRIORITY frames for ever new streams: nghttp2 keeps a bounded set of idle
    /// streams, and the flood rule ends the connection.
    @Test func priorityFloodIsCutOff() throws {
        let s = try start()
        defer { s.stop() }
        let before = residentKiB(s)
        let c = try RawClient(port: s.port, timeoutSeconds: 3)
        try c.send(H2Frame.preface + H2Frame.settings)
        var sid: UInt32 = 1
        var sent = 0
        for _ in 0..<100 {
            var batch: [UInt8] = []
            batch.reserveCapacity(10000 * 14)
            for _ in 0..<10000 {
                batch += H2Frame.frame(2, 0, sid, [0, 0, 0, 0, 16])
                sid = sid &+ 2 & 0x7fff_ffff
            }
            if (try? c.send(batch)) == nil { break }
            sent += batch.count
        }
        #expect(H2Frame.readGoaway(c) ?? 0 == 0, "\(sent) bytes sent")
        #expect(s.waitForFile("logs/error.log", containing: "http2 flood detected"))
        #expect(residentKiB(s) - before < 32 * 1024, "memory grew from \(before) KiB to \(residentKiB(s)) KiB")
        try normalClientServed(s)
    }

    /// Slow read: streams for 1 MiB answers (static and proxied) with a zero window. The
    /// server's memory stays bounded (a stream queues at most 64 KiB), a normal client
    /// is served meanwhile, and each answer arrives whole once the windows open.
    @Test func zeroWindowStallsStayBoundedAndFinish() throws {
        let s = try start()
        defer { s.stop() }
        let before = residentKiB(s)
        let c = try RawClient(port: s.port, timeoutSeconds: 5)
        let zeroWindow = H2Frame.frame(4, 0, 0, [0, 4, 0, 0, 0, 0])
        var bytes = H2Frame.preface + zeroWindow
        let streams = 20
        for i in 0..<streams {
            bytes += H2Frame.frame(1, 0x5, UInt32(2 * i + 1), H2Frame.get(i % 2 == 0 ? "/big.bin" : "/p/big.bin"))
        }
        try c.send(bytes)
        usleep(500_000)
        try normalClientServed(s)
        let stalled = residentKiB(s)
        #expect(stalled - before < 16 * 1024, "memory grew from \(before) KiB to \(stalled) KiB")
        // Open the windows: every answer comes whole.
        var open = H2Frame.windowUpdate(0, 64 << 20)
        for i in 0..<streams { open += H2Frame.windowUpdate(UInt32(2 * i + 1), 2 << 20) }
        try c.send(open)
        var received = [UInt32: Int]()
        var ended = Set<UInt32>()
        while ended.count < streams, let f = H2Frame.read(c) {
            if f.type == 0 { received[f.stream, default: 0] += f.payload.count }
            if (f.type == 0 || f.type == 1) && f.flags & 1 != 0 { ended.insert(f.stream) }
            if f.type == 3 || f.type == 7 { break }
        }
        #expect(ended.count == streams)
        #expect(received.values.allSatisfy { $0 == HTTP2Tests.big.utf8.count }, "\(received)")
    }

    /// Streams that announce a body and send none: client_body_timeout resets each one
    /// (RST_STREAM), the connection stays, and other clients are served.
    @Test func idleStreamsAreReset() throws {
        let s = try start("client_body_timeout 1s;")
        defer { s.stop() }
        let c = try RawClient(port: s.port, timeoutSeconds: 5)
        var bytes = H2Frame.preface + H2Frame.settings
        for i in 0..<10 { bytes += H2Frame.frame(1, 0x4, UInt32(2 * i + 1), H2Frame.get("/p/a.txt")) }
        try c.send(bytes)
        try normalClientServed(s)
        var resets = Set<UInt32>()
        while resets.count < 10, let f = H2Frame.read(c) {
            if f.type == 3 { resets.insert(f.stream) }
        }
        #expect(resets.count == 10)
        // The connection still serves a new stream.
        try c.send(H2Frame.headers(21, H2Frame.get("/a.txt")))
        var served = false
        while let f = H2Frame.read(c) {
            if f.stream == 21 && f.type == 0 && f.flags & 1 != 0 {
                served = true
                break
            }
        }
        #expect(served)
    }

    /// Random frames after a valid preface, from a seeded generator, on many
    /// connections: no worker goes down, a normal client is served after.
    @Test func randomFramesNeverBringTheServerDown() throws {
        let s = try start()
        defer { s.stop() }
        var seed: UInt64 = 0x5eed_1234_abcd_0001
        func next() -> UInt64 {
            seed = seed &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return seed >> 33
        }
        for _ in 0..<40 {
            guard let c = try? RawClient(port: s.port, timeoutSeconds: 1) else { continue }
            var bytes = H2Frame.preface + H2Frame.settings
            for _ in 0..<200 {
                let type = UInt8(next() % 11)
                let flags = UInt8(next() & 0xff)
                let sid = UInt32(next() % 8)
                let n = Int(next() % 24)
                var payload = (0..<n).map { _ in UInt8(next() & 0xff) }
                if type == 1 && next() % 2 == 0 { payload = H2Frame.get("/a.txt") }
                bytes += H2Frame.frame(type, flags, sid, payload)
            }
            try? c.send(bytes)
            _ = H2Frame.read(c)
        }
        try normalClientServed(s)
        let log = s.read("logs/error.log")
        #expect(!log.contains("[alert]") && !log.contains("[emerg]"), "\(log.suffix(2000))")
    }
}
