// The log module and error_log over real sockets: a line is in the file as soon as the
// response is (no buffer), `if=` skips lines, `escape=none` writes values as they are,
// a path with variables opens a file per value, `buffer=`/`flush=` with `gzip` writes
// gzip members, error_log in a location takes that location's lines (each target by
// its level), and syslog: targets get nginx's datagrams; $pipe and limit_rate values.

import Foundation
import Glibc
import Testing

@Suite(.serialized) struct LogTests {
    func start(_ extra: String = "", syslogPort: Int = 9) throws -> TestServer {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    log_format t '$uri:$status:$arg_a';
                    log_format raw escape=none '$uri:$arg_a:$arg_b';
                    log_format p '$uri $pipe $limit_rate';
                    log_format fe '[$arg_a][$arg_b][$args][$https][$http_x_none]';
                    access_log logs/access.log t;
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /if/ { access_log logs/if.log t if=$arg_log; }
                        location /raw/ { access_log logs/raw.log raw; }
                        location /var/ { access_log logs/v_$arg_n.log t; }
                        location /fe/ { access_log logs/fe.log fe; }
                        location /noroot/ { root html/none; access_log logs/nr_$arg_n.log t; }
                        location /gz/ { access_log logs/gz.log t gzip buffer=4k flush=100ms; }
                        location /err/ { error_log logs/err_info.log info; error_log logs/err_crit.log crit; }
                        location /up/ { error_log logs/up.log; proxy_pass http://127.0.0.1:1; }
                        location /rw/ { error_log logs/rw.log notice; rewrite_log on; rewrite ^/rw/(.*) /if/$1; }
                        location /sys/ { access_log syslog:server=127.0.0.1:\(syslogPort),tag=SG t; }
                        location /rate/ { access_log logs/p.log p; set $limit_rate 2k; }
                        location /pipe/ { access_log logs/p.log p; }
                        \(extra)
                    }
                }
                """,
            files: [
                "html/if/f.txt": "if\n", "html/raw/f.txt": "raw\n", "html/var/f.txt": "var\n",
                "html/gz/f.txt": "gz\n", "html/sys/f.txt": "sys\n", "html/pipe/f.txt": "pipe\n",
                "html/rate/f.txt": String(repeating: "r", count: 3000),
            ])
        try s.start()
        return s
    }

    @Test func aLineIsWrittenWhenTheResponseIs() throws {
        let s = try start()
        defer { s.stop() }
        // No wait: nginx writes an unbuffered line before it closes the connection.
        let c = try RawClient(port: s.port)
        try c.send("GET /none?a=2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(!c.readToEnd().isEmpty)
        #expect(s.read("logs/access.log").contains("/none:404:2\n"))
    }

    @Test func ifSkipsEmptyAndZero() throws {
        let s = try start()
        defer { s.stop() }
        for q in ["", "?log=", "?log=0", "?log=1&a=x", "?log=yes&a=y"] { _ = try get(s.port, "/if/f.txt" + q) }
        #expect(s.waitForFile("logs/if.log", containing: ":y\n"))
        #expect(s.read("logs/if.log") == "/if/f.txt:200:x\n/if/f.txt:200:y\n")
    }

    @Test func escapeNoneAndVariablePaths() throws {
        let s = try start()
        defer { s.stop() }
        _ = try get(s.port, "/raw/f.txt?a=%22q%22")
        // escape=none: as it is, and nothing for a value not found.
        #expect(s.waitForFile("logs/raw.log", containing: "\n"))
        #expect(s.read("logs/raw.log") == "/raw/f.txt:%22q%22:\n")
        _ = try get(s.port, "/var/f.txt?n=one")
        _ = try get(s.port, "/var/f.txt?n=two&a=2")
        #expect(s.waitForFile("logs/v_two.log", containing: "\n"))
        #expect(s.read("logs/v_one.log") == "/var/f.txt:200:-\n")
        #expect(s.read("logs/v_two.log") == "/var/f.txt:200:2\n")
        // As nginx: no file while the request's root directory is missing.
        _ = try get(s.port, "/noroot/f.txt?n=x")
        #expect(
            s.waitForFile("logs/error.log", containing: "html/none\" existence failed (2: No such file or directory)"))
        #expect(!FileManager.default.fileExists(atPath: s.prefix + "logs/nr_x.log"))
    }

    @Test func aValueFoundEmptyIsNothingAndOneNotFoundIsADash() throws {
        let s = try start()
        defer { s.stop() }
        // As nginx 1.22 writes them for the same requests.
        _ = try get(s.port, "/fe/x?a=")
        _ = try get(s.port, "/fe/x")
        _ = try get(s.port, "/fe/x?")
        #expect(s.waitForFile("logs/fe.log", containing: "[-][-][-][][-]\n[-][-][-][][-]\n"))
        #expect(s.read("logs/fe.log") == "[][-][a=][][-]\n[-][-][-][][-]\n[-][-][-][][-]\n")
    }

    @Test func gzipBuffersAreFlushedAsGzipMembers() throws {
        let s = try start()
        defer { s.stop() }
        _ = try get(s.port, "/gz/f.txt")
        var bytes: [UInt8] = []
        for _ in 0..<50 {
            bytes = Array((try? Data(contentsOf: URL(fileURLWithPath: s.prefix + "logs/gz.log"))) ?? Data())
            if !bytes.isEmpty { break }
            usleep(20_000)
        }
        #expect(bytes.prefix(2) == [0x1F, 0x8B])
        let r = try runCommand(["/bin/sh", "-c", "gzip -dc < '\(s.prefix)logs/gz.log'"])
        #expect(r.stdout == "/gz/f.txt:200:-\n")
    }

    @Test func errorLogOfALocationTakesItsLinesByLevel() throws {
        let s = try start()
        defer { s.stop() }
        #expect(try get(s.port, "/err/missing").status == 404)
        #expect(s.waitForFile("logs/err_info.log", containing: "[error]"))
        #expect(s.read("logs/err_info.log").contains("open() \"\(s.prefix)html/err/missing\" failed"))
        #expect(!s.read("logs/err_crit.log").contains("[error]"))
        // Not in the main error log any more.
        #expect(!s.read("logs/error.log").contains("html/err/missing"))
        // Upstream failures and rewrite_log lines go to the location's logs too.
        #expect(try get(s.port, "/up/x").status == 502)
        #expect(s.waitForFile("logs/up.log", containing: "connect() failed (111: Connection refused) while connecting"))
        _ = try get(s.port, "/rw/f.txt")
        #expect(s.waitForFile("logs/rw.log", containing: "[notice]"))
        #expect(s.read("logs/rw.log").contains("\"^/rw/(.*)\" matches \"/rw/f.txt\""))
    }

    @Test func syslogDatagramsInNginxForm() throws {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(fd) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        #expect(
            withUnsafePointer(to: &a) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            } == 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                getsockname(fd, $0, &len)
            }
        }
        let s = try start(syslogPort: Int(UInt16(bigEndian: a.sin_port)))
        defer { s.stop() }
        _ = try get(s.port, "/sys/f.txt?a=1")
        var buf = [UInt8](repeating: 0, count: 2048)
        let n = recv(fd, &buf, buf.count, 0)
        let text = n > 0 ? String(decoding: buf[..<n], as: UTF8.self) : ""
        // local7.info, then "Mmm dd hh:mm:ss host tag: line".
        #expect(text.hasPrefix("<190>"))
        #expect(text.hasSuffix(" SG: /sys/f.txt:200:1"))
    }

    @Test func pipelinedRequestsAndTheLimitRateVariable() throws {
        let s = try start()
        defer { s.stop() }
        let c = try RawClient(port: s.port)
        try c.send(
            "GET /pipe/f.txt HTTP/1.1\r\nHost: x\r\n\r\nGET /pipe/f.txt HTTP/1.1\r\nHost: x\r\n\r\n"
                + "GET /rate/f.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(try c.readResponse().status == 200)
        #expect(try c.readResponse().status == 200)
        let limited = try c.readResponse()
        #expect(limited.body.count == 3000)
        #expect(s.waitForFile("logs/p.log", containing: "/rate/f.txt p 2048\n"))
        #expect(s.read("logs/p.log").hasPrefix("/pipe/f.txt . 0\n/pipe/f.txt p 0\n"))
    }
}
