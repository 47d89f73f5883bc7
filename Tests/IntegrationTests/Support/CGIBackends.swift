// Real FastCGI and SCGI servers for the fastcgi_pass and scgi_pass tests: Debian's
// php-fpm serving a few PHP scripts from a temporary document root, and flup's SCGI
// server (from the e2e virtualenv, scripts/setup-backends) serving the example Django
// project, each over TCP or a unix socket. Each is started with ProcessControl.spawn
// through `setsid` so its workers share its process group, and stopped by that group's
// id (SIGTERM, a bounded wait, SIGKILL). Every wait is bounded.

import Foundation
import Glibc
import SwiftginxPosix
import Testing

final class CGIBackend {
    enum Kind { case phpFPM, flupSCGI }

    let kind: Kind
    let directory: String
    /// "127.0.0.1:PORT" or "unix:/path.sock", as fastcgi_pass and scgi_pass take it.
    let address: String
    private(set) var pid: Int32 = 0

    /// php-fpm's document root (the PHP scripts).
    var documentRoot: String { directory + "/php" }

    var log: String {
        var text = (try? String(contentsOfFile: directory + "/backend.log", encoding: .utf8)) ?? ""
        text += (try? String(contentsOfFile: directory + "/fpm.log", encoding: .utf8)) ?? ""
        return text
    }

    private init(kind: Kind, directory: String, address: String) {
        self.kind = kind
        self.directory = directory
        self.address = address
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The PHP scripts the FastCGI tests ask for.
    static let phpScripts: [String: String] = [
        "info.php": """
        <?php
        $body = file_get_contents('php://input');
        header('Content-Type: application/json');
        echo json_encode([
            'script_name' => $_SERVER['SCRIPT_NAME'] ?? null,
            'script_filename' => $_SERVER['SCRIPT_FILENAME'] ?? null,
            'path_info' => $_SERVER['PATH_INFO'] ?? null,
            'query' => $_SERVER['QUERY_STRING'] ?? null,
            'method' => $_SERVER['REQUEST_METHOD'] ?? null,
            'request_uri' => $_SERVER['REQUEST_URI'] ?? null,
            'content_length' => $_SERVER['CONTENT_LENGTH'] ?? null,
            'remote_addr' => $_SERVER['REMOTE_ADDR'] ?? null,
            'https' => $_SERVER['HTTPS'] ?? null,
            'x_custom' => $_SERVER['HTTP_X_CUSTOM'] ?? null,
            'gateway' => $_SERVER['GATEWAY_INTERFACE'] ?? null,
            'length' => strlen($body),
            'sha256' => hash('sha256', $body),
        ]);
        """,
        "index.php": "<?php echo 'php index';\n",
        "teapot.php": "<?php http_response_code(418); header('X-App: php'); echo 'short and stout';\n",
        "status.php": "<?php header('Status: 503 Try Later'); echo 'later';\n",
        "redirect.php": "<?php header('Location: /info.php'); setcookie('a', '1');\n",
        "big.php": "<?php for ($i = 0; $i < 20000; $i++) { echo str_repeat(chr(97 + $i % 26), 100); }\n",
        "warn.php": "<?php error_log('php says hello'); echo 'warned';\n",
        // Counts its runs (a file in the temporary directory, per document root).
        "count.php": """
        <?php
        $f = sys_get_temp_dir() . '/swiftginx-count-' . md5(__DIR__);
        $n = (int)@file_get_contents($f) + 1;
        file_put_contents($f, (string)$n);
        header('X-Run: ' . $n);
        echo "n=$n";
        """,
    ]

    /// Starts php-fpm (one static worker pool of 2) listening on a free port or a socket.
    static func startPHPFPM(unixSocket: Bool) throws -> CGIBackend {
        try Backends.require()
        guard let binary = phpFPMBinary() else { throw TestFailure("no php-fpm binary in /usr/sbin") }
        let backend = try make(.phpFPM, unixSocket: unixSocket, socketName: "fpm.sock")
        let fm = FileManager.default
        try fm.createDirectory(atPath: backend.documentRoot, withIntermediateDirectories: true)
        for (name, text) in phpScripts {
            try text.write(toFile: backend.documentRoot + "/" + name, atomically: true, encoding: .utf8)
        }
        let listen = backend.address.hasPrefix("unix:") ? String(backend.address.dropFirst(5)) : backend.address
        var conf = [
            "[global]", "error_log = \(backend.directory)/fpm.log", "daemonize = no",
            "pid = \(backend.directory)/fpm.pid", "[test]", "listen = \(listen)", "listen.mode = 0666",
            "pm = static", "pm.max_children = 2", "catch_workers_output = yes", "clear_env = no",
            "php_admin_flag[log_errors] = on", "php_admin_flag[display_errors] = off",
        ]
        if getuid() == 0 { conf += ["user = root", "group = root"] }
        try conf.joined(separator: "\n").appending("\n").write(
            toFile: backend.directory + "/php-fpm.conf", atomically: true, encoding: .utf8)
        var command = [binary, "-F", "-n", "-y", backend.directory + "/php-fpm.conf"]
        if getuid() == 0 { command.append("-R") }
        try backend.launch(command, currentDirectory: backend.directory)
        return backend
    }

    /// Starts flup's SCGI server with the example Django project.
    static func startFlupSCGI(unixSocket: Bool) throws -> CGIBackend {
        try Backends.require()
        let backend = try make(.flupSCGI, unixSocket: unixSocket, socketName: "scgi.sock")
        let script = repositoryRoot.appendingPathComponent("Tests/IntegrationTests/Support/scgi_server.py").path
        try backend.launch(
            [
                "/usr/bin/env", "-u", "PYTHONHOME", "-u", "PYTHONPATH", "BACKEND_NAME=scgi", "BACKEND_PORT=0",
                "DJANGO_SETTINGS_MODULE=e2esite.settings", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1",
                Backends.venv + "/bin/python", script, backend.address,
            ], currentDirectory: Backends.projectDir)
        return backend
    }

    private static func make(_ kind: Kind, unixSocket: Bool, socketName: String) throws -> CGIBackend {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftginx-cgi-\(UUID().uuidString.prefix(8))"
        ).path
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        let address = unixSocket ? "unix:\(directory)/\(socketName)" : "127.0.0.1:\(freePort())"
        return CGIBackend(kind: kind, directory: directory, address: address)
    }

