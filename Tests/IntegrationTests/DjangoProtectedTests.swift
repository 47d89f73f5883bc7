// conf/examples/django-protected.conf end to end, in front of gunicorn: the client's
// address comes from a PROXY protocol header (v1 and v2, as a front balancer sends it),
// the admin is limited to the office network and a password, the login view is
// rate-limited per client with 429, stub_status answers on its local port, and the
// access log shows the restored addresses and the limit_req verdicts.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct DjangoProtectedTests {
    static let credentials = Data("admin:change-me".utf8).base64EncodedString()

    /// A PROXY protocol v1 header naming `client` as the connection's source.
    static func proxyV1(_ client: String) -> String { "PROXY TCP4 \(client) 127.0.0.1 40000 8080\r\n" }

    /// The same as a v2 header (binary, TCP over IPv4).
    static func proxyV2(_ client: [UInt8]) -> [UInt8] {
        let signature: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A]
        return signature + [0x21, 0x11, 0x00, 12] + client + [127, 0, 0, 1] + [0x9C, 0x40, 0x1F, 0x90]
    }

    func ask(_ port: Int, _ header: String, _ path: String, auth: String? = nil) throws -> HTTPResponse {
        let c = try RawClient(port: port)
        var request = "\(header)GET \(path) HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        if let auth { request += "Authorization: Basic \(auth)\r\n" }
        try c.send(request + "\r\n")
        return try c.readResponse()
    }

    @Test func protectedDjangoSite() throws {
        try Backends.require()
        let backend = try Backend.start(.gunicornTCP, name: "protected")
        defer { backend.stop() }
        let statusPort = freePort()
        let config = try ExampleConfig.render("django-protected", backend: backend, listenPort: 0)
            .replacingOccurrences(of: "127.0.0.1:0 proxy_protocol;", with: "127.0.0.1:PORT proxy_protocol;")
            .replacingOccurrences(of: "127.0.0.1:8090", with: "127.0.0.1:\(statusPort)")
            .replacingOccurrences(of: "pid logs/django-protected.pid;", with: "pid logs/swiftginx.pid;")
        let htpasswd = try String(
            contentsOf: repositoryRoot.appendingPathComponent("conf/examples/django-admin.htpasswd"), encoding: .utf8)
        let s = try TestServer(config: config, files: ["conf/django-admin.htpasswd": htpasswd])
        try s.start()
        defer { s.stop() }

        // The admin from the office network: a password is asked, then Django answers and
        // sees the client's address from the PROXY header in X-Real-IP.
        let office = Self.proxyV1("192.0.2.10")
        let challenge = try ask(s.port, office, "/admin/")
        #expect(challenge.status == 401)
        #expect(challenge.header("WWW-Authenticate") == "Basic realm=\"Administration\"")
        let admin = try ask(s.port, office, "/admin/", auth: Self.credentials)
        #expect(admin.status == 200)
        #expect(try BackendSmokeTests.json(admin)["x_real_ip"] as? String == "192.0.2.10")
        let wrong = Data("admin:guess".utf8).base64EncodedString()
        #expect(try ask(s.port, office, "/admin/", auth: wrong).status == 401)
        // The same over PROXY protocol v2, and from elsewhere: 403 even with the password.
        let c = try RawClient(port: s.port)
        try c.send(Self.proxyV2([192, 0, 2, 20]))
        try c.send("GET /admin/ HTTP/1.1\r\nHost: localhost\r\nAuthorization: Basic \(Self.credentials)\r\n\r\n")
        #expect(try BackendSmokeTests.json(c.readResponse())["x_real_ip"] as? String == "192.0.2.20")
        #expect(try ask(s.port, Self.proxyV1("203.0.113.7"), "/admin/", auth: Self.credentials).status == 403)

        // The login view: one request and a burst of three at once, then 429 — per client.
        let client = Self.proxyV1("198.51.100.1")
        let statuses = try (0..<5).map { _ in try ask(s.port, client, "/accounts/login/").status }
        #expect(statuses == [200, 200, 200, 200, 429])
        #expect(try ask(s.port, Self.proxyV1("198.51.100.2"), "/accounts/login/").status == 200)
        #expect(try ask(s.port, client, "/whoami/").status == 200)

        // A connection without the balancer's header is refused and logged.
        let bare = try RawClient(port: s.port)
        try bare.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(bare.isClosedByPeer())
        #expect(s.waitForFile("logs/error.log", containing: "broken header"))

        // stub_status on its local port.
        let status = try get(statusPort, "/nginx_status")
        #expect(status.status == 200 && status.bodyText.hasPrefix("Active connections: "))

        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        let log = s.read("logs/access.log")
        #expect(log.contains("198.51.100.1 - - ["))
        #expect(log.contains("\"GET /accounts/login/ HTTP/1.1\" 429 "))
        #expect(log.contains("limit_req=REJECTED"))
        #expect(log.contains("192.0.2.10 - admin ["))
    }
}
