// `proxy_http_version 2` against an upstream that resets a stream it already ended
// (Support/h2_reset_backend.py writes the frames by hand): one RST_STREAM NO_ERROR after
// END_STREAM is allowed, a second is nginx's "upstream sent frame for closed stream"
// error (502 when the answer's head was not sent yet), as in nginx's
// proxy_h2_body_discard.t.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.serialized) struct UpstreamHTTP2ResetTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "Support/h2_reset_backend.py"
    ).path

    func answer(resets: Int) throws -> (HTTPResponse, TestServer) {
        let port = freePort()
        let pid = try ProcessControl.spawn(
            "/usr/bin/python3", ["python3", Self.script, String(port), String(resets)], stdout: -1, stderr: -1)
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
                    server {
                        listen 127.0.0.1:PORT;
                        location / { proxy_pass http://127.0.0.1:\(port); proxy_http_version 2; }
                    }
                }
                """)
        try s.start()
        let r = try get(s.port, "/")
        s.stop()
        return (r, s)
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