    private static func phpFPMBinary() -> String? {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/usr/sbin")) ?? []
        return names.filter { $0.hasPrefix("php-fpm") }.sorted().last.map { "/usr/sbin/" + $0 }
    }

    private func launch(_ command: [String], currentDirectory: String) throws {
        let argv = ["/usr/bin/env", "-C", currentDirectory, "/usr/bin/setsid"] + command
        let logFD = open(directory + "/backend.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(logFD) }
        pid = try ProcessControl.spawn(argv[0], argv, stdout: logFD, stderr: logFD)
        // Ready when its socket accepts a connection (≤ 20 s).
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let status = ProcessControl.wait(pid, timeout: 0) {
                pid = 0
                throw TestFailure("\(kind) exited at startup (\(status)):\n\(log)")
            }
            if (try? BackendSocket(address: address, timeoutSeconds: 1)) != nil { return }
            usleep(100_000)
        }
        stop()
        throw TestFailure("\(kind) did not listen on \(address) within 20 s:\n\(log)")
    }

    /// SIGTERM to its process group, a bounded wait (5 s), then SIGKILL.
    func stop() {
        guard pid > 0 else { return }
        if Glibc.kill(-pid, SIGTERM) != 0 { Glibc.kill(pid, SIGTERM) }
        if ProcessControl.wait(pid, timeout: 5000) == nil {
            Glibc.kill(-pid, SIGKILL)
            _ = ProcessControl.wait(pid, timeout: 5000)
        }
        Glibc.kill(-pid, SIGKILL)
        pid = 0
    }
}
