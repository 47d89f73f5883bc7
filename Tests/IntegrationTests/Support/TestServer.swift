// Starts the built swiftginx binary in a temporary prefix (conf/, html/, logs/)
// on a free loopback port, waits (bounded) for its pid file, and stops it by pid.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

/// The repository root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

/// The binary under test: $SWIFTGINX_BINARY or .build/debug/swiftginx.
let binaryPath: String = {
    if let p = ProcessInfo.processInfo.environment["SWIFTGINX_BINARY"] { return p }
    return repositoryRoot.appendingPathComponent(".build/debug/swiftginx").path
}()

/// A port nobody listens on right now (bound then released).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, 16) } }
    var len = socklen_t(16)
    _ = withUnsafeMutablePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
    }
    return Int(UInt16(bigEndian: addr.sin_port))
}

struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the binary with arguments to completion (bounded by `timeout` seconds); see
/// `runCommand` (output goes to files, no descriptor of ours is inherited).
func runBinary(_ args: [String], timeout: Double = 20) throws -> CommandResult {
    try runCommand([binaryPath] + args, timeout: timeout)
}

final class TestServer {
    let prefix: String
    let port: Int
    var pid: Int32 = 0
    var exitStatus: Int32? = nil

    /// Creates the prefix. `config` may use `PORT` and `PREFIX` placeholders; when it
    /// is nil a default single-server config serving html/ is used.
    init(config: String? = nil, files: [String: String] = [:]) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("swiftginx-test-\(UUID().uuidString)")
        prefix = dir.path + "/"
        port = freePort()
        let fm = FileManager.default
        for sub in ["conf", "html", "logs"] {
            try fm.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        try fm.copyItem(
            at: repositoryRoot.appendingPathComponent("conf/mime.types"),
            to: dir.appendingPathComponent("conf/mime.types"))
        try "<html>index</html>\n".write(
            to: dir.appendingPathComponent("html/index.html"), atomically: true, encoding: .utf8)
        try writeConfig(config ?? TestServer.defaultConfig)
        for (path, content) in files {
            let url = dir.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
    }

    /// The main-context lines most test configurations share.
    static let preamble = """
        daemon off;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events {}
        """

    static let defaultConfig = """
        daemon off;
        worker_processes 1;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 64; }
        http {
            include mime.types;
            default_type application/octet-stream;
            access_log logs/access.log;
            server {
                listen 127.0.0.1:PORT;
                server_name localhost;
                location / { root html; index index.html; }
            }
        }
        """

    func writeConfig(_ text: String) throws {
        let t = text.replacingOccurrences(of: "PORT", with: "\(port)").replacingOccurrences(of: "PREFIX", with: prefix)
        try t.write(toFile: prefix + "conf/swiftginx.conf", atomically: true, encoding: .utf8)
    }

    func write(_ path: String, _ content: String) throws {
        let url = URL(fileURLWithPath: prefix + path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: url, atomically: true, encoding: .utf8)
    }

    func read(_ path: String) -> String {
        (try? String(contentsOfFile: prefix + path, encoding: .utf8)) ?? ""
    }

    /// Starts the server and waits (≤ 10 s) until it accepts connections. As root, the
    /// server still serves as root (`-g "user root;"`, unless the test passes its own
    /// `-g`): the backends' unix sockets and the test files are root's. It runs under
    /// its privileged supervisor all the same, so every test goes through it.
    func start(extraArgs: [String] = []) throws {
        let errFD = open(prefix + "stderr.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(errFD) }
        var args = extraArgs
        if getuid() == 0 && !args.contains("-g") && !read("conf/swiftginx.conf").contains("user ") {
            args += ["-g", "user root;"]
        }
        pid = try ProcessControl.spawn(
            binaryPath, [binaryPath, "-p", prefix, "-c", "conf/swiftginx.conf"] + args, stdout: -1, stderr: errFD)
        exitStatus = nil
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let status = ProcessControl.wait(pid, timeout: 0) {
                exitStatus = status
                throw TestFailure("server exited at startup (\(status)): \(read("stderr.txt"))")
            }
            if FileManager.default.fileExists(atPath: prefix + "logs/swiftginx.pid"), canConnect(port: port) { return }
            usleep(20_000)
        }
        stop()
        throw TestFailure("server did not start within 10 s")
    }

    func signal(_ sig: Int32) { if pid > 0 && exitStatus == nil { kill(pid, sig) } }

    /// Waits (bounded) for the process to exit; returns its status or nil on timeout.
    @discardableResult
    func waitForExit(timeout: Double = 10) -> Int32? {
        guard pid > 0 else { return nil }
        if exitStatus == nil { exitStatus = ProcessControl.wait(pid, timeout: Int(timeout * 1000)) }
        return exitStatus
    }

    /// Stops by pid: TERM, then KILL after 5 s.
    func stop() {
        guard pid > 0, exitStatus == nil else { return }
        kill(pid, SIGTERM)
        if waitForExit(timeout: 5) == nil {
            kill(pid, SIGKILL)
            exitStatus = ProcessControl.wait(pid, timeout: 5000)
        }
    }

    func cleanup() {
        stop()
        try? FileManager.default.removeItem(atPath: prefix)
    }

    deinit { cleanup() }

    /// Waits (bounded) until `path` contains `text`.
    func waitForFile(_ path: String, containing text: String, timeout: Double = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if read(path).contains(text) { return true }
            usleep(20_000)
        }
        return false
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

func canConnect(port: Int, host: String = "127.0.0.1") -> Bool {
    guard let c = try? RawClient(port: port, host: host) else { return false }
    c.close()
    return true
}
