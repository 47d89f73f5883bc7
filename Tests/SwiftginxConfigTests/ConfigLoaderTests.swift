// Whole-file loading: the shipped default configuration, a Debian-style nginx.conf,
// includes with globs, -g directives, and conf/mime.types.

import Foundation
import SwiftginxRouting
import Testing

@testable import SwiftginxConfig

@Suite struct ConfigLoaderTests {
    @Test func defaultConfiguration() throws {
        let prefix = try TestPrefix(files: ["swiftginx.conf": Fixtures.defaultConfig])
        try FileManager.default.copyItem(atPath: repositoryRoot + "conf/mime.types", toPath: prefix.conf + "mime.types")
        let config = try prefix.load("swiftginx.conf")
        #expect(config.main.workerProcesses == 1)
        #expect(config.main.daemon == false)
        #expect(config.main.pidPath == prefix.root + "logs/swiftginx.pid")
        #expect(config.main.errorLogs == [ErrorLogTarget(path: prefix.root + "logs/error.log", level: .error)])
        #expect(config.main.workerConnections == 1024)
        #expect(config.listenGroups.count == 1)
        let group = config.listenGroups[0]
        #expect(group.address == ListenAddress(host: "0.0.0.0", port: 8080))
        #expect(group.bindsOwnSocket)
        let server = group.defaultServer
        #expect(server.serverNames == ["localhost"])
        let root = try #require(server.locations.match("/index.html")?.location)
        #expect(root.pattern == "/")
        #expect(root.settings.root.staticBytes == Array((prefix.root + "html").utf8))
        #expect(root.settings.index.map(\.source) == ["index.html", "index.htm"])
        #expect(root.settings.sendfile)
        #expect(root.settings.keepaliveTimeout == 65_000)
        #expect(root.settings.defaultType == "application/octet-stream")
        #expect(root.settings.types.byExtension["css"] == "text/css")
        #expect(root.settings.types.byExtension["html"] == "text/html")
        #expect(root.settings.errorPages[502]?.uri.source == "/50x.html")
        #expect(root.settings.accessLogs.count == 1)
        #expect(root.settings.accessLogs[0].path == prefix.root + "logs/access.log")
        #expect(root.settings.accessLogs[0].format.name == "main")
        let fifty = try #require(server.locations.match("/50x.html")?.location)
        #expect(fifty.pattern == "= /50x.html")
        #expect(fifty.settings.errorPages[500] != nil)
        #expect(server.settings.keepaliveTimeout == 65_000)
        #expect(config.sources.map(\.path) == [prefix.conf + "swiftginx.conf", prefix.conf + "mime.types"])
        #expect(config.warnings.isEmpty)
    }

    @Test func debianStyleConfiguration() throws {
        let prefix = try TestPrefix(files: [
            "nginx.conf": Fixtures.debianConfig, "sites-enabled/default": Fixtures.debianDefaultSite,
        ])
        try FileManager.default.copyItem(atPath: repositoryRoot + "conf/mime.types", toPath: prefix.conf + "mime.types")
        try FileManager.default.createDirectory(atPath: prefix.conf + "conf.d", withIntermediateDirectories: true)
        let config = try prefix.load()
        #expect(config.main.workerProcesses >= 1)
        #expect(config.main.pidPath == "/run/nginx.pid")
        #expect(config.main.workerConnections == 768)
        #expect(config.listenGroups.map(\.address.description) == ["0.0.0.0:80", "[::]:80"])
        let server = config.listenGroups[0].defaultServer
        #expect(server.serverNames == ["_"])
        let loc = try #require(server.locations.match("/")?.location)
        #expect(loc.settings.root.source == "/var/www/html")
        #expect(loc.settings.index.map(\.source) == ["index.html", "index.htm", "index.nginx-debian.html"])
        #expect(loc.settings.tcpNopush)
        #expect(loc.settings.accessLogs.map(\.path) == ["/var/log/nginx/access.log"])
    }

    @Test func mimeTypesFile() throws {
        let prefix = try TestPrefix(files: [
            "nginx.conf": http("include mime.types; server { listen 8080; location / {} }")
        ])
        try FileManager.default.copyItem(atPath: repositoryRoot + "conf/mime.types", toPath: prefix.conf + "mime.types")
        let config = try prefix.load()
        #expect(config.warnings.isEmpty)
        let map = try #require(config.listenGroups[0].defaultServer.locations.match("/")).location.settings.types
            .byExtension
        #expect(map["html"] == "text/html")
        #expect(map["js"] == "application/javascript")
        #expect(map["json"] == "application/json")
        #expect(map["svg"] == "image/svg+xml")
        #expect(map["woff2"] == "font/woff2")
        #expect(map["mp4"] == "video/mp4")
        #expect(map.count > 100)
    }

