// The loader sees the machine only through its ConfigEnvironment: files, include
// globs, the host name, upstream names, CPUs and the user all come from the one it is
// given (here, one that answers from memory), with nginx's wording for failures.

import Testing

@testable import SwiftginxConfig

/// A machine in memory: files by absolute path, names with their addresses.
struct MemoryEnvironment: ConfigEnvironment {
    var files: [String: String] = [:]
    var names: [String: [String]] = [:]
    var host = "box.example"
    var onlineCPUs = 6
    var isSuperuser = false
    var users: [String: UInt32] = ["nobody": 65534, "www-data": 33]
    var groups: [String: UInt32] = ["nogroup": 65534, "www-data": 33]

    func readFile(_ path: String) -> Result<[UInt8], ConfigSystemError> {
        guard let text = files[path] else {
            return .failure(ConfigSystemError(call: "open", code: 2, reason: "No such file or directory"))
        }
        return .success(Array(text.utf8))
    }

    /// Only "dir/*.ext" patterns, which is what these tests use.
    func glob(_ pattern: String) -> Result<[String], ConfigSystemError> {
        guard let star = pattern.lastIndex(of: "*") else { return .success(files[pattern] == nil ? [] : [pattern]) }
        let head = pattern[..<star]
        let tail = pattern[pattern.index(after: star)...]
        return .success(
            files.keys.filter { $0.hasPrefix(head) && $0.hasSuffix(tail) && !$0.dropFirst(head.count).contains("/") }
                .sorted())
    }

    func hostname() -> String { host }

    func userID(_ name: String) -> UInt32? { users[name] }

    func groupID(_ name: String) -> UInt32? { groups[name] }

    func resolve(_ host: String) -> [String]? { host.first?.isNumber == true ? [host] : names[host] }
}

@Suite struct ConfigEnvironmentTests {
    let conf = "/srv/conf/nginx.conf"

    func load(_ environment: MemoryEnvironment) throws(ConfigError) -> RuntimeConfig {
        try ConfigLoader.load(path: conf, prefix: "/srv/", environment: environment)
    }

    @Test func filesAndIncludesComeFromTheEnvironment() throws {
        var env = MemoryEnvironment()
        env.files[conf] = "events {}\nhttp { include sites/*.conf; }\n"
        env.files["/srv/conf/sites/b.conf"] = "server { listen 8002; }"
        env.files["/srv/conf/sites/a.conf"] = "server { listen 8001; }"
        env.files["/srv/conf/sites/c.txt"] = "server { listen 8003; }"
        let config = try load(env)
        #expect(config.listenGroups.map(\.address.port) == [8001, 8002])
        #expect(config.sources.map(\.path) == [conf, "/srv/conf/sites/a.conf", "/srv/conf/sites/b.conf"])
    }

    @Test func failuresKeepNginxWording() throws {
        var env = MemoryEnvironment()
        #expect(throws: ConfigError("open() \"\(conf)\" failed (2: No such file or directory)")) { try load(env) }
        env.files[conf] = "events {}\nhttp {\ninclude missing.conf;\n}\n"
        #expect(
            throws: ConfigError(
                "open() \"/srv/conf/missing.conf\" failed (2: No such file or directory)", file: conf, line: 3)
        ) { try load(env) }
    }

    @Test func machineFactsComeFromTheEnvironment() throws {
        var env = MemoryEnvironment()
        env.files[conf] = "worker_processes auto;\nevents {}\nhttp { server { server_name $hostname; } }\n"
        var config = try load(env)
        #expect(config.main.workerProcesses == 6)
        #expect(config.listenGroups.map(\.address) == [ListenAddress(host: "0.0.0.0", port: 8000)])
        #expect(config.listenGroups.first?.defaultServer.serverNames == ["box.example"])
        env.isSuperuser = true
        env.onlineCPUs = 3
        config = try load(env)
        #expect(config.main.workerProcesses == 3)
        #expect(config.listenGroups.map(\.address) == [ListenAddress(host: "0.0.0.0", port: 80)])
    }

    @Test func userNamesTheServingAccountOnlyForRoot() throws {
        var env = MemoryEnvironment()
        env.files[conf] = "user www-data;\nevents {}\nhttp {}\n"
        var config = try load(env)
        #expect(config.main.user == nil)
        #expect(
            config.warnings == [
                "the \"user\" directive makes sense only if the master process runs with super-user privileges, "
                    + "ignored in \(conf):1"
            ])
        env.isSuperuser = true
        config = try load(env)
        #expect(config.main.user == ServingAccount(name: "www-data", uid: 33, gid: 33))
        // nginx's default account, in nogroup where there is no group "nobody"
        env.files[conf] = "events {}\nhttp {}\n"
        #expect(try load(env).main.user == ServingAccount(name: "nobody", uid: 65534, gid: 65534))
        env.files[conf] = "user www-data nobody;\nevents {}\nhttp {}\n"
        #expect(throws: ConfigError("getgrnam(\"nobody\") failed", file: conf, line: 1)) { try load(env) }
        env.files[conf] = "user ghost;\nevents {}\nhttp {}\n"
        #expect(throws: ConfigError("getpwnam(\"ghost\") failed", file: conf, line: 1)) { try load(env) }
    }

    @Test func loadModuleIsAcceptedWithAWarningNamingTheModule() throws {
        var env = MemoryEnvironment()
        env.files[conf] = """
            load_module modules/ngx_http_echo_module.so;
            load_module /usr/lib/nginx/modules/ngx_http_realip_module.so;
            events {}
            http {}

            """
        let config = try load(env)
        #expect(
            config.warnings == [
                "module \"ngx_http_echo_module\" of \"load_module\" is not available in swiftginx (it cannot load "
                    + "nginx modules), its directives are unknown in \(conf):1",
                "module \"ngx_http_realip_module\" of \"load_module\" is built into swiftginx, the line is ignored "
                    + "in \(conf):2",
            ])
        env.files[conf] = "load_module ngx_http_echo_module.so;\nevents {}\nhttp { server { echo hi; } }\n"
        #expect(throws: ConfigError("unknown directive \"echo\"", file: conf, line: 3)) { try load(env) }
    }

    @Test func upstreamNamesResolveThroughTheEnvironment() throws {
        var env = MemoryEnvironment()
        env.names["app.internal"] = ["10.0.0.1", "10.0.0.2", "10.0.0.1"]
        env.files[conf] = """
            events {}
            http {
            upstream app { server app.internal:8000; }
            server { listen 8080; location / { proxy_pass http://app; } }
            }

            """
        let group = try #require(try load(env).upstreamsByName["app"])
        #expect(
            group.servers.map(\.address) == [
                .inet(host: "10.0.0.1", port: 8000), .inet(host: "10.0.0.2", port: 8000),
            ])
        env.files[conf] = "events {}\nhttp {\nserver { location / { proxy_pass http://nowhere:81; } }\n}\n"
        #expect(throws: ConfigError("host not found in upstream \"nowhere:81\"", file: conf, line: 3)) {
            try load(env)
        }
    }
}
