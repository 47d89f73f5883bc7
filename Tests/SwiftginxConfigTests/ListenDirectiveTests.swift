// `listen` forms beyond host and port — unix-domain sockets, port ranges, the
// `proxy_protocol` parameter (merged over the listens of one address as `ssl` is) —
// and the connection-lifetime directives: worker_shutdown_timeout, keepalive_time,
// keepalive_disable, and set_real_ip_from with a host name.

import Testing

@testable import SwiftginxConfig

@Suite struct ListenDirectiveTests {
    @Test func unixSockets() throws {
        let config = try load(http("server { listen unix:/run/app.sock; listen 127.0.0.1:8080; }"))
        let unix = config.listenGroups[0]
        #expect(unix.address.description == "unix:/run/app.sock")
        #expect(unix.address.isUnix && !unix.address.isIPv6)
        #expect(unix.address.unixPath == "/run/app.sock")
        #expect(unix.address.port == 0)
        #expect(unix.bindsOwnSocket)
        #expect(try loadError(http("server { listen unix:; }"))?.hasPrefix("no path in the unix domain socket") == true)
        let long = String(repeating: "x", count: 120)
        #expect(try loadError(http("server { listen unix:/\(long); }"))?.hasPrefix("too long path") == true)
        #expect(try loadError(http("server { listen unix:/a; } server { listen unix:/a; }")) == nil)
    }

    @Test func portRangesExpandToOneAddressPerPort() throws {
        let config = try load(http("server { listen 127.0.0.1:8182-8184; listen [::1]:9000-9001; listen 7000-7001; }"))
        #expect(
            config.listenGroups.map(\.address.description) == [
                "127.0.0.1:8182", "127.0.0.1:8183", "127.0.0.1:8184", "[::1]:9000", "[::1]:9001", "0.0.0.0:7000",
                "0.0.0.0:7001",
            ])
        #expect(
            try loadError(http("server { listen 127.0.0.1:8183-8182; }"))?.hasPrefix(
                "invalid port range in \"127.0.0.1:8183-8182\"") == true)
        #expect(try loadError(http("server { listen 127.0.0.1:8182-70000; }"))?.hasPrefix("invalid port") == true)
        #expect(try loadError(http("server { listen 127.0.0.1:-5; }"))?.hasPrefix("invalid port") == true)
    }

    @Test func proxyProtocolParameterMergesOverTheAddress() throws {
        let config = try load(
            http(
                """
                server { listen 127.0.0.1:8080; server_name a; }
                server { listen 127.0.0.1:8080 proxy_protocol; server_name b; }
                server { listen 127.0.0.1:8081; }
                """))
        #expect(config.listenGroups[0].options.proxyProtocol)
        #expect(!config.listenGroups[1].options.proxyProtocol)
    }

    @Test func workerShutdownTimeout() throws {
        #expect(try load("worker_shutdown_timeout 10ms;\n" + http("")).main.workerShutdownTimeout == 10)
        #expect(try load("worker_shutdown_timeout 5s;\n" + http("")).main.workerShutdownTimeout == 5000)
        #expect(try load(http("")).main.workerShutdownTimeout == nil)
        #expect(try loadError("worker_shutdown_timeout x;\n" + http("")) != nil)
        #expect(try loadError(http("worker_shutdown_timeout 1s;")) != nil)
    }

    @Test func keepaliveTimeAndDisable() throws {
        let config = try load(
            http(
                """
                keepalive_time 2s;
                server {
                    listen 8080;
                    location /a { keepalive_disable safari msie6; }
                    location /b { keepalive_disable none; keepalive_time 1h; }
                    location /c { }
                }
                """))
        let server = config.listenGroups[0].defaultServer
        func settings(_ uri: String) -> LocationSettings? {
            var u = uri
            return u.withUTF8 { server.locations.match(UnsafeRawBufferPointer($0))?.location.settings }
        }
        #expect(settings("/a")?.keepaliveDisable == [.msie6, .safari])
        #expect(settings("/a")?.keepaliveTime == 2000)
        #expect(settings("/b")?.keepaliveDisable == [])
        #expect(settings("/b")?.keepaliveTime == 3_600_000)
        #expect(settings("/c")?.keepaliveDisable == .msie6)
        #expect(try loadError(http("keepalive_disable opera;"))?.hasPrefix("invalid value \"opera\"") == true)
    }

    @Test func setRealIPFromTakesAHostName() throws {
        var env = MemoryEnvironment()
        let conf = "/srv/conf/nginx.conf"
        env.names["front.example"] = ["192.0.2.10", "2001:db8::10"]
        env.files[conf] =
            "events {}\nhttp { server { listen 8080; set_real_ip_from front.example; set_real_ip_from unix:; } }\n"
        let config = try ConfigLoader.load(path: conf, prefix: "/srv/", environment: env)
        let rules = config.listenGroups[0].defaultServer.defaultSettings.realIPFrom
        #expect(rules.count == 3)
        let v4: [UInt8] = [192, 0, 2, 10]
        #expect(v4.withUnsafeBytes { raw in rules.contains { $0.covers(raw) } })
        #expect(rules.contains { $0.covers(nil) })
        env.files[conf] = "events {}\nhttp { server { set_real_ip_from nowhere.example; } }\n"
        #expect(
            throws: ConfigError("host not found in set_real_ip_from \"nowhere.example\"", file: conf, line: 2)
        ) { try ConfigLoader.load(path: conf, prefix: "/srv/", environment: env) }
    }
}

@Suite struct ListenSocketOptionTests {
    @Test func keepaliveAndFastOpen() throws {
        let config = try load(
            http(
                """
                server { listen 8080 so_keepalive=30s:10:3 fastopen=16 sndbuf=32k; }
                server { listen 8081 so_keepalive=off; }
                server { listen 8082 so_keepalive=::5; }
                server { listen 8083 so_keepalive=on; }
                """))
        let o = config.listenGroups.map(\.options)
        #expect(o[0].soKeepalive == ListenKeepalive("30:10:3"))
        #expect(o[0].soKeepalive?.idle == 30 && o[0].soKeepalive?.interval == 10 && o[0].soKeepalive?.count == 3)
        #expect(o[0].fastopen == 16 && o[0].sndbuf == 32768 && o[0].bind)
        #expect(o[1].soKeepalive?.enabled == false)
        #expect(o[2].soKeepalive?.count == 5 && o[2].soKeepalive?.idle == nil)
        #expect(o[3].soKeepalive?.enabled == true && o[3].soKeepalive?.idle == nil)
        #expect(
            try loadError(http("server { listen 8080 so_keepalive=yes; }"))?.hasPrefix(
                "invalid so_keepalive value: \"so_keepalive=yes\"") == true)
        #expect(try loadError(http("server { listen 8080 so_keepalive=::; }")) != nil)
        #expect(try loadError(http("server { listen 8080 fastopen=x; }"))?.hasPrefix("invalid fastopen") == true)
    }
}
