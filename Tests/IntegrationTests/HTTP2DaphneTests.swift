// A Django Channels WebSocket over HTTP/2 (RFC 8441 extended CONNECT) end to end: Python's
// h2 package (Support/h2_websocket.py) opens the WebSocket on an h2c connection to
// swiftginx, which passes it to a real Daphne (the example project's echo consumer) as an
// HTTP/1.1 Upgrade through the usual WebSocket location. Messages go both ways (one
// larger than the windows), a second stream on the same connection is answered while
// the tunnel is open, and the close handshake ends the stream cleanly (END_STREAM both
// ways, no reset, whichever side ends first) with the connection still serving.

import Foundation
import Testing

@Suite(.serialized) struct HTTP2DaphneTests {
    static let script = repositoryRoot.appendingPathComponent("Tests/IntegrationTests/Support/h2_websocket.py").path

    @Test func channelsWebSocketOverExtendedConnect() throws {
        try H2Script.requirePackage()
        let backend = try Backend.start(.daphne, name: "d1")
        defer { backend.stop() }
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    \(backend.webSocketProxy.map)
                    server {
                        listen 127.0.0.1:PORT;
                        http2 on;
                        lingering_timeout 1s;
                        \(backend.webSocketProxy.location)
                    }
                }
                """)
        try server.start()
        defer { server.stop() }
        let out = try Self.run(server, backend)
        let context = "\(out)\n\(server.read("logs/error.log"))"
        #expect(out["enable_connect_protocol"] as? Int == 1, "\(context)")
        #expect(out["status"] as? Int == 200, "\(context)")
        // The 101's handshake fields are not the stream's.
        let names = (out["headers"] as? [[String]] ?? []).map { $0[0] }
        #expect(!names.contains("upgrade") && !names.contains("sec-websocket-accept"), "\(names)")
        #expect(out["echo"] as? String == "hello over h2, wörld", "\(context)")
        let second = out["second"] as? [String: Any]
        #expect(second?["status"] as? Int == 200 && second?["body"] as? String == "d1", "\(context)")
        #expect(out["echo2"] as? String == "after the second stream", "\(context)")
        #expect(out["big_echoed"] as? Bool == true, "\(context)")
        #expect(out["close_code"] as? Int == 1000, "\(context)")
        #expect(out["ended"] as? Bool == true, "\(context)")
        #expect(out["reset"] is NSNull, "\(context)")
        let after = out["after"] as? [String: Any]
        #expect(after?["status"] as? Int == 200 && after?["body"] as? String == "d1", "\(context)")
        // The client's side may end first, with its close frame: the close comes back and
        // the back end's FIN ends the stream.
        let first = try Self.run(server, backend, "endfirst")
        #expect(first["close_code"] as? Int == 1000 && first["ended"] as? Bool == true, "\(first)")
        #expect(first["reset"] is NSNull, "\(first)")
        // The reset after the close is what a client that never ends its side gets, once
        // lingering_timeout has passed.
        let stuck = try Self.run(server, backend, "noend")
        #expect(stuck["close_code"] as? Int == 1000 && stuck["ended"] as? Bool == true, "\(stuck)")
        #expect(stuck["reset"] as? Int == 0, "\(stuck)")
        // The tunnel is logged as the Upgrade request it was passed on as, with the back
        // end's 101, as an HTTP/1.1 WebSocket is.
        #expect(
            server.waitForFile("logs/access.log", containing: "\"GET /ws/echo/ HTTP/2.0\" 101 "),
            "\(server.read("logs/access.log"))")
    }

    /// Support/h2_websocket.py's JSON report.
    static func run(_ server: TestServer, _ backend: Backend, _ extra: String...) throws -> [String: Any] {
        let r = try runCommand(
            ["/usr/bin/python3", script, "\(server.port)", "/ws/echo/", "/whoami/"] + extra, timeout: 60)
        guard let data = r.stdout.data(using: .utf8),
            let out = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw TestFailure(
                "h2_websocket.py: \(r.stdout) \(r.stderr)\n\(server.read("logs/error.log"))\n\(backend.log)")
        }
        return out
    }
}
