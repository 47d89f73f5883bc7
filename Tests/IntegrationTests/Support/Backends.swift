// Real Django app servers for end-to-end tests: gunicorn, uWSGI (HTTP and native
// protocol, TCP and unix sockets), Daphne, Apache httpd with mod_wsgi and
// `manage.py runserver`, all serving the example project in conf/examples/django
// from the virtualenv that scripts/setup-backends creates.
//
// Each backend is started with ProcessControl.spawn through `env -C <project>`
// (working directory and BACKEND_NAME/BACKEND_PORT) and `setsid`, so the pid we
// get is the server's own and its workers share its process group: stop() and
// kill() signal that group by id, which takes gunicorn's, uWSGI's and Apache's
// children with it. Every wait is bounded.

import Foundation
import Testing
import Glibc
import Synchronization
import SwiftginxPosix

/// The virtualenv and the one-time setup behind it.
enum Backends {
    /// `.venv-e2e` in the repository, made by scripts/setup-backends.
    static var venv: String { repositoryRoot.appendingPathComponent(".venv-e2e").path }

    /// The Django project every backend serves.
    static var projectDir: String { repositoryRoot.appendingPathComponent("conf/examples/django").path }

    /// Apache's mod_wsgi, from Debian's libapache2-mod-wsgi-py3.
    static let modWSGI = "/usr/lib/apache2/modules/mod_wsgi.so"

    /// nil until the first require(); then "" on success or the failure text.
    private static let setupOutcome = Mutex<String?>(nil)

    /// Makes sure the backends can run: runs scripts/setup-backends once per test
    /// process (it returns at once when everything is installed; a fresh machine
    /// takes a minute or two). Throws with the script's output when it fails.
    static func require() throws {
        let failure: String = setupOutcome.withLock { outcome in
            if let done = outcome { return done }
            let result = runSetup()
            outcome = result
            return result
        }
        if !failure.isEmpty { throw TestFailure(failure) }
    }

    private static func runSetup() -> String {
        let script = repositoryRoot.appendingPathComponent("scripts/setup-backends").path
        let logPath = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftginx-setup-backends-\(UUID().uuidString).log"
        ).path
        let logFD = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { unlink(logPath) }
        let pid: Int32
        do {
            pid = try ProcessControl.spawn("/bin/bash", ["bash", script], stdout: logFD, stderr: logFD)
        } catch {
            close(logFD)
            return "scripts/setup-backends could not start: \(error)"
        }
        close(logFD)
        var status = ProcessControl.wait(pid, timeout: 15 * 60 * 1000)
        if status == nil {
            Glibc.kill(pid, SIGKILL)
            status = ProcessControl.wait(pid, timeout: 5000)
        }
        let log = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        if status != 0 { return "scripts/setup-backends failed (\(status.map(String.init) ?? "timeout")):\n\(log)" }
        for tool in ["bin/python", "bin/gunicorn", "bin/uwsgi", "bin/daphne"]
        where access(venv + "/" + tool, X_OK) != 0 {
            return "scripts/setup-backends left no \(venv)/\(tool):\n\(log)"
        }
        return ""
    }
}

/// One running app server.
final class Backend {
    enum Kind: CaseIterable, CustomStringConvertible {
        case gunicornTCP, gunicornUnix, uwsgiHTTP, uwsgiNative, uwsgiNativeUnix, daphne, runserver, apacheModWSGI

        var description: String {
            switch self {
            case .gunicornTCP: "gunicorn (TCP)"
            case .gunicornUnix: "gunicorn (unix socket)"
            case .uwsgiHTTP: "uWSGI --http-socket"
            case .uwsgiNative: "uWSGI --socket (TCP)"
            case .uwsgiNativeUnix: "uWSGI --socket (unix socket)"
            case .daphne: "Daphne"
            case .runserver: "manage.py runserver"
            case .apacheModWSGI: "Apache mod_wsgi"
            }
        }

        /// True for the kinds that speak the uwsgi binary protocol (uwsgi_pass), not HTTP.
        var speaksUWSGI: Bool { self == .uwsgiNative || self == .uwsgiNativeUnix }

