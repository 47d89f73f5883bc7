// auth_basic over real sockets: every password format nginx reads ({PLAIN}, {SHA},
// {SSHA}, $apr1$, and crypt(3)'s $1$, $5$, $6$, bcrypt and DES), the realm challenge,
// nginx's error-log lines for a wrong password, an unknown user and a missing file,
// `auth_basic off` in a nested location, variables in the realm, `$remote_user` in the
// access log, and the same configuration and requests answered by nginx.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct AuthBasicTests {
    /// A user per password format, each with the password "secret" (except plain).
    static func users() throws -> String {
        func openssl(_ args: [String]) throws -> String {
            let r = try runCommand(["/usr/bin/openssl", "passwd"] + args + ["secret"])
            guard r.status == 0 else { throw TestFailure("openssl passwd \(args): \(r.stderr)") }
            return r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // bcrypt: htpasswd when apache2-utils is there, else a known hash of "secret".
        var bcrypt = "$2y$05$irIH2GY/6H53B5Bs9Owp4./pAeFNarJWXqjTnEzYMx4uN0NPJXg3W"
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/htpasswd"),
            let r = try? runCommand(["/usr/bin/htpasswd", "-nbB", "-C", "4", "x", "secret"]), r.status == 0
        {
            bcrypt = String(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(2))
        }
        return """
            # a comment line, then an empty one

            plain:{PLAIN}pl:ain
            sha:{SHA}5en6G6MezRroT3XKqkdPOmY/BfQ=
            ssha:{SSHA}1G904nLkTkGWjKNnQuB/hpWXC/hzYWx0c2FsdA==:a comment
            apr1:\(try openssl(["-apr1"]))
            apr1known:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/
            md5:\(try openssl(["-1"]))
            sha256:\(try openssl(["-5"]))
            sha512:\(try openssl(["-6"]))
            bcrypt:\(bcrypt)
            bcrypt2b:$2b$05$irIH2GY/6H53B5Bs9Owp4./pAeFNarJWXqjTnEzYMx4uN0NPJXg3W
            des:abNANd1rDfiNc
            crlf:{PLAIN}crlf\r
            alice:{PLAIN}secret
            alice:{PLAIN}second-line-ignored

            """
    }

    /// The http block both servers run (`ROOT` is the directory with html/ and the files).
    static let http = """
        http {
            log_format auth '$status $uri user=[$remote_user]';
            access_log ROOT/logs/NAME-access.log auth;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                root ROOT/html;
                auth_basic "Private \\"zone\\"";
                auth_basic_user_file ROOT/users;
                location /public/ { auth_basic off; }
                location /nested/ {
                    location /nested/open/ { auth_basic off; }
                }
                location /other-realm/ { auth_basic "Second"; }
                location /missing/ { auth_basic_user_file ROOT/no-such-file; }
                location /dir/ { auth_basic_user_file ROOT/html; }
                location /var/ { auth_basic $arg_realm; }
                location /file-var/ { auth_basic_user_file ROOT/$arg_f; }
                location /custom/ { error_page 401 /public/denied.html; }
                location /named/ { error_page 401 @denied; }
                location @denied { auth_basic off; return 401 "named denial\n"; }
            }
        }
        """

    static let files = [
        "html/index.html": "home\n", "html/public/f.txt": "public\n", "html/nested/f.txt": "nested\n",
        "html/nested/open/f.txt": "open\n", "html/other-realm/f.txt": "other\n", "html/missing/f.txt": "m\n",
        "html/dir/f.txt": "d\n", "html/public/denied.html": "denied page\n", "html/custom/f.txt": "c\n",
        "html/named/f.txt": "n\n", "html/var/f.txt": "v\n", "html/file-var/f.txt": "fv\n",
    ]

    func start() throws -> TestServer {
        let s = try TestServer(config: "", files: Self.files)
        try s.writeConfig(
            TestServer.preamble + "\n"
                + Self.http.replacingOccurrences(of: "ROOT/", with: s.prefix).replacingOccurrences(
                    of: "NAME", with: "swiftginx"))
        try s.write("users", try Self.users())
        try s.start()
        return s
    }

    func basic(_ credentials: String) -> String {
        "Authorization: Basic \(Data(credentials.utf8).base64EncodedString())\r\n"
    }

    @Test func everyPasswordFormat() throws {
        let s = try start()
        defer { s.stop() }
        for user in [
            "sha", "ssha", "apr1", "apr1known", "md5", "sha256", "sha512", "bcrypt", "bcrypt2b", "des", "alice",
        ] {
            let ok = try get(s.port, "/index.html", extra: basic("\(user):secret"))
            #expect(ok.status == 200, "\(user)")
            #expect(ok.bodyText == "home\n", "\(user)")
            let bad = try get(s.port, "/index.html", extra: basic("\(user):Secret"))
            #expect(bad.status == 401, "\(user)")
        }
        // {PLAIN}: the password ends at the first ":"; a CR ends it too.
        #expect(try get(s.port, "/index.html", extra: basic("plain:pl")).status == 200)
        #expect(try get(s.port, "/index.html", extra: basic("plain:pl:ain")).status == 401)
        #expect(try get(s.port, "/index.html", extra: basic("crlf:crlf")).status == 200)
        // The first line of a user wins.
        #expect(try get(s.port, "/index.html", extra: basic("alice:second-line-ignored")).status == 401)
        // The scheme is case-insensitive; spaces before the base64 are skipped.
        let creds = Data("alice:secret".utf8).base64EncodedString()
        #expect(try get(s.port, "/index.html", extra: "Authorization: bAsIc    \(creds)\r\n").status == 200)
    }

    @Test func challengesAndLogLines() throws {
        let s = try start()
        defer { s.stop() }
        let anonymous = try get(s.port, "/index.html")
        #expect(anonymous.status == 401)
        #expect(anonymous.header("WWW-Authenticate") == "Basic realm=\"Private \"zone\"\"")
        #expect(!anonymous.bodyText.contains("home"))
        for bad in [
            "Bearer x", "Basic", "Basic !!!!", "Basic \(Data("nocolon".utf8).base64EncodedString())",
            "Basic \(Data(":secret".utf8).base64EncodedString())",
        ] {
            let r = try get(s.port, "/index.html", extra: "Authorization: \(bad)\r\n")
            #expect(r.status == 401, "\(bad)")
            #expect(r.header("WWW-Authenticate") != nil, "\(bad)")
        }
        #expect(s.waitForFile("logs/error.log", containing: "no user/password was provided for basic authentication"))
        let mismatch = try get(s.port, "/index.html", extra: basic("alice:wrong"))
        #expect(mismatch.status == 401)
        #expect(mismatch.header("WWW-Authenticate") == "Basic realm=\"Private \"zone\"\"")
        #expect(s.waitForFile("logs/error.log", containing: "[error]"))
        #expect(s.waitForFile("logs/error.log", containing: "user \"alice\": password mismatch, client: 127.0.0.1"))
        #expect(try get(s.port, "/index.html", extra: basic("bob:secret")).status == 401)
        #expect(s.waitForFile("logs/error.log", containing: "user \"bob\" was not found in \"\(s.prefix)users\""))
        let other = try get(s.port, "/other-realm/f.txt")
        #expect(other.header("WWW-Authenticate") == "Basic realm=\"Second\"")
    }

    @Test func fileErrorsAreAnswersNotCrashes() throws {
        let s = try start()
        defer { s.stop() }
        // nginx: a missing file is a 403 at error level, another failure a 500 at crit.
        let missing = try get(s.port, "/missing/f.txt", extra: basic("alice:secret"))
        #expect(missing.status == 403)
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "[error]",
                timeout: 5))
        #expect(
            s.waitForFile(
                "logs/error.log",
                containing: "open() \"\(s.prefix)no-such-file\" failed (2: No such file or directory)"))
        let dir = try get(s.port, "/dir/f.txt", extra: basic("alice:secret"))
        #expect(dir.status == 500)
        #expect(s.waitForFile("logs/error.log", containing: "pread() \"\(s.prefix)html\" failed (21: Is a directory)"))
        // No credentials: the challenge comes before the file is read.
        #expect(try get(s.port, "/missing/f.txt").status == 401)
        // The server is still there.
        #expect(try get(s.port, "/index.html", extra: basic("alice:secret")).status == 200)
    }

    @Test func offNestedAndVariables() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/public/f.txt").status == 200)
        #expect(try get(s.port, "/nested/f.txt").status == 401)
        #expect(try get(s.port, "/nested/f.txt", extra: basic("alice:secret")).status == 200)
        #expect(try get(s.port, "/nested/open/f.txt").status == 200)
        // A realm with variables that evaluates to "off" is off for that request.
        #expect(try get(s.port, "/var/f.txt?realm=off").status == 200)
        let v = try get(s.port, "/var/f.txt?realm=Zone")
        #expect(v.status == 401)
        #expect(v.header("WWW-Authenticate") == "Basic realm=\"Zone\"")
        #expect(try get(s.port, "/file-var/f.txt?f=users", extra: basic("alice:secret")).status == 200)
        #expect(try get(s.port, "/file-var/f.txt?f=nope", extra: basic("alice:secret")).status == 403)
    }

    @Test func remoteUserInTheAccessLog() throws {
        let s = try start()
        defer { s.stop() }
        _ = try get(s.port, "/index.html", extra: basic("alice:secret"))
        // $remote_user is the credentials' user even where auth_basic is off or fails.
        _ = try get(s.port, "/public/f.txt", extra: basic("carol:whatever"))
        _ = try get(s.port, "/public/f.txt")
        #expect(s.waitForFile("logs/swiftginx-access.log", containing: "200 /index.html user=[alice]"))
        #expect(s.waitForFile("logs/swiftginx-access.log", containing: "200 /public/f.txt user=[carol]"))
        #expect(s.waitForFile("logs/swiftginx-access.log", containing: "200 /public/f.txt user=[-]"))
    }

    @Test func sameAnswersAsNginx() throws {
        try requireNginx()
        let s = try start()
        defer { s.stop() }
        let nginxPort = freePort()
        let config = """
            daemon off;
            master_process off;
            error_log \(s.prefix)logs/nginx-error.log info;
            pid \(s.prefix)logs/nginx.pid;
            events {}
            """ + "\n"
            + Self.http.replacingOccurrences(of: "ROOT/", with: s.prefix).replacingOccurrences(
                of: "NAME", with: "nginx"
            )
            .replacingOccurrences(of: "PORT", with: "\(nginxPort)")
        let nginx = try ReferenceNginx(config: config, port: nginxPort)
        defer { nginx.stop() }
        let cases: [(String, String)] = [
            ("/index.html", ""), ("/index.html", basic("alice:secret")), ("/index.html", basic("alice:nope")),
            ("/index.html", basic("bob:secret")), ("/index.html", "Authorization: Basic !!\r\n"),
            ("/index.html", basic("apr1known:secret")), ("/index.html", basic("ssha:secret")),
            ("/index.html", basic("sha:secret")), ("/index.html", basic("des:secret")),
            ("/index.html", basic("bcrypt2b:secret")), ("/index.html", basic("plain:pl")),
            ("/public/f.txt", ""), ("/nested/open/f.txt", ""), ("/nested/f.txt", ""),
            ("/other-realm/f.txt", ""), ("/missing/f.txt", basic("alice:secret")),
            ("/dir/f.txt", basic("alice:secret")), ("/var/f.txt?realm=off", ""), ("/var/f.txt?realm=Z", ""),
            ("/custom/f.txt", ""), ("/custom/f.txt", basic("alice:x")), ("/named/f.txt", ""),
            ("/file-var/f.txt?f=users", basic("alice:secret")),
        ]
        for (path, extra) in cases {
            let a = try get(nginxPort, path, extra: extra)
            let b = try get(s.port, path, extra: extra)
            #expect(a.status == b.status, "\(path) \(extra): nginx \(a.status), swiftginx \(b.status)")
            // The built-in pages differ only in the signature line.
            func page(_ r: HTTPResponse) -> String {
                r.bodyText.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("<hr><center>") }.joined(
                    separator: "\n")
            }
            #expect(page(a) == page(b), "\(path) \(extra) body")
            #expect(
                a.header("WWW-Authenticate") == b.header("WWW-Authenticate"),
                "\(path): nginx \(a.header("WWW-Authenticate") ?? "-"), swiftginx \(b.header("WWW-Authenticate") ?? "-")"
            )
        }
        // The same error-log messages (without time, pid and connection number).
        func messages(_ log: String) -> [String] {
            log.split(separator: "\n").compactMap { line -> String? in
                guard let r = line.range(of: "user \"") ?? line.range(of: "open() ") ?? line.range(of: "pread() ")
                else { return nil }
                return String(line[r.lowerBound...].prefix { $0 != "," })
            }
        }
        #expect(s.waitForFile("logs/nginx-access.log", containing: "/file-var/f.txt"))
        #expect(s.waitForFile("logs/swiftginx-access.log", containing: "/file-var/f.txt"))
        let ours = messages(s.read("logs/error.log"))
        #expect(!ours.isEmpty)
        #expect(messages(s.read("logs/nginx-error.log")) == ours)
        #expect(s.read("logs/nginx-access.log") == s.read("logs/swiftginx-access.log"))
    }
}
