// `proxy_http_version 2` against an upstream that resets a stream it already ended
// (Support/h2_reset_backend.py writes the frames by hand): one RST_STREAM NO_ERROR after
// END_STREAM is allowed, a second is nginx's "upstream sent frame for closed stream"
// error (502 when the answer's head was not sent yet), as in nginx's
// proxy_h2_body_discard.t; and a stream refused by GOAWAY on a kept connection is sent
// again on a fresh one.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct UpstreamHTTP2ResetTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/h2_reset_backend.py"
    ).path

    func answer(resets: Int) throws -> (HTTPResponse, TestServer) {
        let (r, s) = try answers(mode: String(resets), count: 1)
        return (r[0], s)
    }

    func answers(mode: String, count: Int) throws -> ([HTTPResponse], TestServer) {
        let port = freePort()
        let pid = try ProcessControl.spawn(
            "/usr/bin/python3", ["python3", Self.script, String(port), mode], stdout: -1, stderr: -1)
        defer {
            kill(pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 5000)
        }
        var up = false
        for _ in 0..<250 where !up {
            up = canConnect(port: port)
            if !up { usleep(20_000) }
        }
        #expect(up)
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    upstream u { server 127.0.0.1:\(port); keepalive 4; }
                    server {
                        listen 127.0.0.1:PORT;
                        location / { proxy_pass http://u; proxy_http_version 2; }
                    }
                }
                """)
        try s.start()
        var r: [HTTPResponse] = []
        for _ in 0..<count { r.append(try get(s.port, "/")) }
        s.stop()
        return (r, s)
    }

    /// The upstream stops keeping the connection and says so (GOAWAY) only when the
    /// next request comes on it: that stream was refused unprocessed and goes again on
    /// a fresh connection, as HTTP/1.1's keep-alive race does.
    @Test func aStreamRefusedOnAKeptConnectionGoesAgain() throws {
        let (r, s) = try answers(mode: "goaway", count: 3)
        #expect(r.allSatisfy { $0.status == 200 && $0.bodyText == "SEE-THIS" }, "\(r.map(\.rawHead))")
        #expect(!s.read("logs/error.log").contains("goaway"))
    }

    @Test func oneResetAfterTheEndIsFine() throws {
        let (r, _) = try answer(resets: 1)
        #expect(r.status == 200 && r.bodyText == "SEE-THIS", "\(r.rawHead)")
    }

    @Test func aSecondResetIsAnError() throws {
        let (r, s) = try answer(resets: 2)
        #expect(r.status == 502, "\(r.rawHead)")
        #expect(s.read("logs/error.log").contains("upstream sent frame for closed stream 1"))
    }
}
