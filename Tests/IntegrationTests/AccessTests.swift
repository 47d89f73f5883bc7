// nginx's access module over real sockets: allow/deny with addresses, networks and
// `all` in order (first match decides), a level's rules replacing its parent's, the 403
// and nginx's "access forbidden by rule" log line, `satisfy any` with auth_request
// (either is enough; a 401 wins over a 403), `satisfy all` (both must allow), and the
// same statuses as nginx for the same configuration.

import Foundation
import Testing

@Suite(.serialized) struct AccessTests {
    static let locations = """
        location /open/ { }
        location /local/ { allow 127.0.0.1; deny all; }
        location /denied/ { deny 127.0.0.0/8; allow all; }
        location /other-net/ { allow 10.0.0.0/8; allow ::1; deny all; }
        location /inherit/ {
            location /inherit/deeper/ { allow all; }
        }
        location /read-only/ { limit_except GET { deny all; } }
        location /write-auth/ {
            limit_except GET { auth_basic "writers"; auth_basic_user_file PREFIXconf/users; }
        }
        location /posting/ { limit_except GET POST { allow 10.0.0.1; deny all; } }
        """

    func start(_ b: EchoBackend? = nil, extra: String = "") throws -> TestServer {
        let auth = b.map { "location = /auth { internal; proxy_pass http://127.0.0.1:\($0.port)/auth; }" } ?? ""
        let server = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        server_name localhost;
                        root html;
                        deny 127.0.0.2;
                        \(Self.locations)
                        \(auth)
                        \(extra)
                    }
                }
                """,
            files: Self.files)
        try server.start()
        return server
    }

    static let files = [
        "html/open/f.txt": "open\n", "html/local/f.txt": "local\n", "html/denied/f.txt": "denied\n",
        "html/other-net/f.txt": "other\n", "html/inherit/f.txt": "inherit\n",
        "html/inherit/deeper/f.txt": "deeper\n", "html/any/f.txt": "any\n", "html/all/f.txt": "all\n",
        "html/none/f.txt": "none\n", "html/read-only/f.txt": "ro\n", "html/posting/f.txt": "post\n",
        "html/write-auth/f.txt": "wa\n", "html/basic-any/f.txt": "basic-any\n", "conf/users": "alice:{PLAIN}secret\n",
    ]

    @Test func rulesDecideInOrderAndDeniedRequestsAre403WithNginxLogLine() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/open/f.txt").status == 200)
        #expect(try get(s.port, "/local/f.txt").bodyText == "local\n")
        let denied = try get(s.port, "/denied/f.txt")
        #expect(denied.status == 403)
        #expect(!denied.bodyText.contains("denied\n"))
        #expect(s.waitForFile("logs/error.log", containing: "access forbidden by rule, client: 127.0.0.1"))
        #expect(try get(s.port, "/other-net/f.txt").status == 403)
        // A location without rules inherits the server's (deny 127.0.0.2 only: allowed);
        // a nested location's own rules replace them.
        #expect(try get(s.port, "/inherit/f.txt").status == 200)
        #expect(try get(s.port, "/inherit/deeper/f.txt").status == 200)
    }

    @Test func aClientAddressOutsideTheAllowedOnesIsDenied() throws {
        // The server-level rule denies 127.0.0.2: a client connecting from there is refused
        // wherever no location has rules of its own.
        let s = try start()
        defer { s.stop() }
        let c = try RawClient(port: s.port, from: "127.0.0.2")
        try c.send("GET /open/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try c.readResponse().status == 403)
        let d = try RawClient(port: s.port, from: "127.0.0.2")
        try d.send("GET /inherit/deeper/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try d.readResponse().status == 200)
    }

    @Test func satisfyCombinesAllowDenyWithAuthRequest() throws {
        let b = try EchoBackend()
        let s = try start(
            b,
            extra: """
                location /any/ { satisfy any; deny all; auth_request /auth; }
                location /all/ { satisfy all; allow 127.0.0.1; auth_request /auth; }
                location /none/ { satisfy any; allow 127.0.0.1; auth_request /auth; }
                location /basic-any/ {
                    satisfy any;
                    auth_basic "staff";
                    auth_basic_user_file PREFIXconf/users;
                    auth_request /auth;
                }
                """)
        defer {
            s.stop()
            b.stop()
        }
        // satisfy any: the address is denied, but the auth view allowing is enough...
        #expect(try get(s.port, "/any/f.txt", extra: "Authorization: Bearer good\r\n").status == 200)
        // ...and when both refuse, the 401 (with its challenge) wins over the 403.
        let refused = try get(s.port, "/any/f.txt")
        #expect(refused.status == 401)
        #expect(refused.header("WWW-Authenticate") == "Bearer realm=\"t\"")
        #expect(try get(s.port, "/any/f.txt", extra: "Authorization: Bearer forbidden\r\n").status == 403)
        // satisfy all: the address is allowed but the auth view must allow too.
        #expect(try get(s.port, "/all/f.txt").status == 401)
        #expect(try get(s.port, "/all/f.txt", extra: "Authorization: Bearer good\r\n").status == 200)
        // satisfy any with an allowed address: no credentials needed.
        #expect(try get(s.port, "/none/f.txt").bodyText == "none\n")
        // auth_basic refuses the Bearer credentials (401 with its challenge), the auth
        // view accepts them: allowed, and the challenge is not sent with the answer.
        let either = try get(s.port, "/basic-any/f.txt", extra: "Authorization: Bearer good\r\n")
        #expect(either.status == 200)
        #expect(either.header("WWW-Authenticate") == nil)
        // Basic credentials: auth_basic allows and the auth view is not asked.
        let basic = try get(s.port, "/basic-any/f.txt", extra: "Authorization: Basic YWxpY2U6c2VjcmV0\r\n")
        #expect(basic.status == 200)
        // Neither: auth_basic's 401 and its challenge.
        let neither = try get(s.port, "/basic-any/f.txt")
        #expect(neither.status == 401)
        #expect(neither.header("WWW-Authenticate") == "Basic realm=\"staff\"")
    }

    @Test func limitExceptAppliesItsBlockToOtherMethods() throws {
        let s = try start()
        defer { s.stop() }
        // GET is listed (and brings HEAD): the block does not apply.
        #expect(try get(s.port, "/read-only/f.txt").bodyText == "ro\n")
        let head = try request(
            s.port, "HEAD /read-only/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", headRequest: true)
        #expect(head.status == 200)
        // Other methods run with the block's rules: denied before the static handler's 405.
        for method in ["POST", "PUT", "DELETE", "PROPFIND", "FOO"] {
            let r = try request(
                s.port,
                "\(method) /read-only/f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            #expect(r.status == 403, "\(method)")
        }
        let post = try request(
            s.port, "POST /posting/f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(post.status == 405)
        let put = try request(
            s.port, "PUT /posting/f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(put.status == 403)
        // auth_basic inside limit_except: reading is open, writing asks for a password.
        #expect(try get(s.port, "/write-auth/f.txt").status == 200)
        let write = try request(
            s.port, "POST /write-auth/f.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(write.status == 401)
        #expect(write.header("WWW-Authenticate") == "Basic realm=\"writers\"")
        let authorized = try request(
            s.port,
            "POST /write-auth/f.txt HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6c2VjcmV0\r\n"
                + "Content-Length: 0\r\nConnection: close\r\n\r\n")
        #expect(authorized.status == 405)
        // Methods nginx does not know cannot be listed.
        try s.writeConfig(
            """
            \(TestServer.preamble)
            http { server { listen 127.0.0.1:PORT; location / { limit_except GET FOO { deny all; } } } }
            """)
        let bad = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("invalid method \"FOO\""))
    }

    @Test func networksWithHostBitsAreWarnedAboutAndBadAddressesRefused() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http { server { listen 127.0.0.1:PORT; location / { allow 10.1.2.3/8; deny all; } } }
                """)
        let t = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(t.status == 0)
        #expect(t.stderr.contains("low address bits of 10.1.2.3/8 are meaningless"))
        try s.writeConfig(
            """
            \(TestServer.preamble)
            http { server { listen 127.0.0.1:PORT; location / { deny 300.1.1.1; } } }
            """)
        let bad = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-t"])
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("invalid parameter \"300.1.1.1\""))
    }

    @Test func theSameStatusesAsNginx() throws {
        try requireNginx()
        let servers = """
            server {
                listen 127.0.0.1:PORT;
                root html;
                deny 127.0.0.2;
                \(Self.locations)
            }
            """
        let (prefix, nginx) = try PrefixNginx.serving(servers)
        defer { nginx.stop() }
        for (path, body) in Self.files { try prefix.write(path, body) }
        let s = try start()
        defer { s.stop() }
        for path in ["/open/f.txt", "/local/f.txt", "/denied/f.txt", "/other-net/f.txt", "/inherit/deeper/f.txt"] {
            let ours = try get(s.port, path).status
            let theirs = try get(nginx.port, path).status
            #expect(ours == theirs, "\(path): swiftginx \(ours), nginx \(theirs)")
        }
        for (method, path) in [("POST", "/read-only/f.txt"), ("POST", "/posting/f.txt"), ("DELETE", "/posting/f.txt")] {
            let raw = "\(method) \(path) HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            let ours = try request(s.port, raw).status
            let theirs = try request(nginx.port, raw).status
            #expect(ours == theirs, "\(method) \(path): swiftginx \(ours), nginx \(theirs)")
        }
    }
}
