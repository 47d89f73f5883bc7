// The privileged supervisor: what a server started as root runs as, so that serving
// happens as the `user` account (nginx's default: nobody) while root stays available
// for what only root can do. Its process is the one in the pid file; it
// * starts the serving process (fork), which drops root at once and then asks the
//   supervisor, over a socket pair, for every file it opens and socket it binds —
//   at startup and on every reload and log reopening (BrokerAccess);
// * answers those requests as root and hands the descriptors over (SCM_RIGHTS),
//   keeping the listening sockets itself, so they outlive the serving process;
// * writes the pid file once the serving process is listening, and removes it at exit;
// * forwards HUP, USR1, QUIT, TERM and INT to the serving process;
// * starts a new serving process if it dies, on the same listening sockets (queued
//   connections wait in the backlog), which reads the configuration file anew.
// It runs no threads and touches no request: a small, single-threaded loop.

import Glibc
import SwiftginxConfig
import SwiftginxPosix
import SwiftginxTLS

final class Supervisor {
    let options: ServerOptions
    /// The configuration read at startup; a respawned serving process reads the file anew.
    let config: RuntimeConfig
    let account: ServingAccount
    let direct = DirectAccess()
    let logFiles = LogFiles()
    var errorLog = ErrorLog(targets: [])
    /// Listening sockets by address, kept across serving processes.
    var sockets: [ListenAddress: [Int32]] = [:]
    var child: Int32 = 0
    var channel: Int32 = -1
    var startedAt: Int64 = 0
    var everReady = false
    var stopping = false
    var respawnAt: Int64? = nil
    var pidPath = ""

    init(options: ServerOptions, config: RuntimeConfig, account: ServingAccount) {
        self.options = options
        self.config = config
        self.account = account
    }

    func run() throws(StartupError) -> Int32 {
        SignalReceiver.ignoreBrokenPipe()
        var targets: [(LogFile, LogLevel)] = []
        var syslogs: [(SyslogSink, LogLevel)] = []
        for e in config.main.errorLogs {
            if let s = e.syslog {
                syslogs.append((logFiles.syslog(s), e.level))
                continue
            }
            do { targets.append((try logFiles.file(e.path), e.level)) } catch {
                throw StartupError(
                    description: "open() \"\(e.path)\" failed (\(error.errno): \(SystemError.message(error.errno)))")
            }
        }
        errorLog = ErrorLog(targets: targets, syslogs: syslogs)
        if let n = config.main.workerRlimitNofile {
            do { try ProcessControl.setOpenFileLimit(n) } catch {
                errorLog.log(.alert, "\(error.call)() failed (\(error.errno): \(SystemError.message(error.errno)))")
            }
        }
        if config.main.daemon {
            do { try ProcessControl.daemonize() } catch { throw StartupError(description: "\(error)") }
        }
        pidPath = config.main.pidPath
        let signals: SignalReceiver
        do {
            signals = try SignalReceiver([SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD])
        } catch { throw StartupError(description: "\(error)") }
        prepareTempPaths()
        do { try spawn(signals, fresh: false) } catch { throw StartupError(description: "\(error)") }
        return loop(signals)
    }

    // MARK: the serving process

    /// Starts a serving process on a new socket pair.
    private func spawn(_ signals: SignalReceiver, fresh: Bool) throws(SystemError) {
        let (mine, theirs) = try DescriptorChannel.pair()
        let pid: Int32
        do { pid = try ProcessControl.fork() } catch {
            FileSystem.close(mine)
            FileSystem.close(theirs)
            throw error
        }
        if pid == 0 {
            // The child keeps none of the supervisor's descriptors: it asks for its own.
            FileSystem.close(mine)
            FileSystem.close(signals.fd)
            if channel >= 0 { FileSystem.close(channel) }
            for fd in Set(sockets.values.flatMap { $0 }) { FileSystem.close(fd) }
            for fd in logFiles.descriptors where fd > 2 { FileSystem.close(fd) }
            serve(channel: theirs, fresh: fresh)
        }
        FileSystem.close(theirs)
        if channel >= 0 { FileSystem.close(channel) }
        channel = mine
        child = pid
        startedAt = Clock.monotonicMilliseconds()
        errorLog.log(.notice, "start serving process \(pid) as \"\(account.name)\"")
    }

    /// The serving process: drops root, then runs the server through the broker.
    private func serve(channel: Int32, fresh: Bool) -> Never {
        let fail = { (message: String) -> Never in
            var line = "swiftginx: [emerg] \(message)\n"
            line.withUTF8 { FileSystem.writeAll(2, UnsafeRawBufferPointer($0)) }
            ProcessControl.exitNow(1)
        }
        do {
            try Privileges.drop(to: Account(name: account.name, uid: account.uid, gid: account.gid))
        } catch {
            fail(
                "\(error.call)(\(error.call == "initgroups" ? account.name : "\(account.uid)")) failed "
                    + "(\(error.errno): \(SystemError.message(error.errno)))")
        }
        let broker = BrokerAccess(channel: channel)
        TLSFiles.install { path in try? broker.readFile(path) }
        var serving = options
        serving.configEnvironment = BrokerConfigEnvironment(access: broker)
        var current = config
        if fresh {
            // A respawn serves the configuration file as it is now (as a reload would).
            if let loaded = try? ConfigLoader.load(
                path: serving.configPath, prefix: serving.prefix, environment: serving.configEnvironment,
                globalDirectives: serving.globalDirectives, defaultErrorLog: serving.startupErrorLog)
            {
                current = loaded
            }
        }
        let server = Server(options: serving, access: broker, broker: broker)
        do { ProcessControl.exitNow(try server.run(current)) } catch { fail(error.description) }
    }

