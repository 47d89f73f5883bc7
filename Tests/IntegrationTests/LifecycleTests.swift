// Process lifecycle as nginx tooling drives it: pid file, signals (HUP reload,
// bad reload keeps serving, USR1 reopen, QUIT graceful, TERM fast), `-s`, and
// the access log's format and flushing.

import Foundation
import Glibc
import Testing

@Suite struct LifecycleTests {
    static func config(_ text: String) -> String {
        """
        daemon off;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 64; }
        http {
            access_log logs/access.log;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                location / { return 200 "\(text)"; }
            }
        }
        """
    }

    @Test func pidFileAndFastStop() throws {
        let s = try TestServer(config: Self.config("one"))
        try s.start()
        let pid = s.read("logs/swiftginx.pid").trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(pid == "\(s.pid)")
        s.signal(SIGTERM)
        #expect(s.waitForExit() == 0)
        #expect(!FileManager.default.fileExists(atPath: s.prefix + "logs/swiftginx.pid"))
    }

    @Test func reloadSwapsConfigAndBadReloadKeepsServing() throws {
        let s = try TestServer(config: Self.config("one"))
        try s.start()
        #expect(try get(s.port, "/").bodyText == "one")
        // A keep-alive connection opened before the reload keeps working.
        let held = try RawClient(port: s.port)
        try held.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try held.readResponse().bodyText == "one")
        try s.writeConfig(Self.config("two"))
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-s", "reload"])
        #expect(r.status == 0)
        var body = ""
        for _ in 0..<100 {
            body = try get(s.port, "/").bodyText
            if body == "two" { break }
            usleep(20_000)
        }
        #expect(body == "two")
        try held.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        #expect(try held.readResponse().status == 200)
        try s.writeConfig("events {}\nhttp { bogus; }\n")
        s.signal(SIGHUP)
        // (logged by the serving process, which the supervisor in the pid file started)
        #expect(s.waitForFile("logs/error.log", containing: "[emerg] "))
        #expect(
            s.waitForFile(
                "logs/error.log", containing: ": unknown directive \"bogus\" in \(s.prefix)conf/swiftginx.conf:2"))
        #expect(try get(s.port, "/").bodyText == "two")
    }

    @Test func reloadAddsListener() throws {
        let s = try TestServer(config: Self.config("one"))
        try s.start()
        let second = freePort()
        let cfg = Self.config("one").replacingOccurrences(
            of: "listen 127.0.0.1:PORT;", with: "listen 127.0.0.1:PORT; listen 127.0.0.1:\(second);")
        try s.writeConfig(cfg)
        s.signal(SIGHUP)
        var ok = false
        for _ in 0..<100 {
            if canConnect(port: second) {
                ok = true
                break
            }
            usleep(20_000)
        }
        #expect(ok)
        #expect(try get(second, "/").bodyText == "one")
    }

    @Test func accessLogCombinedFormatAndReopen() throws {
        let s = try TestServer(config: Self.config("logged"))
        try s.start()
        _ = try get(s.port, "/path?q=1", extra: "Referer: http://r/\r\nUser-Agent: tester/1.0\r\n")
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        let line = s.read("logs/access.log")
        let pattern =
            #"^127\.0\.0\.1 - - \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\] "GET /path\?q=1 HTTP/1\.1" 200 6 "http://r/" "tester/1\.0"\n$"#
        #expect(line.range(of: pattern, options: .regularExpression) != nil, "got \(line)")
    }

    /// `env`: the serving process keeps TZ and the listed variables; `env TZ=...` sets the
    /// zone that `$time_local` and the error log's times are in.
    @Test func envSetsTheTimeZoneOfTheLogs() throws {
        let s = try TestServer(config: "env TZ=XYZ-9;\n" + Self.config("tz"))
        try s.start()
        _ = try get(s.port, "/")
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        #expect(s.read("logs/access.log").contains(" +0900] \"GET / HTTP/1.1\""), "\(s.read("logs/access.log"))")
    }

    @Test func reopenLogsOnUSR1() throws {
        let s = try TestServer(config: Self.config("x"))
        try s.start()
        _ = try get(s.port, "/first")
        try FileManager.default.moveItem(atPath: s.prefix + "logs/access.log", toPath: s.prefix + "logs/access.log.1")
        s.signal(SIGUSR1)
        #expect(s.waitForFile("logs/error.log", containing: "reopening logs"))
        // Lines are written as requests end (as nginx writes them): one that ends while
        // the files are being reopened may still go to the old file, so ask until the
        // new file takes them.
        var reopened = false
        for _ in 0..<100 where !reopened {
            _ = try get(s.port, "/second")
            reopened = s.waitForFile("logs/access.log", containing: "GET /second", timeout: 0.05)
        }
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        #expect(reopened)
        #expect(s.read("logs/access.log").contains("GET /second"))
        #expect(s.read("logs/access.log.1").contains("GET /first"))
    }

    @Test func gracefulStopFinishesInFlightDownload() throws {
        let big = String(repeating: "z", count: 8 << 20)
        let s = try TestServer(
            config: """
                daemon off;
                error_log logs/error.log info;
                pid logs/swiftginx.pid;
                events { worker_connections 64; }
                http {
                    sendfile on;
                    server { listen 127.0.0.1:PORT; location / { root html; } }
                }
                """, files: ["html/big.bin": big])
        try s.start()
        let c = try RawClient(port: s.port, timeoutSeconds: 10)
        try c.send("GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(100_000)
        s.signal(SIGQUIT)
        let r = try c.readResponse()
        #expect(r.status == 200)
        #expect(r.body.count == 8 << 20)
        #expect(s.waitForExit() == 0)
    }

    @Test func quitViaDashS() throws {
        let s = try TestServer(config: Self.config("x"))
        try s.start()
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf", "-s", "quit"])
        #expect(r.status == 0)
        #expect(s.waitForExit() == 0)
    }

    @Test func daemonModeWritesChildPid() throws {
        let s = try TestServer(config: Self.config("d").replacingOccurrences(of: "daemon off;", with: "daemon on;"))
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf"])
        #expect(r.status == 0)
        var pidText = ""
        for _ in 0..<200 {
            pidText = s.read("logs/swiftginx.pid").trimmingCharacters(in: .whitespacesAndNewlines)
            if !pidText.isEmpty && canConnect(port: s.port) { break }
            usleep(20_000)
        }
        let pid = try #require(Int32(pidText))
        #expect(try get(s.port, "/").bodyText == "d")
        kill(pid, SIGTERM)
        var gone = false
        for _ in 0..<200 {
            if kill(pid, 0) != 0 {
                gone = true
                break
            }
            usleep(20_000)
        }
        #expect(gone)
    }
}
