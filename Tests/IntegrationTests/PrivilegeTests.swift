// Started as root, the server serves as the `user` account (nginx's default, nobody)
// under a privileged supervisor: checked from outside through /proc, over real
// sockets: the serving process's user, a reload that binds a port below 1024 and
// reloads a root-only TLS key, a serving process killed and restarted on the same
// sockets, log reopening, and a graceful stop. Only meaningful as root (CI runs so).

import Foundation
import Glibc
import SwiftginxPosix
import Testing

@Suite(.enabled(if: getuid() == 0, "switching users needs root"))
struct PrivilegeTests {
    /// The `Uid:` (real) of a process, from /proc.
    static func uid(of pid: Int32) -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("Uid:") {
            return Int(line.split(whereSeparator: { $0 == "\t" || $0 == " " })[1])
        }
        return nil
    }

    /// The children of `parent`, from /proc.
    static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == parent
        }
    }

    /// The one serving process under the supervisor, waited for (bounded).
    static func servingProcess(of supervisor: Int32, excluding old: Int32? = nil) -> Int32? {
        for _ in 0..<250 {
            let kids = children(of: supervisor).filter { $0 != old }
            if kids.count == 1 { return kids[0] }
            usleep(20_000)
        }
        return nil
    }

    /// A free port below 1024 on 127.0.0.1 (only root may bind it).
    static func privilegedPort() throws -> Int {
        for port in 900..<1000 {
            guard let addr = SocketAddress(host: "127.0.0.1", port: port),
                let fd = try? Socket.listen(address: addr, backlog: 1, reusePort: false, ipv6Only: true)
            else { continue }
            Socket.close(fd)
            return port
        }
        throw TestFailure("no free port below 1024")
    }

    static func config(pki: TestPKI, tlsPort: Int, extraListen: String = "") -> String {
        """
        daemon off;
        error_log logs/error.log info;
        pid logs/swiftginx.pid;
        events { worker_connections 64; }
        http {
            access_log logs/access.log;
            server {
                listen 127.0.0.1:PORT;
                \(extraListen)
                server_name localhost;
                location / { root html; }
            }
            server {
                listen 127.0.0.1:\(tlsPort) ssl;
                server_name localhost;
                ssl_certificate \(pki.path("rsa.pem"));
                ssl_certificate_key \(pki.path("rsa.key"));
                location / { return 200 "tls"; }
            }
        }
        """
    }

    @Test func servesAsNobodyUnderARootSupervisor() throws {
        let pki = try TestPKI()
        #expect(chmod(pki.path("rsa.key"), 0o600) == 0)
        let tlsPort = freePort()
        let s = try TestServer(config: Self.config(pki: pki, tlsPort: tlsPort), files: ["html/a.txt": "AAA"])
        // No `user` directive and no `-g "user root;"`: nginx's default account, nobody.
        try s.start(extraArgs: ["-g", "worker_processes 1;"])
        let supervisor = s.pid
        #expect(s.read("logs/swiftginx.pid").trimmingCharacters(in: .whitespacesAndNewlines) == "\(supervisor)")
        #expect(Self.uid(of: supervisor) == 0)
        let serving = try #require(Self.servingProcess(of: supervisor))
        #expect(Self.uid(of: serving) == Int(Privileges.userID("nobody") ?? 0))
        #expect(try get(s.port, "/a.txt").bodyText == "AAA")

        func https(_ port: Int) throws -> String {
            let r = try runCommand([
                "/usr/bin/curl", "-s", "--max-time", "10", "--cacert", pki.path("ca.pem"),
                "https://localhost:\(port)/",
            ])
            return r.stdout
        }
        #expect(try https(tlsPort) == "tls")

        // A reload, done by the serving process as nobody, binds a port below 1024 and
        // loads the root-only key again: both through the supervisor.
        let low = try Self.privilegedPort()
        try s.writeConfig(Self.config(pki: pki, tlsPort: tlsPort, extraListen: "listen 127.0.0.1:\(low);"))
        s.signal(SIGHUP)
        #expect(s.waitForFile("logs/error.log", containing: "reconfigured (generation 2)"))
        #expect(try get(low, "/a.txt").bodyText == "AAA")
        #expect(try https(tlsPort) == "tls")
        #expect(!s.read("logs/error.log").contains("[emerg]"))

        // Killed, the serving process is started again on the same sockets, as nobody,
        // with the configuration file as it is now.
        kill(serving, SIGKILL)
        let second = try #require(Self.servingProcess(of: supervisor, excluding: serving))
        #expect(Self.uid(of: second) == Int(Privileges.userID("nobody") ?? 0))
        #expect(s.waitForFile("logs/error.log", containing: "serving process \(serving) exited on signal 9"))
        var body = ""
        for _ in 0..<250 {
            body = (try? get(low, "/a.txt").bodyText) ?? ""
            if body == "AAA" { break }
            usleep(20_000)
        }
        #expect(body == "AAA")

        // USR1: the log is reopened by path (opened by the supervisor, root's file).
        try FileManager.default.moveItem(atPath: s.prefix + "logs/access.log", toPath: s.prefix + "logs/old.log")
        s.signal(SIGUSR1)
        #expect(s.waitForFile("logs/error.log", containing: "reopening logs"))
        usleep(200_000)
        _ = try get(s.port, "/a.txt?after-reopen")
        s.signal(SIGQUIT)
        #expect(s.waitForExit() == 0)
        #expect(s.read("logs/access.log").contains("after-reopen"))
        #expect(!FileManager.default.fileExists(atPath: s.prefix + "logs/swiftginx.pid"))
        #expect(Self.children(of: supervisor).isEmpty)
    }

    /// The serving process binds through the supervisor: a busy port fails the start
    /// with nginx's message, and no pid file is left.
    @Test func aServingProcessThatCannotStartFailsTheStart() throws {
        let s = try TestServer()
        let other = try TestServer()
        try other.start()
        try s.writeConfig(TestServer.defaultConfig.replacingOccurrences(of: "PORT", with: "\(other.port)"))
        let r = try runBinary(["-p", s.prefix, "-c", "conf/swiftginx.conf"])
        #expect(r.status == 1)
        #expect(r.stderr.contains("[emerg] bind() to 127.0.0.1:\(other.port) failed (98: Address already in use)"))
        #expect(!FileManager.default.fileExists(atPath: s.prefix + "logs/swiftginx.pid"))
    }
}