        var usesUnixSocket: Bool { self == .gunicornUnix || self == .uwsgiNativeUnix }
    }

    let kind: Kind
    let name: String
    /// The TCP port it listens on; 0 for unix sockets.
    let port: Int
    /// The socket path for the unix kinds.
    let socketPath: String?
    /// Its temporary directory: log, socket, Apache's configuration.
    let directory: String
    private(set) var pid: Int32 = 0
    private(set) var exitStatus: Int32? = nil

    /// "127.0.0.1:PORT" or "unix:/path.sock", as proxy_pass and uwsgi_pass spell it
    /// (proxy_pass needs "http://" before it; uwsgi_pass takes it as it is).
    var address: String {
        if let socketPath { return "unix:" + socketPath }
        return "127.0.0.1:\(port)"
    }

    /// Everything it wrote to stdout and stderr (Apache: and its error log).
    var log: String {
        var text = (try? String(contentsOfFile: directory + "/backend.log", encoding: .utf8)) ?? ""
        if kind == .apacheModWSGI {
            text += (try? String(contentsOfFile: directory + "/error.log", encoding: .utf8)) ?? ""
        }
        return text
    }

    private init(kind: Kind, name: String, port: Int, socketPath: String?, directory: String) {
        self.kind = kind
        self.name = name
        self.port = port
        self.socketPath = socketPath
        self.directory = directory
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Starts a backend of `kind` and waits (≤ 20 s) until it answers /health/.
    /// `extraArgs` go on its command line before the application (gunicorn,
    /// uWSGI, Daphne, runserver); for Apache they are extra httpd.conf lines.
    static func start(_ kind: Kind, name: String = "b1", extraArgs: [String] = []) throws -> Backend {
        try Backends.require()
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "swiftginx-backend-\(UUID().uuidString.prefix(8))"
        ).path
        // Apache's children and mod_wsgi's daemons run as www-data and use this directory.
        try FileManager.default.createDirectory(
            atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        var socketPath: String? = nil
        if kind == .gunicornUnix { socketPath = directory + "/gunicorn.sock" }
        if kind == .uwsgiNativeUnix { socketPath = directory + "/uwsgi.sock" }
        let port = kind.usesUnixSocket ? 0 : freePort()
        let backend = Backend(kind: kind, name: name, port: port, socketPath: socketPath, directory: directory)
        try backend.launch(extraArgs: extraArgs)
        return backend
    }

    private func launch(extraArgs: [String]) throws {
        let venv = Backends.venv
        let bind = "127.0.0.1:\(port)"
        var command: [String]
        switch kind {
        case .gunicornTCP, .gunicornUnix:
            // gthread workers, so that --keep-alive applies (sync workers close
            // every connection).
            command =
                [
                    venv + "/bin/gunicorn", "--workers", "2", "--threads", "4",
                    "--bind", socketPath.map { "unix:" + $0 } ?? bind,
                    "--keep-alive", "5", "--graceful-timeout", "3", "--timeout", "60",
                    "--access-logfile", "-", "--error-logfile", "-",
                ] + extraArgs + ["e2esite.wsgi:application"]
        case .uwsgiHTTP, .uwsgiNative, .uwsgiNativeUnix:
            let socketOption = kind == .uwsgiHTTP ? "--http-socket" : "--socket"
            command =
                [
                    venv + "/bin/uwsgi", socketOption, socketPath ?? bind,
                    "--module", "e2esite.wsgi:application", "--master", "--processes", "2", "--die-on-term",
                    "--need-app", "--buffer-size", "32768", "--chmod-socket=666", "--vacuum",
                    "--reload-mercy", "3", "--worker-reload-mercy", "3",
                ] + extraArgs
        case .daphne:
            command =
                [
                    venv + "/bin/daphne", "-b", "127.0.0.1", "-p", "\(port)",
                    "--websocket-max-message-size", "\(4 << 20)", "--websocket-max-frame-size", "\(4 << 20)",
                    "--application-close-timeout", "3",
                ] + extraArgs + ["e2esite.asgi:application"]
        case .runserver:
            command =
                [venv + "/bin/python", "manage.py", "runserver", "--noreload"] + extraArgs + [bind]
        case .apacheModWSGI:
            try Backend.checkReachableByApacheUser([Backends.projectDir, Backends.venv])
            try apacheConfig(extra: extraArgs).write(
                toFile: directory + "/httpd.conf", atomically: true, encoding: .utf8)
            command = ["/usr/sbin/apache2", "-f", directory + "/httpd.conf", "-DFOREGROUND"]
        }
        let environment = [
            "BACKEND_NAME=\(name)", "BACKEND_PORT=\(port)", "DJANGO_SETTINGS_MODULE=e2esite.settings",
            "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "PATH=\(venv)/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        ]
        let argv =
            ["/usr/bin/env", "-C", Backends.projectDir, "-u", "PYTHONHOME", "-u", "PYTHONPATH", "-u", "VIRTUAL_ENV"]
            + environment + ["/usr/bin/setsid"] + command
        let logFD = open(directory + "/backend.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(logFD) }
        pid = try ProcessControl.spawn(argv[0], argv, stdout: logFD, stderr: logFD)
        try waitUntilReady(timeout: 20)
    }

    /// Apache's children and mod_wsgi's daemons run as www-data when the tests run
    /// as root: every directory above the project and the venv must be searchable
    /// by others, or Apache answers 403/500 and the cause is buried in its log.
    private static func checkReachableByApacheUser(_ paths: [String]) throws {
        guard getuid() == 0 else { return }
        for path in paths {
            var dir = ""
            for component in path.split(separator: "/") {
                dir += "/" + component
                var st = stat()
                guard stat(dir, &st) == 0 else { throw TestFailure("\(dir): errno \(errno)") }
                if st.st_mode & S_IXOTH == 0 {
                    throw TestFailure(
                        "Apache mod_wsgi runs as www-data, which cannot enter \(dir) (mode \(String(st.st_mode & 0o7777, radix: 8))); "
                            + "put the repository where others can read it (e.g. /work or /srv), or chmod o+x \(dir)")
                }
            }
        }
    }

    private func apacheConfig(extra: [String]) -> String {
        let project = Backends.projectDir
        var lines = [
            "ServerRoot \"\(directory)\"",
            "ServerName 127.0.0.1",
            "Listen 127.0.0.1:\(port)",
            "PidFile \(directory)/httpd.pid",
            "ErrorLog \(directory)/error.log",
            "LogLevel warn",
            "DefaultRuntimeDir \(directory)",
            "LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so",
            "LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so",
            "LoadModule wsgi_module \(Backends.modWSGI)",
            "StartServers 1",
            "ServerLimit 2",
            "ThreadsPerChild 8",
            "MinSpareThreads 8",
            "MaxSpareThreads 16",
            "MaxRequestWorkers 16",
            "KeepAlive On",
            "KeepAliveTimeout 5",
            "LimitRequestBody 0",
            "WSGISocketPrefix \(directory)/wsgi",
            "WSGIDaemonProcess django processes=2 threads=4 python-home=\(Backends.venv) python-path=\(project)",
            "WSGIProcessGroup django",
            "WSGIApplicationGroup %{GLOBAL}",
            "WSGIScriptAlias / \(project)/e2esite/wsgi.py",
            "<Directory \(project)/e2esite>",
            "    Require all granted",
            "</Directory>",
        ]
        // Apache refuses to serve as root; its children drop to www-data.
        if getuid() == 0 { lines += ["User www-data", "Group www-data"] }
        return (lines + extra).joined(separator: "\n") + "\n"
    }

    private func waitUntilReady(timeout: Double) throws {
        let deadline = Date().addingTimeInterval(timeout)
        var lastError = "no answer yet"
        while Date() < deadline {
            if let status = ProcessControl.wait(pid, timeout: 0) {
                exitStatus = status
                throw TestFailure("\(kind) \(name) exited at startup (\(status)):\n\(log)")
            }
            do {
                let response = try request("/health/", timeoutSeconds: 2)
                if response.status == 200 && response.bodyText == "ok" { return }
                lastError = "/health/ answered \(response.status): \(response.bodyText)"
            } catch {
                lastError = "\(error)"
            }
            usleep(100_000)
        }
        stop()
        throw TestFailure("\(kind) \(name) did not answer /health/ within \(Int(timeout)) s (\(lastError)):\n\(log)")
    }

    /// Signals the whole process group (the server and its workers).
    private func signalGroup(_ signal: Int32) {
        guard pid > 0 else { return }
        if Glibc.kill(-pid, signal) != 0 { Glibc.kill(pid, signal) }
    }

    /// SIGTERM, a bounded wait (5 s), then SIGKILL; workers go with it.
    func stop() {
        guard pid > 0 else { return }
        if exitStatus == nil {
            signalGroup(SIGTERM)
            exitStatus = ProcessControl.wait(pid, timeout: 5000)
            if exitStatus == nil {
                signalGroup(SIGKILL)
                exitStatus = ProcessControl.wait(pid, timeout: 5000)
            }
        }
        // Workers that outlived their master (they are reparented, not ours to wait for).
        signalGroup(SIGKILL)
        waitUntilGone(timeout: 3)
    }

    /// SIGKILL to the server and its workers now, for "the backend died" tests.
    func kill() {
        guard pid > 0 else { return }
        signalGroup(SIGKILL)
        if exitStatus == nil { exitStatus = ProcessControl.wait(pid, timeout: 5000) }
        waitUntilGone(timeout: 3)
    }

    /// Waits (bounded) until no process of its group is left (workers killed with
    /// their master are reaped by init a moment later); true when none is.
    @discardableResult
    func waitUntilGone(timeout: Double = 3) -> Bool {
        guard pid > 0 else { return true }
        let deadline = Date().addingTimeInterval(timeout)
        while Glibc.kill(-pid, 0) == 0 {
            if Date() >= deadline { return false }
            usleep(20_000)
        }
        return true
    }

    /// True while the server process runs.
    var isRunning: Bool {
        guard pid > 0 else { return false }
        if exitStatus == nil { exitStatus = ProcessControl.wait(pid, timeout: 0) }
        return exitStatus == nil
    }

    /// One request straight to the backend (no proxy): HTTP/1.0 for the HTTP kinds,
    /// the uwsgi protocol for the native uWSGI kinds. Reads until the backend closes.
    func request(
        _ target: String, method: String = "GET", headers: [(String, String)] = [], body: [UInt8] = [],
        timeoutSeconds: Int = 10
    ) throws -> HTTPResponse {
        let socket = try BackendSocket(address: address, timeoutSeconds: timeoutSeconds)
        var bytes: [UInt8]
        if kind.speaksUWSGI {
            bytes = uwsgiPacket(target: target, method: method, headers: headers, bodyLength: body.count)
        } else {
            var head = "\(method) \(target) HTTP/1.0\r\n"
            if !headers.contains(where: { $0.0.lowercased() == "host" }) { head += "Host: localhost\r\n" }
            for (n, v) in headers { head += "\(n): \(v)\r\n" }
            if !body.isEmpty || method == "POST" || method == "PUT" { head += "Content-Length: \(body.count)\r\n" }
            bytes = Array((head + "\r\n").utf8)
        }
        bytes += body
        try socket.send(bytes)
        return try parseHTTPResponse(socket.readToEnd())
    }

    /// A uwsgi protocol request (modifier1 0: WSGI): a 4-byte header, then the
    /// CGI-style variables nginx's uwsgi_params would send, each length-prefixed.
    private func uwsgiPacket(target: String, method: String, headers: [(String, String)], bodyLength: Int)
        -> [UInt8]
    {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        var vars: [(String, String)] = [
            ("REQUEST_METHOD", method), ("REQUEST_URI", target), ("PATH_INFO", String(parts[0])),
            ("QUERY_STRING", parts.count > 1 ? String(parts[1]) : ""), ("SERVER_PROTOCOL", "HTTP/1.0"),
            ("REQUEST_SCHEME", "http"), ("SERVER_NAME", "localhost"), ("SERVER_PORT", "\(port)"),
            ("REMOTE_ADDR", "127.0.0.1"), ("REMOTE_PORT", "0"),
            ("CONTENT_LENGTH", bodyLength > 0 ? "\(bodyLength)" : ""),
            ("CONTENT_TYPE", ""),
        ]
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { vars.append(("HTTP_HOST", "localhost")) }
        for (n, v) in headers {
            let key = n.uppercased().replacingOccurrences(of: "-", with: "_")
            if key == "CONTENT_TYPE" || key == "CONTENT_LENGTH" {
                vars.removeAll { $0.0 == key }
                vars.append((key, v))
            } else {
                vars.append(("HTTP_" + key, v))
            }
        }
        var payload: [UInt8] = []
        for (k, v) in vars {
            for s in [k, v] {
                let b = Array(s.utf8)
                payload += [UInt8(b.count & 0xff), UInt8(b.count >> 8)] + b
            }
        }
        return [0, UInt8(payload.count & 0xff), UInt8(payload.count >> 8), 0] + payload
    }
}

/// A blocking client socket to "127.0.0.1:PORT" or "unix:/path", with timeouts.
final class BackendSocket {
    /// -1 once closed. A throwing init closes nothing itself: the class is fully
    /// initialized by then, so deinit runs and closes it (closing twice would close a
    /// descriptor another thread of the test process may have opened meanwhile).
    private(set) var fd: Int32

    init(address: String, timeoutSeconds: Int = 10) throws {
        if address.hasPrefix("unix:") {
            let path = String(address.dropFirst(5))
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                throw TestFailure("unix socket path too long: \(path)")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { raw in
                for (i, b) in bytes.enumerated() { raw[i] = b }
            }
            BackendSocket.setTimeouts(fd, timeoutSeconds)
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            if r != 0 {
                let e = errno
                throw TestFailure("connect to \(address) failed: errno \(e)")
            }
        } else {
            let hostPort = address.split(separator: ":")
            guard hostPort.count == 2, let port = UInt16(hostPort[1]) else {
                throw TestFailure("bad address \(address)")
            }
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr(String(hostPort[0]))
            addr.sin_port = in_port_t(port.bigEndian)
            BackendSocket.setTimeouts(fd, timeoutSeconds)
            let r = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, 16) }
            }
            if r != 0 {
                let e = errno
                throw TestFailure("connect to \(address) failed: errno \(e)")
            }
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    static func setTimeouts(_ fd: Int32, _ seconds: Int) {
        var tv = timeval(tv_sec: seconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    func send(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw TestFailure("send failed: errno \(errno)") }
            off += n
        }
    }

    /// Everything until the peer closes; throws on a timeout.
    func readToEnd() throws -> [UInt8] {
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { return out }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == ECONNRESET && !out.isEmpty { return out }
                throw TestFailure("recv failed (errno \(errno)) after \(out.count) bytes")
            }
            out += buf[0..<n]
        }
    }
}