    // MARK: the loop

    private func loop(_ signals: SignalReceiver) -> Int32 {
        while true {
            var timeout = 1000
            if let at = respawnAt { timeout = Int(max(0, min(1000, at - Clock.monotonicMilliseconds()))) }
            let ready = Socket.readable(child > 0 ? [signals.fd, channel] : [signals.fd], timeout: timeout)
            if child > 0 && ready.contains(channel) { answer() }
            while let sig = signals.next() {
                if let code = handle(sig, signals) { return code }
            }
            if let at = respawnAt, Clock.monotonicMilliseconds() >= at {
                respawnAt = nil
                do { try spawn(signals, fresh: true) } catch {
                    errorLog.log(.alert, "fork() failed (\(error.errno): \(SystemError.message(error.errno)))")
                    respawnAt = Clock.monotonicMilliseconds() + 1000
                }
            }
        }
    }

    /// Handles one signal; returns the exit status when the supervisor is done.
    private func handle(_ sig: Int32, _ signals: SignalReceiver) -> Int32? {
        switch sig {
        case SIGCHLD:
            while let (pid, code, signal) = ProcessControl.reapChild() {
                guard pid == child else { continue }
                child = 0
                if let r = childEnded(pid, code: code, signal: signal) { return r }
            }
        case SIGHUP, SIGUSR1:
            if sig == SIGUSR1 {
                for e in logFiles.reopenAll() { errorLog.log(.alert, e) }
            }
            forward(sig)
        case SIGQUIT, SIGTERM, SIGINT:
            stopping = true
            respawnAt = nil
            if child == 0 { return finish(0) }
            forward(sig)
        default:
            break
        }
        return nil
    }

    private func forward(_ sig: Int32) {
        guard child > 0 else { return }
        try? ProcessControl.kill(child, sig)
    }

    private func childEnded(_ pid: Int32, code: Int32?, signal: Int32?) -> Int32? {
        if stopping { return finish(code ?? 0) }
        if !everReady { return finish(code ?? 1) }  // startup failed: its messages are printed
        if let signal {
            errorLog.log(.alert, "serving process \(pid) exited on signal \(signal)")
        } else {
            errorLog.log(.alert, "serving process \(pid) exited with code \(code ?? 0)")
        }
        // A process that dies at once is restarted after a pause, not in a tight loop.
        let quick = Clock.monotonicMilliseconds() - startedAt < 2000
        respawnAt = Clock.monotonicMilliseconds() + (quick ? 1000 : 0)
        return nil
    }

    private func finish(_ code: Int32) -> Int32 {
        for fd in Set(sockets.values.flatMap { $0 }) { Socket.close(fd) }
        for address in sockets.keys { direct.release(address) }
        sockets = [:]
        if everReady { FileSystem.unlink(pidPath) }
        if stopping { errorLog.log(.notice, "exit") }
        return code
    }

    // MARK: requests

    /// Answers one request of the serving process.
    private func answer() {
        guard let (bytes, fds) = try? DescriptorChannel.receive(channel) else { return }
        for fd in fds { FileSystem.close(fd) }
        guard let request = BrokerRequest(bytes) else { return }
        var reply = BrokerReply()
        var handOver: [Int32] = []
        var closeAfter = false
        do throws(SystemError) {
            switch request {
            case .openForReading(let path):
                handOver = [try direct.openForReading(path)]
                closeAfter = true
            case .openForAppending(let path):
                handOver = [try direct.openForAppending(path)]
                closeAfter = true
            case .glob(let pattern):
                let paths = try direct.glob(pattern)
                reply.payload = Array(paths.joined(separator: "\0").utf8)
            case .listen(let address, let backlog, let reuseport, let ipv6only, let deferred, let count):
                if let existing = sockets[address], existing.count == count {
                    handOver = existing
                } else {
                    var o = ListenOptions()
                    o.backlog = backlog
                    o.reuseport = reuseport
                    o.ipv6only = ipv6only
                    o.deferred = deferred
                    let fds = try direct.listen(address, options: o, count: count)
                    if let old = sockets[address] { for fd in Set(old) { Socket.close(fd) } }
                    sockets[address] = fds
                    handOver = fds
                }
            case .release(let address):
                for fd in Set(sockets.removeValue(forKey: address) ?? []) { Socket.close(fd) }
                direct.release(address)
            case .ready:
                if !everReady {
                    try FileSystem.writeFile(pidPath, "\(ProcessControl.pid)\n")
                    // systemd (Type=notify): the supervisor is the main process.
                    ServiceNotify.send("READY=1\nMAINPID=\(ProcessControl.pid)")
                }
                everReady = true
            }
        } catch {
            reply = .failure(error)
        }
        do { try DescriptorChannel.send(channel, reply.encoded(), fds: handOver) } catch {
            errorLog.log(.alert, "sendmsg() failed (\(error.errno): \(SystemError.message(error.errno)))")
        }
        if closeAfter { for fd in handOver { FileSystem.close(fd) } }
    }
}
