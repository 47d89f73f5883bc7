// `$request_id` is made once per request: the header sent upstream, the header added to
// the answer and the access log line carry the same 32 hex digits, and the next request
// gets another.

import Foundation
import Testing

@Suite(.serialized) struct RequestIDTests {
    @Test func oneIDPerRequestEverywhere() throws {
        let backend = try EchoBackend(name: "app")
        defer { backend.stop() }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format id "$request_id";
                    access_log logs/id.log id;
                    server {
                        listen 127.0.0.1:PORT;
                        location / {
                            proxy_pass http://127.0.0.1:\(backend.port);
                            proxy_set_header X-Request-ID $request_id;
                            add_header X-ID $request_id;
                        }
                        location = /twice { return 200 "$request_id $request_id"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        var ids: [String] = []
        for _ in 0..<2 {
            let r = try get(s.port, "/x")
            let id = try #require(r.header("X-ID"))
            #expect(id.count == 32 && id.allSatisfy { $0.isHexDigit })
            let seen = try #require(BackendSmokeTests.json(r)["headers"] as? [[String]])
            #expect(seen.contains { $0.count == 2 && $0[0].lowercased() == "x-request-id" && $0[1] == id })
            ids.append(id)
        }
        #expect(ids[0] != ids[1])
        #expect(s.waitForFile("logs/id.log", containing: ids[1]))
        let lines = s.read("logs/id.log").split(separator: "\n").map(String.init)
        #expect(lines == ids)
        let twice = try get(s.port, "/twice").bodyText.split(separator: " ")
        #expect(twice.count == 2 && twice[0] == twice[1])
    }
}
