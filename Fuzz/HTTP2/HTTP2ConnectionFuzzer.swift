// libFuzzer entry point for the server's HTTP/2 connection: each input is what a client
// sends after the connection preface (frames: SETTINGS, HEADERS with HPACK blocks,
// CONTINUATION, DATA, PRIORITY, RST_STREAM, WINDOW_UPDATE, PING, GOAWAY, and garbage).
// It runs the real server code in one process: a worker without listening sockets
// (as Tests/SwiftginxServerTests/Harness.swift makes one) adopts one end of a socketpair
// as an accepted h2c connection, so the bytes go through HTTP1Connection's preface
// detection into HTTP2Connection — nghttp2's session callbacks, the request head checks,
// stream creation, request bodies and their flow control, priorities, and answers from
// static files, `return`, `add_trailer`, a refused proxy (502), proxied answers from a
// scripted upstream (FuzzUpstream.swift: a chunked body with trailers, a WebSocket echo)
// and extended CONNECTs.
// The loop is turned until the server has nothing more to do, its output drained;
// then the client half-closes, closes, and the connection must be gone, so no state
// outlives an input. Any trap or sanitizer report is a bug: add the input as a
// regression test (Tests/SwiftginxServerTests/HTTP2FuzzRegressionTests.swift).
//
// Built by `scripts/fuzz h2` (SwiftPM with SWIFTGINX_FUZZ=1, which adds this target, and
// -Xswiftc -sanitize=fuzzer,address into .build-fuzz/spm); debug builds are compiled for
// testing, hence the @testable import.

import Foundation
import Glibc
import SwiftginxConfig
import SwiftginxPosix

@testable import SwiftginxServer

/// The worker and its configuration, made once for the whole fuzzing run.
final class HTTP2FuzzHarness {
    // libFuzzer calls the entry point from one thread.
    nonisolated(unsafe) static let shared = HTTP2FuzzHarness()

    let worker: Worker
    let listener: WorkerListener
    let upstream = FuzzUpstream()
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    var scratch = [UInt8](repeating: 0, count: 1 << 16)

    init() {
        SignalReceiver.ignoreBrokenPipe()
        var template = Array("/tmp/swiftginx-h2-fuzz-XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        let prefix = String(cString: dir!) + "/"
        for sub in ["conf", "html", "logs"] { mkdir(prefix + sub, 0o755) }
        let files: [String: [UInt8]] = [
            "html/index.html": Array("<p>index</p>\n".utf8),
            "html/a.txt": Array("file a\n".utf8),
            "html/big.bin": (0..<(200 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7) },
        ]
        for (path, bytes) in files {
            _ = FileManager.default.createFile(atPath: prefix + path, contents: Data(bytes))
        }
        // Every answer kind a stream can get without an upstream that answers: static
        // files (ranges, conditionals, HEAD), return, trailers, gzip, a proxy whose
        // connect is refused (the body read first: flow control), an extended CONNECT.
        let config = """
            daemon off;
            events {}
            http {
                access_log /dev/null;
                client_body_temp_path \(prefix)temp;
                proxy_temp_path \(prefix)proxy_temp;
                server {
                    listen 127.0.0.1:8080;
                    http2 on;
                    http2_chunk_size 4k;
                    http2_body_preread_size 16k;
                    root \(prefix)html;
                    location / { }
                    location = /r { return 200 "hello"; }
                    location /t { add_trailer X-T "v"; add_header X-Foo $http_x_foo; return 200 "trailed"; }
                    location /gz { gzip on; gzip_min_length 1; gzip_types *; alias \(prefix)html/big.bin; }
                    location /p { proxy_pass http://127.0.0.1:1; }
                    location /s { proxy_pass http://127.0.0.1:1; proxy_request_buffering off; }
                    location /ws {
                        proxy_pass http://127.0.0.1:1;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
                    location /e { error_page 404 = /r; }
                    location /u { proxy_pass http://127.0.0.1:\(upstream.port); add_trailer X-A "b"; }
                    location /ub {
                        proxy_pass http://127.0.0.1:\(upstream.port);
                        proxy_buffering off;
                        proxy_request_buffering off;
                        proxy_http_version 1.1;
                    }
                    location /uw {
                        proxy_pass http://127.0.0.1:\(upstream.port);
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection "upgrade";
                    }
                }
            }
            """
        let confPath = prefix + "conf/swiftginx.conf"
        try! config.write(toFile: confPath, atomically: true, encoding: .utf8)
        let runtime = try! ConfigLoader.load(path: confPath, prefix: prefix, environment: PosixConfigEnvironment())
        let generation = Generation(number: 1, config: runtime, listeners: [[]], accessLogFiles: [:])
        let errorLog = ErrorLog(targets: [(try! LogFile(path: "/dev/null"), .debug)])
        let state = ServerState(generation: generation, errorLog: errorLog, logFiles: LogFiles(), prefix: prefix)
        worker = try! Worker(index: 0, state: state, generation: generation)
        listener = WorkerListener(fd: -1, group: runtime.listenGroups[0])
    }

    /// Reads and drops what the server wrote.
    func drain(_ fd: Int32) {
        while scratch.withUnsafeMutableBytes({ Glibc.recv(fd, $0.baseAddress, $0.count, 0) }) > 0 {}
    }

    /// One loop turn, then the upstream's; whether the upstream did anything.
    @discardableResult
    func step() -> Bool {
        worker.turn(maxWait: 0)
        return upstream.poll()
    }

    /// Turns the loop until `done` or `turns` turns, draining the client end.
    func spin(_ fd: Int32, turns: Int, until done: () -> Bool) {
        for _ in 0..<turns {
            if done() { return }
            step()
            if fd >= 0 { drain(fd) }
        }
    }

    func run(_ input: UnsafeRawBufferPointer) {
        var fds: [Int32] = [0, 0]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { fatalError("socketpair") }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        var size: Int32 = 1 << 20
        _ = setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        let before = worker.activeConnections
        _ = worker.adopt(fd: fds[0], peer: SocketAddress(host: "127.0.0.1", port: 40000)!, listener: listener)
        let client = fds[1]
        var bytes = Self.preface
        bytes.append(contentsOf: input)
        var sent = 0
        var stalls = 0
        while sent < bytes.count && stalls < 64 {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n > 0 {
                sent += n
            } else {
                if n < 0 && errno != EAGAIN { break }
                stalls += 1
                step()
                drain(client)
            }
        }
        let gone = { self.worker.activeConnections == before }
        // What the input asks for, answered; a proxy's connect and answer take a few turns.
        var quiet = 0
        for _ in 0..<256 where !gone() && quiet < 4 {
            let upstreamBusy = step()
            let got = scratch.withUnsafeMutableBytes { Glibc.recv(client, $0.baseAddress, $0.count, 0) }
            if got > 0 || upstreamBusy {
                drain(client)
                quiet = 0
            } else {
                quiet += 1
            }
        }
        // The client half-closes, then goes: the connection and its streams must end.
        shutdown(client, Int32(SHUT_WR))
        spin(client, turns: 32, until: gone)
        Glibc.close(client)
        spin(-1, turns: 256, until: gone)
        upstream.reset()
        if !gone() { fatalError("the HTTP/2 connection outlived its closed client") }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzHTTP2Connection(_ start: UnsafeRawPointer, _ count: Int) -> CInt {
    HTTP2FuzzHarness.shared.run(UnsafeRawBufferPointer(start: start, count: count))
    return 0
}
