// The Python echo upstream (echo_backend.py next to this file) started on a free
// loopback port, and a reference nginx started on a prefix: both stopped by pid,
// every wait bounded.

import Foundation
import Glibc
import SwiftginxPosix

final class EchoBackend {
    let port: Int
    let name: String
    private(set) var pid: Int32 = 0

    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
        "echo_backend.py"
    ).path

    init(name: String = "b1", port: Int? = nil, address: String = "127.0.0.1") throws {
        self.name = name
        let port = port ?? freePort()
        self.port = port
        pid = try ProcessControl.spawn(
            "/usr/bin/python3", ["python3", Self.script, String(port), name, address], stdout: -1, stderr: -1)
        for _ in 0..<250 {
            if canConnect(port: port, host: address) { return }
            usleep(20_000)
        }
        stop()
        throw TestFailure("echo backend did not start on port \(port)")
    }

    /// A new backend on the port of one that was stopped.
    static func restart(on port: Int, name: String = "b1") throws -> EchoBackend {
        try EchoBackend(name: name, port: port)
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        _ = ProcessControl.wait(pid, timeout: 5000)
        pid = 0
    }

    deinit { stop() }
}

/// nginx-light running a configuration in a TestServer's prefix (the reference), next to swiftginx.
final class PrefixNginx {
    static let binary = "/usr/sbin/nginx"
    let port: Int
    private(set) var pid: Int32 = 0

    /// `config` uses PORT (replaced by this nginx's port) and the usual temp paths under temp/.
    init(prefix: String, config: String) throws {
        port = freePort()
        try FileManager.default.createDirectory(atPath: prefix + "temp", withIntermediateDirectories: true)
        chmod(prefix, 0o755)
        let text = config.replacingOccurrences(of: "PORT", with: "\(port)")
        try text.write(toFile: prefix + "conf/nginx.conf", atomically: true, encoding: .utf8)
        let err = open(prefix + "nginx-stderr.txt", O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        pid = try ProcessControl.spawn(
            Self.binary, ["nginx", "-p", prefix, "-c", "conf/nginx.conf"], stdout: -1, stderr: err)
        Glibc.close(err)
        for _ in 0..<250 {
            if canConnect(port: port) { return }
            usleep(20_000)
        }
        stop()
        let log = (try? String(contentsOfFile: prefix + "nginx-stderr.txt", encoding: .utf8)) ?? ""
        throw TestFailure("nginx did not start: \(log)")
    }

    func stop() {
        guard pid > 0 else { return }
        kill(pid, SIGTERM)
        if ProcessControl.wait(pid, timeout: 5000) == nil {
            kill(pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 2000)
        }
        pid = 0
    }

    deinit { stop() }

    /// The main-context lines nginx needs to run as root from a test prefix.
    static let preamble = """
        user root;
        daemon off;
        master_process off;
        worker_processes 1;
        error_log logs/nginx-error.log info;
        pid logs/nginx.pid;
        events { worker_connections 64; }
        """

    /// Temp paths inside the prefix (http context).
    static let tempPaths = """
        client_body_temp_path temp/body;
        proxy_temp_path temp/proxy;
        fastcgi_temp_path temp/fastcgi;
        uwsgi_temp_path temp/uwsgi;
        scgi_temp_path temp/scgi;
        """
}

extension PrefixNginx {
    /// nginx serving `servers` (server blocks using PORT) with access logs off, in a prefix
    /// of its own (`prefix.read("logs/nginx-error.log")` has its error log).
    static func serving(_ servers: String) throws -> (prefix: TestServer, nginx: PrefixNginx) {
        let prefix = try TestServer(config: nil)
        let nginx = try PrefixNginx(
            prefix: prefix.prefix,
            config: """
                \(preamble)
                http {
                    access_log off;
                    \(tempPaths)
                    \(servers)
                }
                """)
        return (prefix, nginx)
    }
}
