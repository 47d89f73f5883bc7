// Servers grouped by listen address: address forms, default server choice, options,
// which addresses bind their own socket, and server-name selection with nginx's
// conflicting-name warning.

import Testing

@testable import SwiftginxConfig

@Suite struct ListenGroupTests {
    func host(_ group: ListenGroup, _ name: String) -> VirtualServer {
        var h = name
        return h.withUTF8 { group.server(forHost: UnsafeRawBufferPointer($0)) }
    }

    @Test func addressForms() throws {
        let config = try load(
            http(
                """
                server {
                    listen 8001; listen 127.0.0.1:8002; listen localhost:8003; listen *:8004; listen [::]:8005;
                    listen [::1]:8006; listen [0:0::1]; listen 10.0.0.1; listen [::]:8007 ipv6only=off;
                }
                """))
        #expect(
            config.listenGroups.map(\.address.description) == [
                "0.0.0.0:8001", "127.0.0.1:8002", "127.0.0.1:8003", "0.0.0.0:8004", "[::]:8005", "[::1]:8006",
                "[::1]:80", "10.0.0.1:80", "[::]:8007",
            ])
        #expect(config.listenGroups[8].options.ipv6only == false)
        #expect(config.listenGroups[4].options.ipv6only)
    }

    @Test func defaultListenWithoutListen() throws {
        let config = try load(http("server { server_name a; }"))
        let port = machine.isSuperuser ? 80 : 8000
        #expect(config.listenGroups.map(\.address) == [ListenAddress(host: "0.0.0.0", port: port)])
    }

    @Test func defaultServerAndOptions() throws {
        let config = try load(
            http(
                """
                ssl_certificate cert.pem; ssl_certificate_key cert.key;
                server { listen 8080; server_name first; }
                server { listen 8080 default_server backlog=100 reuseport deferred rcvbuf=64k; server_name second; }
                server { listen 8080 ssl http2; server_name third; }
                server { listen 8081; server_name other; }
                """))
        let group = config.listenGroups[0]
        #expect(group.servers.map(\.primaryName) == ["first", "second", "third"])
        #expect(group.defaultServer.primaryName == "second")
        #expect(group.options.backlog == 100)
        #expect(group.options.reuseport)
        #expect(group.options.deferred)
        #expect(group.options.rcvbuf == 65536)
        #expect(group.options.ssl)
        #expect(group.options.http2)
        #expect(config.listenGroups[1].defaultServer.primaryName == "other")  // first server is the default
        #expect(host(group, "third") === group.servers[2])
        #expect(host(group, "nope") === group.defaultServer)
    }

    @Test func wildcardPortsTakeSpecificAddresses() throws {
        let config = try load(
            http(
                """
                server { listen 8080; }
                server { listen 127.0.0.1:8080; server_name local; }
                server { listen 127.0.0.2:8080 bind; }
                server { listen 127.0.0.1:9090; }
                """))
        #expect(config.listenGroups.map(\.bindsOwnSocket) == [true, false, true, true])
        #expect(config.listenGroup(localHost: "127.0.0.1", port: 8080)?.defaultServer.primaryName == "local")
        #expect(config.listenGroup(localHost: "10.1.1.1", port: 8080)?.address.host == "0.0.0.0")
        #expect(config.listenGroup(localHost: "::1", port: 8080) == nil)
    }

    @Test func serverNames() throws {
        let config = try load(
            http(
                """
                server { listen 8080; server_name Example.COM www.example.com; }
                server { listen 8080; server_name *.example.com ~^(?<sub>api)\\.example\\.org$; }
                server { listen 8080; server_name example.com .example.com; }
                server { listen 8080; server_name "" _; }
                """))
        let group = config.listenGroups[0]
        #expect(group.servers[0].serverNames == ["example.com", "www.example.com"])
        #expect(host(group, "example.com") === group.servers[0])
        #expect(host(group, "a.example.com") === group.servers[1])
        #expect(host(group, "api.example.org") === group.servers[1])
        #expect(host(group, "") === group.servers[3])
        #expect(
            config.warnings == [
                "conflicting server name \"example.com\" on 0.0.0.0:8080, ignored",
                "conflicting server name \".example.com\" on 0.0.0.0:8080, ignored",
            ])
    }

    @Test func serversWithoutNamesConflictOnTheEmptyName() throws {
        let config = try load(http("server { listen 8080; } server { listen 8080; }"))
        #expect(config.warnings == ["conflicting server name \"\" on 0.0.0.0:8080, ignored"])
    }

    @Test func hostnameVariable() throws {
        let config = try load(http("server { listen 8080; server_name $hostname; }"))
        #expect(config.listenGroups[0].defaultServer.serverNames == [machine.hostname().lowercased()])
    }
}