/// Parses a whole close-delimited HTTP/1.x response (head, then the body as sent,
/// de-chunked when Transfer-Encoding is chunked).
func parseHTTPResponse(_ bytes: [UInt8]) throws -> HTTPResponse {
    guard let end = indexOf([13, 10, 13, 10], in: bytes, from: 0) else {
        throw TestFailure(
            "no response head in \(bytes.count) bytes: \(String(decoding: bytes.prefix(200), as: UTF8.self))")
    }
    let head = String(decoding: bytes[0..<end], as: UTF8.self)
    var lines = head.components(separatedBy: "\r\n")
    let statusLine = lines.removeFirst()
    let parts = statusLine.split(separator: " ")
    guard parts.count >= 2, let status = Int(parts[1]) else { throw TestFailure("bad status line \(statusLine)") }
    var headers: [(String, String)] = []
    for l in lines {
        guard let c = l.firstIndex(of: ":") else { continue }
        headers.append((String(l[..<c]), l[l.index(after: c)...].trimmingCharacters(in: .whitespaces)))
    }
    var response = HTTPResponse(status: status, headers: headers, body: Array(bytes[(end + 4)...]), rawHead: head)
    if response.header("Transfer-Encoding")?.lowercased() == "chunked" {
        var body: [UInt8] = []
        var i = 0
        let raw = response.body
        while let lineEnd = indexOf([13, 10], in: raw, from: i) {
            let sizeText = String(decoding: raw[i..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingCharacters(in: .whitespaces), radix: 16) else { break }
            if size == 0 { break }
            let start = lineEnd + 2
            guard start + size <= raw.count else { throw TestFailure("short chunk") }
            body += raw[start..<(start + size)]
            i = start + size + 2
        }
        response.body = body
    }
    return response
}

private func indexOf(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
    guard hay.count >= needle.count, from <= hay.count - needle.count else { return nil }
    for i in from...(hay.count - needle.count) where hay[i] == needle[0] {
        if hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
    }
    return nil
}

/// Lower-case hex of bytes.
func hex(_ bytes: [UInt8]) -> String {
    bytes.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
}

/// SHA-256 through coreutils (the tests compare it with Django's hashlib).
func sha256Hex(_ bytes: [UInt8]) -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("swiftginx-sha-\(UUID().uuidString)").path
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
    defer { unlink(path) }
    let result = try? runCommand(["/usr/bin/sha256sum", path])
    return String(result?.stdout.prefix(64) ?? "")
}