    @Test func includeGlobsAreSortedAndRelativeToTheConfigDirectory() throws {
        let config = try load(
            http("include sites/*.conf;"),
            extra: [
                "sites/b.conf": "server { listen 8002; }",
                "sites/a.conf": "server { listen 8001; }",
                "sites/c.txt": "server { listen 8003; }",
            ])
        #expect(config.listenGroups.map(\.address.port) == [8001, 8002])
        #expect(try load(http("include none/*.conf;")).listenGroups.isEmpty)
    }

    /// `include` works in every block, as nginx's NGX_ANY_CONF: `if` (server and location),
    /// `limit_except`, `upstream`, `map`, `types`.
    @Test func includeInEveryBlock() throws {
        let config = try load(
            http(
                """
                upstream u { include ups.conf; }
                map $arg_a $m { include map.conf; }
                server { listen 8080;
                    if ($arg_s) { include ret.conf; }
                    location / { if ($arg_l) { include ret.conf; } }
                    location /lmt { limit_except GET { include deny.conf; } }
                }
                """),
            extra: [
                "ups.conf": "server 127.0.0.1:8081;", "map.conf": "x 1;", "ret.conf": "return 200 R;",
                "deny.conf": "deny all;",
            ])
        #expect(config.upstreamsByName["u"]?.servers.count == 1)
        let lmt = try #require(config.listenGroups[0].defaultServer.locations.match("/lmt")).location
        #expect(lmt.limitExcept != nil)
    }

    @Test func includeErrors() throws {
        let missing = try TestPrefix(files: ["nginx.conf": http("include missing.conf;")])
        #expect(
            missing.error()?.description
                == "open() \"\(missing.conf)missing.conf\" failed (2: No such file or directory) in "
                + "\(missing.conf)nginx.conf:3")
        // An error inside an included file names that file and its line.
        #expect(
            try loadError(http("include inc.conf;"), extra: ["inc.conf": "\n\nfoo;"])
                == "unknown directive \"foo\" in inc.conf:3")
        // An included file is parsed in the context of the include.
        #expect(
            try loadError(http("server { include inc.conf; }"), extra: ["inc.conf": "http {}"])
                == "\"http\" directive is not allowed here in inc.conf:1")
        #expect(
            try loadError(http("include inc.conf;"), extra: ["inc.conf": "}"]) == "unexpected \"}\" in inc.conf:1")
    }

    @Test func globalDirectives() throws {
        let config = try load("events {}\n", global: "worker_processes 3; daemon off;")
        #expect(config.main.workerProcesses == 3)
        #expect(config.main.daemon == false)
        #expect(try loadError("events {}\n", global: "foo;") == "unknown directive \"foo\" in command line")
        #expect(
            try loadError("events {}\n", global: "daemon off")
                == "unexpected end of parameter, expecting \";\" in command line")
        #expect(
            try loadError("events {}\n", global: "events {}")
                == "block directives are not supported in -g option in command line")
        #expect(
            try loadError("events {}\n", global: "daemon x;")
                == "invalid value \"x\" in \"daemon\" directive, it must be \"on\" or \"off\" in command line")
        // -g is read first: the file's copy is the duplicate.
        #expect(
            try loadError("events {}\nworker_processes 2;\n", global: "worker_processes 1;")
                == "\"worker_processes\" directive is duplicate in nginx.conf:2")
    }

    @Test func missingMainFileAndEvents() throws {
        let prefix = try TestPrefix()
        #expect(
            prefix.error()?.description
                == "open() \"\(prefix.conf)nginx.conf\" failed (2: No such file or directory)")
        #expect(try loadError("http {}") == "no \"events\" section in configuration")
    }

    @Test func firstErrorInFileOrder() throws {
        // A value error before a syntax error is reported first, as nginx does.
        #expect(
            try loadError("events {}\ndaemon x;\nhttp {\n")
                == "invalid value \"x\" in \"daemon\" directive, it must be \"on\" or \"off\" in nginx.conf:2")
        #expect(try loadError("events {}\nhttp {\n") == "unexpected end of file, expecting \"}\" in nginx.conf:3")
    }
}
