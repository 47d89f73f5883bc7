// Compiled values: nginx's defaults, inheritance http → server → location → nested
// location (arrays replaced only when a level has its own), paths against the prefix,
// and the per-directive values.

import Foundation
import SwiftginxRouting
import Testing

@testable import SwiftginxConfig

@Suite struct ConfigCompilerTests {
    func settings(_ config: RuntimeConfig, _ path: String, group: Int = 0) throws -> LocationSettings {
        try #require(config.listenGroups[group].defaultServer.locations.match(path)).location.settings
    }

    @Test func defaults() throws {
        let prefix = try TestPrefix(files: ["nginx.conf": http("server { listen 8080; location / {} }")])
        let config = try prefix.load()
        #expect(config.main.workerProcesses == 1)
        #expect(config.main.daemon)
        #expect(config.main.masterProcess)
        #expect(config.main.workerConnections == 512)
        #expect(config.main.pidPath == prefix.root + "logs/swiftginx.pid")
        #expect(config.main.errorLogs == [ErrorLogTarget(path: prefix.root + "logs/error.log", level: .error)])
        #expect(config.main.prefix == prefix.root)
        let s = try settings(config, "/")
        #expect(s.root.source == prefix.root + "html")
        #expect(s.alias == nil)
        #expect(s.index.map(\.source) == ["index.html"])
        #expect(s.types.byExtension == ["html": "text/html", "gif": "image/gif", "jpg": "image/jpeg"])
        #expect(s.defaultType == "text/plain")
        #expect(s.accessLogs.map(\.path) == [prefix.root + "logs/access.log"])
        #expect(s.accessLogs.first?.format.name == "combined")
        #expect(
            s.accessLogs.first?.format.value.source
                == "$remote_addr - $remote_user [$time_local] \"$request\" $status $body_bytes_sent "
                + "\"$http_referer\" \"$http_user_agent\"")
        #expect(s.keepaliveTimeout == 75_000)
        #expect(s.keepaliveHeaderTimeout == nil)
        #expect(s.keepaliveRequests == 1000)
        #expect(s.clientMaxBodySize == 1 << 20)
        #expect(s.clientBodyBufferSize == 2 * Int(sysconf(Int32(_SC_PAGESIZE))))
        #expect(s.sendfile == false)
        #expect(s.tcpNodelay)
        #expect(s.expires == .off)
        #expect(s.etag)
        #expect(s.serverTokens == .on)
        #expect(s.maxRanges == nil)
        #expect(s.openFileCache == OpenFileCacheSettings())
        #expect(s.returnAction == nil)
        let server = config.listenGroups[0].defaultServer
        #expect(server.serverNames == [""])
        #expect(server.settings.clientHeaderBufferSize == 1024)
        #expect(server.settings.largeClientHeaderBuffers == (4, 8192))
        #expect(server.settings.mergeSlashes)
        #expect(server.settings.underscoresInHeaders == false)
    }

    @Test func inheritance() throws {
        let config = try load(
            http(
                """
                root /srv/http; add_header X-A a; error_page 404 /404.html; index a.html;
                server {
                    listen 8080;
                    add_header X-S s always;
                    location / {
                        sendfile on;
                        location /nested/ { expires 1h; }
                    }
                    location /own/ { add_header X-L l; error_page 500 /500.html; access_log off; index b.html c.html; }
                    location /alias/ { alias /data/; location /alias/deeper/ {} }
                    location /root/ { alias /data/; location /root/deeper/ { root /other/; } }
                }
                sendfile off; tcp_nopush on;
                """))
        let root = try settings(config, "/x")
        #expect(root.root.source == "/srv/http")
        #expect(root.addHeaders.map(\.name) == ["X-S"])  // the server has its own: the http one is not inherited
        #expect(root.addHeaders.first?.always == true)
        #expect(root.errorPages[404]?.uri.source == "/404.html")
        #expect(root.index.map(\.source) == ["a.html"])
        #expect(root.sendfile)
        #expect(root.tcpNopush)  // written after the server block, still inherited
        let nested = try settings(config, "/nested/x")
        #expect(nested.sendfile)
        #expect(nested.expires == .access(3600))
        #expect(nested.addHeaders.map(\.name) == ["X-S"])
        let own = try settings(config, "/own/x")
        #expect(own.addHeaders.map(\.name) == ["X-L"])
        #expect(own.errorPages.keys.sorted() == [500])
        #expect(own.accessLogs.isEmpty)
        #expect(own.index.map(\.source) == ["b.html", "c.html"])
        let server = config.listenGroups[0].defaultServer
        #expect(server.defaultSettings.addHeaders.map(\.name) == ["X-S"])
        #expect(server.defaultSettings.tcpNopush)
        #expect(server.defaultSettings.sendfile == false)
        #expect(try settings(config, "/alias/x").alias?.source == "/data/")
        #expect(try settings(config, "/alias/deeper/x").alias?.source == "/data/")
        let deeper = try settings(config, "/root/deeper/x")
        #expect(deeper.alias == nil)
        #expect(deeper.root.source == "/other")  // trailing slash removed, as nginx
    }

    @Test func pathsResolveAgainstThePrefix() throws {
        let prefix = try TestPrefix(files: [
            "nginx.conf": """
            pid run/x.pid; error_log logs/e.log warn; error_log stderr;
            events {}
            http {
                access_log logs/a.log combined buffer=32k flush=5s;
                server { listen 8080; root www/; location /v { root $host/x; } location /w { root /abs/$host; } }
            }
            """
        ])
        let config = try prefix.load()
        #expect(config.main.pidPath == prefix.root + "run/x.pid")
        #expect(
            config.main.errorLogs == [
                ErrorLogTarget(path: prefix.root + "logs/e.log", level: .warn),
                ErrorLogTarget(path: "stderr", level: .error),
            ])
        let s = try #require(config.listenGroups[0].defaultServer.locations.match("/v")).location.settings
        #expect(s.root.source == "$host/x")
        #expect(s.accessLogs.first?.path == prefix.root + "logs/a.log")
        #expect(s.accessLogs.first?.bufferSize == 32768)
        #expect(s.accessLogs.first?.flushInterval == 5000)
        let w = try #require(config.listenGroups[0].defaultServer.locations.match("/w")).location.settings
        #expect(w.root.segments == [.literal(Array("/abs/".utf8)), .variable(.host)])
    }

    @Test func returnsAndErrorPages() throws {
        let config = try load(
            http(
                """
                server {
                    listen 8080;
                    return 301 https://$host$request_uri;
                    location / { return 200 "ok\\n"; return 404; location /n/ {} }
                    location /r { return http://example.com/; }
                    location /s { return 444; }
                    error_page 404 =200 /empty.gif;
                    error_page 500 502 = @fallback;
                    error_page 403 =301 http://example.com/forbidden;
                    location @fallback {}
                }
                """))
        let server = config.listenGroups[0].defaultServer
        #expect(server.serverReturn?.code == 301)
        #expect(server.serverReturn?.text?.segments.count == 3)
        #expect(server.defaultSettings.returnAction == nil)
        #expect(server.defaultSettings.errorPages[404]?.overrideStatus == 200)
        let root = try settings(config, "/")
        #expect(root.returnAction?.code == 200)
        #expect(root.returnAction?.text?.staticBytes == Array("ok\n".utf8))
        #expect(try settings(config, "/n/x").returnAction == nil)  // not inherited (rewrite module)
        #expect(try settings(config, "/r").returnAction?.code == 302)
        #expect(try settings(config, "/s").returnAction?.text == nil)
        #expect(root.errorPages[404]?.overrideStatus == 200)
        #expect(root.errorPages[502]?.useTargetStatus == true)
        #expect(root.errorPages[502]?.uri.source == "@fallback")
        #expect(root.errorPages[403]?.overrideStatus == 301)
        #expect(server.locations.named("fallback") != nil)
    }

    @Test func expiresForms() throws {
        let table: [(String, Expires)] = [
            ("off", .off), ("epoch", .epoch), ("max", .max), ("1h", .access(3600)), ("+30m", .access(1800)),
            ("-1", .access(-1)), ("modified 1d", .modified(86400)), ("@15h30m", .daily(55800)),
        ]
        for (text, expected) in table {
            let config = try load(http("server { listen 8080; location / { expires \(text); } }"))
            #expect(try settings(config, "/").expires == expected, "\(text)")
        }
    }

    @Test func directiveValues() throws {
        let config = try load(
            """
            worker_processes auto; worker_rlimit_nofile 4096; master_process off;
            events { worker_connections 4096; multi_accept on; }
            http {
                server_tokens off; etag off; tcp_nodelay off; keepalive_requests 50; client_max_body_size 0;
                lingering_close always; lingering_timeout 2s; if_modified_since before; max_ranges 1;
                chunked_transfer_encoding off; absolute_redirect off; server_name_in_redirect on;
                port_in_redirect off; msie_padding off; log_not_found off; default_type text/html;
                open_file_cache max=1000 inactive=20s; open_file_cache_valid 30s; open_file_cache_min_uses 2;
                open_file_cache_errors on; large_client_header_buffers 8 16k; client_header_buffer_size 2k;
                ignore_invalid_headers off; underscores_in_headers on; merge_slashes off;
                types { text/x-custom CUS cus2; }
                server { listen 8080; location / { internal; open_file_cache off; } location /b {} }
            }
            """)
        #expect(config.main.workerProcesses == machine.onlineCPUs)
        #expect(config.main.workerRlimitNofile == 4096)
        #expect(config.main.masterProcess == false)
        #expect(config.main.workerConnections == 4096)
        #expect(config.main.multiAccept)
        let s = try settings(config, "/b")
        #expect(s.serverTokens == .off)
        #expect(s.etag == false)
        #expect(s.tcpNodelay == false)
        #expect(s.keepaliveRequests == 50)
        #expect(s.clientMaxBodySize == 0)
        #expect(s.lingeringClose == .always)
        #expect(s.lingeringTimeout == 2000)
        #expect(s.ifModifiedSince == .before)
        #expect(s.maxRanges == 1)
        #expect(s.chunkedTransferEncoding == false)
        #expect(s.absoluteRedirect == false)
        #expect(s.serverNameInRedirect)
        #expect(s.portInRedirect == false)
        #expect(s.msiePadding == false)
        #expect(s.logNotFound == false)
        #expect(s.defaultType == "text/html")
        #expect(s.types.byExtension == ["cus": "text/x-custom", "cus2": "text/x-custom"])
        #expect(s.openFileCache.max == 1000)
        #expect(s.openFileCache.inactive == 20)
        #expect(s.openFileCache.valid == 30)
        #expect(s.openFileCache.minUses == 2)
        #expect(s.openFileCache.errors)
        #expect(s.isInternal == false)
        let root = try settings(config, "/")
        #expect(root.isInternal)
        #expect(root.openFileCache.max == 0)
        #expect(root.openFileCache.valid == 30)
        let server = config.listenGroups[0].defaultServer.settings
        #expect(server.largeClientHeaderBuffers == (8, 16384))
        #expect(server.clientHeaderBufferSize == 2048)
        #expect(server.ignoreInvalidHeaders == false)
        #expect(server.underscoresInHeaders)
        #expect(server.mergeSlashes == false)
    }

    @Test func namedCapturesAreVariables() throws {
        let config = try load(
            http(
                """
                server { listen 8080; return 200 $year; location ~ ^/(?<year>\\d+)/ { return 200 $year-$1; } }
                """))
        let server = config.listenGroups[0].defaultServer
        #expect(server.serverReturn?.text?.segments == [.variable(.namedCapture("year"))])
        let m = try #require(server.locations.match("/2024/x"))
        #expect(m.captures == [0..<6, 1..<5])
        #expect(m.regex?.namedGroups == ["year": 1])
    }

    @Test func logFormats() throws {
        let config = try load(
            http(
                """
                log_format json escape=json '{"ip":"$remote_addr",' '"ua":"$http_user_agent"}';
                server { listen 8080; access_log logs/j.log json; access_log logs/c.log; location / {} }
                """))
        let logs = try settings(config, "/").accessLogs
        #expect(logs.map(\.format.name) == ["json", "combined"])
        #expect(logs[0].format.escape == .json)
        #expect(config.accessLogPaths.map { ($0 as NSString).lastPathComponent } == ["j.log", "c.log"])
        #expect(logs[0].format.value.source == "{\"ip\":\"$remote_addr\",\"ua\":\"$http_user_agent\"}")
    }

    @Test func warnings() throws {
        let prefix = try TestPrefix(files: [
            "nginx.conf": http(
                """
                types { text/html html; text/plain html; }
                server { listen 8080; server_name a/b; index /abs.html last.html; }
                """)
        ])
        let config = try prefix.load()
        let file = prefix.conf + "nginx.conf"
        #expect(
            config.warnings == [
                "duplicate extension \"html\", content type: \"text/plain\", previous content type: \"text/html\" in \(file):3",
                "server name \"a/b\" has suspicious symbols in \(file):4",
                "only the last index in \"index\" directive should be absolute in \(file):4",
            ])
    }

    @Test func unknownVariableNamesTheDirective() throws {
        // nginx prints this one without a place; swiftginx adds it.
        #expect(try loadError(http("server { add_header X $foo; }")) == "unknown \"foo\" variable in nginx.conf:3")
        #expect(try loadError(http("log_format a $foo;")) == "unknown \"foo\" variable in nginx.conf:3")
    }

    @Test func stubStatusIsAContentHandlerNotInherited() throws {
        // Both of nginx's forms (the argument of the old one is ignored, as nginx does);
        // at server level it serves the URIs no location matches.
        let prefix = try TestPrefix(
            files: [
                "nginx.conf": http(
                    """
                    server {
                        listen 8080;
                        stub_status;
                        location / { }
                        location = /s { stub_status on; }
                        location = /t { stub_status; stub_status; proxy_set_header X y; }
                    }
                    """)
            ])
        let config = try prefix.load()
        let server = config.listenGroups[0].defaultServer
        #expect(server.serverLevelLocation.steps.last == .stubStatus)
        #expect(try settings(config, "/").stubStatus == false)
        #expect(server.locations.match("/")?.location.steps.last == .staticFiles)
        #expect(server.locations.match("/s")?.location.steps.last == .stubStatus)
        #expect(server.locations.match("/t")?.location.steps.last == .stubStatus)
        #expect(PhaseStep.stubStatus.phase == .content)
        #expect(Variable(name: "connections_waiting") == .connectionsWaiting)
        #expect(
            try loadError(http("server { location / { stub_status a b; } }"))
                == "invalid number of arguments in \"stub_status\" directive in nginx.conf:3")
        #expect(try loadError(http("stub_status;")) == "\"stub_status\" directive is not allowed here in nginx.conf:3")
    }
}

@Suite struct ListenGroupOnlyServerTests {
    func group(_ servers: String) throws -> ListenGroup {
        let prefix = try TestPrefix(files: ["nginx.conf": http(servers)])
        return try prefix.load().listenGroups[0]
    }

    // One server on an address answers every Host without a name lookup; a second
    // server or a regex server_name (whose captures become variables) needs the lookup.
    @Test func oneServerWithoutRegexNamesIsSelectedWithoutALookup() throws {
        let one = try group("server { listen 8080; server_name a.test; }")
        #expect(one.onlyServer === one.defaultServer)
        let two = try group(
            "server { listen 8080; server_name a.test; } server { listen 8080; server_name b.test; }")
        #expect(two.onlyServer == nil)
        let regex = try group("server { listen 8080; server_name ~^(?<sub>.+)\\.test$; }")
        #expect(regex.onlyServer == nil)
    }
}