/// Runs a command to completion (bounded) with ProcessControl.spawn.
func runCommand(_ argv: [String], timeout: Double = 60) throws -> CommandResult {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("swiftginx-cmd-\(UUID().uuidString)").path
    let outFD = open(base + ".out", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    let errFD = open(base + ".err", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
    defer {
        close(outFD)
        close(errFD)
        unlink(base + ".out")
        unlink(base + ".err")
    }
    let pid = try ProcessControl.spawn(argv[0], argv, stdout: outFD, stderr: errFD)
    var status = ProcessControl.wait(pid, timeout: Int(timeout * 1000))
    if status == nil {
        Glibc.kill(pid, SIGKILL)
        status = ProcessControl.wait(pid, timeout: 5000)
    }
    let o = (try? String(contentsOfFile: base + ".out", encoding: .utf8)) ?? ""
    let e = (try? String(contentsOfFile: base + ".err", encoding: .utf8)) ?? ""
    return CommandResult(status: status ?? -1, stdout: o, stderr: e)
}

/// The example configurations in conf/examples/, made runnable in a test prefix.
enum ExampleConfig {
    /// Each example and the backend kind it fronts.
    static let all: [(name: String, kind: Backend.Kind)] = [
        ("gunicorn-tcp", .gunicornTCP), ("gunicorn-unix", .gunicornUnix), ("uwsgi-http", .uwsgiHTTP),
        ("uwsgi-native", .uwsgiNative), ("daphne-websocket", .daphne), ("apache-mod-wsgi", .apacheModWSGI),
        ("runserver", .runserver),
    ]

    /// conf/examples/<name>.conf with its backend address replaced by
    /// `backend.address`, its listen port by `listenPort`, its includes and
    /// static alias made absolute, and `daemon off;` (plus `master_process off;`
    /// and, as root, `user root;` when `forNginx`) in front. Logs and the pid file
    /// stay relative to the prefix (-p), which needs a logs/ directory.
    static func render(_ name: String, backend: Backend, listenPort: Int, forNginx: Bool = false) throws -> String {
        let conf = repositoryRoot.appendingPathComponent("conf").path
        var text = try String(contentsOfFile: "\(conf)/examples/\(name).conf", encoding: .utf8)
        text = text.replacingOccurrences(of: "127.0.0.1:8080", with: "127.0.0.1:\(listenPort)")
        text = text.replacingOccurrences(of: "unix:/tmp/gunicorn-django.sock", with: backend.address)
        for port in 8000...8005 { text = text.replacingOccurrences(of: "127.0.0.1:\(port)", with: backend.address) }
        text = text.replacingOccurrences(of: "include ../", with: "include \(conf)/")
        text = text.replacingOccurrences(of: "alias conf/examples/", with: "alias \(conf)/examples/")
        var head = "daemon off;\n"
        if forNginx {
            head += "master_process off;\n"
            if getuid() == 0 { head += "user root;\n" }
        }
        return head + text
    }
}

/// Fails the calling test when nginx, the reference, is missing: a comparison that
/// cannot run is a failure, never a quiet pass (scripts/test installs nginx-light).
func requireNginx(sourceLocation: SourceLocation = #_sourceLocation) throws {
    try #require(
        FileManager.default.isExecutableFile(atPath: ReferenceNginx.binary),
        "nginx is the reference: install nginx-light (scripts/test does)", sourceLocation: sourceLocation)
}

/// Debian's nginx (nginx-light) run in a prefix, as the reference to compare with.
final class ReferenceNginx {
    static let binary = "/usr/sbin/nginx"
    let prefix: String
    let port: Int
    private(set) var pid: Int32 = 0
    private var exitStatus: Int32? = nil

    /// Writes `config` (from ExampleConfig.render with forNginx: true, listening on
    /// `port`) into a new temporary prefix and starts nginx; waits (≤ 10 s) until
    /// it accepts connections.
    init(config: String, port: Int) throws {
        self.port = port
        prefix =
            FileManager.default.temporaryDirectory.appendingPathComponent(
                "swiftginx-nginx-\(UUID().uuidString.prefix(8))"
            ).path + "/"
        try FileManager.default.createDirectory(
            atPath: prefix + "logs", withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try config.write(toFile: prefix + "nginx.conf", atomically: true, encoding: .utf8)
        let errFD = open(prefix + "stderr.txt", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        defer { close(errFD) }
        pid = try ProcessControl.spawn(
            Self.binary, ["nginx", "-p", prefix, "-c", prefix + "nginx.conf"], stdout: -1, stderr: errFD)
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let status = ProcessControl.wait(pid, timeout: 0) {
                exitStatus = status
                throw TestFailure("nginx exited at startup (\(status)): \(log)")
            }
            if canConnect(port: port) { return }
            usleep(20_000)
        }
        stop()
        throw TestFailure("nginx did not start within 10 s: \(log)")
    }

    /// Its stderr and error log.
    var log: String {
        ((try? String(contentsOfFile: prefix + "stderr.txt", encoding: .utf8)) ?? "")
            + ((try? String(contentsOfFile: prefix + "logs/error.log", encoding: .utf8)) ?? "")
    }

    /// SIGTERM by pid, bounded wait, SIGKILL fallback.
    func stop() {
        guard pid > 0, exitStatus == nil else { return }
        Glibc.kill(pid, SIGTERM)
        exitStatus = ProcessControl.wait(pid, timeout: 5000)
        if exitStatus == nil {
            Glibc.kill(pid, SIGKILL)
            exitStatus = ProcessControl.wait(pid, timeout: 5000)
        }
    }

    deinit {
        stop()
        try? FileManager.default.removeItem(atPath: prefix)
    }
}

extension Backend {
    /// The `map` (http level) and the `location /` that pass requests and WebSocket
    /// upgrades to this backend, as conf/examples/daphne-websocket.conf does.
    var webSocketProxy: (map: String, location: String) {
        (
            "map $http_upgrade $connection_upgrade { default upgrade; '' close; }",
            """
            location / {
                proxy_pass http://\(address);
                proxy_http_version 1.1;
                proxy_set_header Upgrade $http_upgrade;
                proxy_set_header Connection $connection_upgrade;
                proxy_set_header Host $host;
                proxy_set_header X-Forwarded-Proto $scheme;
            }
            """
        )
    }
}
