// The per-try records of a proxied request and the client fields nginx's proxy module
// never passes, over real sockets with the server itself as the upstream: a request
// whose first peer refuses lists both tries in every $upstream_* variable (one entry
// per try, in order), and hop-by-hop client fields are dropped by their exact names in
// any case while fields of the same lengths pass.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct ProxyTryRecordTests {
    @Test func everyUpstreamVariableListsEachTry() throws {
        let up = freePort()
        let dead = freePort()
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format tries '$uri|$upstream_addr|$upstream_status|$upstream_response_length|'
                        '$upstream_bytes_received|$upstream_bytes_sent|$upstream_connect_time|'
                        '$upstream_header_time|$upstream_response_time';
                    upstream pool { server 127.0.0.1:\(dead); server 127.0.0.1:\(up); keepalive 4; }
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        access_log logs/tries.log tries;
                        location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; }
                    }
                    server {
                        listen 127.0.0.1:\(up);
                        server_name localhost;
                        access_log off;
                        location / { return 200 body; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        let r = try get(s.port, "/a")
        #expect(r.status == 200)
        #expect(r.bodyText == "body")
        // The refused peer is then skipped (max_fails 1): one try, over the cached connection.
        #expect(try get(s.port, "/b").status == 200)
        #expect(try get(s.port, "/c").status == 200)
        #expect(s.waitForFile("logs/tries.log", containing: "/c|", timeout: 5))
        let lines = s.read("logs/tries.log").split(separator: "\n").map {
            Array($0.split(separator: "|", omittingEmptySubsequences: false).dropFirst())
        }
        try #require(lines.count == 3)
        let first = lines[0].map { $0.components(separatedBy: ", ") }
        try #require(first.count == 8)
        for list in first { #expect(list.count == 2, "\(lines[0])") }
        #expect(first[0] == ["127.0.0.1:\(dead)", "127.0.0.1:\(up)"])
        #expect(first[1] == ["502", "200"])
        #expect(first[2] == ["0", "4"])
        #expect(first[3][0] == "0" && Int(first[3][1]) ?? 0 > 4)
        #expect(first[4][0] == "0" && Int(first[4][1]) ?? 0 > 0)
        // The refused try got no head; the second has all three times.
        #expect(first[6][0] == "-")
        for i in 5...7 { #expect(first[i][1].range(of: #"^\d+\.\d{3}$"#, options: .regularExpression) != nil) }
        for line in lines.dropFirst() {
            #expect(line[0] == "127.0.0.1:\(up)")
            #expect(line[1] == "200")
            #expect(line[2] == "4")
            #expect(line[5] == "0.000", "a cached connection takes no time to connect")
        }
    }

    @Test func hopByHopClientFieldsAreDroppedByExactName() throws {
        let up = freePort()
        let names = [
            "tE", "KEEP-ALIVE", "Upgrade", "Proxy-Connection",
            "Tf", "Hosx", "Expecx", "Upgradx", "Keep-Alivx", "Connectiox", "Content-Lengtx", "Proxy-Connectiox",
            "Transfer-Encodinx",
        ]
        let echoed = names.map { "$http_" + $0.lowercased().replacingOccurrences(of: "-", with: "_") }
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    access_log off;
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        location / { proxy_pass http://127.0.0.1:\(up); }
                    }
                    server {
                        listen 127.0.0.1:\(up);
                        server_name localhost;
                        location / { return 200 "\(echoed.joined(separator: ","))"; }
                    }
                }
                """)
        try s.start()
        defer { s.stop() }
        let extra = names.enumerated().map { "\($1): v\($0)\r\n" }.joined()
        let r = try get(s.port, "/", extra: extra)
        #expect(r.status == 200)
        let dropped = ["", "", "", ""]
        let passed = (4..<names.count).map { "v\($0)" }
        #expect(r.bodyText == (dropped + passed).joined(separator: ","))
    }
}
