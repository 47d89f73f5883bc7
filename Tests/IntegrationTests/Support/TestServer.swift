// Starts the built swiftginx binary in a temporary prefix (conf/, html/, logs/)
// on a free loopback port, waits (bounded) for its pid file, and stops it by pid.

import Foundation
import Glibc
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

/// Runs the binary with arguments to completion (bounded by `timeout` seconds).
func runBinary(_ args: [String], cwd: String? = nil, timeout: Double = 20) throws -> CommandResult {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: binaryPath)
    p.arguments = args
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let out = Pipe()
    let err = Pipe()
    p.standardOutput = out
    p.standardError = err
    try p.run()
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(10_000) }
    if p.isRunning {
        kill(p.processIdentifier, SIGKILL)
        p.waitUntilExit()
    }
    let o = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let e = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return CommandResult(status: p.terminationStatus, stdout: o, stderr: e)
}

final class TestServer {
    let prefix: String
    let port: Int
    var process: Process?
    var pid: Int32 = 0
    let stderrPipe = Pipe()

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
            at: repositoryRoot.appendingPathComponent("conf/mime.types"), to: dir.appendingPathComponent("conf/mime.types"))
        try "<html>index</html>\n".write(to: dir.appendingPathComponent("html/index.html"), atomically: true, encoding: .utf8)
        try writeConfig(config ?? TestServer.defaultConfig)
        for (path, content) in files {
            let url = dir.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
    }

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

    /// Starts the server and waits (≤ 10 s) until it accepts connections.
    func start(extraArgs: [String] = []) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: binaryPath)
        p.arguments = ["-p", prefix, "-c", "conf/swiftginx.conf"] + extraArgs
        p.standardError = stderrPipe
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        process = p
        pid = p.processIdentifier
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if !p.isRunning {
                let err = String(decoding: stderrPipe.fileHandleForReading.availableData, as: UTF8.self)
                throw TestFailure("server exited at startup: \(err)")
            }
            if FileManager.default.fileExists(atPath: prefix + "logs/swiftginx.pid"), canConnect(port: port) { return }
            usleep(20_000)
        }
        stop()
        throw TestFailure("server did not start within 10 s")
    }

    func signal(_ sig: Int32) { if pid > 0 { kill(pid, sig) } }

    /// Waits (bounded) for the process to exit; returns its status or nil on timeout.
    @discardableResult
    func waitForExit(timeout: Double = 10) -> Int32? {
        guard let p = process else { return nil }
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning && Date() < deadline { usleep(10_000) }
        return p.isRunning ? nil : p.terminationStatus
    }

    /// Stops by pid: TERM, then KILL after 5 s. Removes the prefix.
    func stop() {
        guard let p = process else { return }
        if p.isRunning {
            kill(pid, SIGTERM)
            if waitForExit(timeout: 5) == nil {
                kill(pid, SIGKILL)
                p.waitUntilExit()
            }
        }
        process = nil
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

func canConnect(port: Int) -> Bool {
    guard let c = try? RawClient(port: port) else { return false }
    c.close()
    return true
}
