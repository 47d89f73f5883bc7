// The master: turns a compiled configuration into a running server, in nginx's
// startup order (logs, listening sockets, daemon, pid file, workers), then reads
// signals: HUP reloads (a bad new config is logged and the old one keeps
// serving), USR1 reopens logs, QUIT stops gracefully, TERM/INT stop at once.
// Started as root with a `user` account (nginx's default: nobody), it becomes a
// privileged supervisor instead (Privileged/Supervisor.swift) and this runs in the
// serving process it starts, opening files and sockets through it.

import Glibc
import SwiftginxConfig
import SwiftginxPosix

public struct ServerOptions: Sendable {
    public var configPath: String
    public var prefix: String
    public var globalDirectives: String?
    /// `-e`: where startup errors go before the configured error log is open.
    public var startupErrorLog: String?
    /// Where a reload reads the configuration (and resolves its upstream names).
    public var configEnvironment: any ConfigEnvironment
    public init(
        configPath: String, prefix: String, globalDirectives: String?, startupErrorLog: String?,
        configEnvironment: any ConfigEnvironment = PosixConfigEnvironment()
    ) {
        self.configPath = configPath
        self.prefix = prefix
        self.globalDirectives = globalDirectives
        self.startupErrorLog = startupErrorLog
        self.configEnvironment = configEnvironment
    }
}

/// A startup failure, printed as `swiftginx: [emerg] <message>`.
public struct StartupError: Error, CustomStringConvertible {
    public let description: String
}

public final class Server {
    let options: ServerOptions
    /// Opens files and binds sockets: this process, or the privileged supervisor.
    let access: any PrivilegedAccess
    /// Set in a serving process started by the supervisor.
    let broker: BrokerAccess?
    let logFiles: LogFiles
    var state: ServerState!
    var workers: [Worker] = []
    var threads: [pthread_t] = []
    /// The housekeeping thread: the current generation's active health checks and
    /// OCSP responder requests (`ssl_stapling on`).
    var housekeeping: HousekeepingLoop? = nil
    /// Listening sockets by address: one per worker.
    var sockets: [ListenAddress: [Int32]] = [:]
    var retiredSockets: [(closeAt: Int64, addresses: [ListenAddress], fds: [Int32])] = []
    var workerCount = 1
    /// setsockopt() failures of the last bindListeners (nginx logs them and goes on).
    var listenAlerts: [String] = []
    var generationNumber = 0
    var pidPath = ""

    public convenience init(options: ServerOptions) {
        self.init(options: options, access: DirectAccess(), broker: nil)
    }

    init(options: ServerOptions, access: any PrivilegedAccess, broker: BrokerAccess?) {
        self.options = options
        self.access = access
        self.broker = broker
        self.logFiles = LogFiles(access: access)
    }

    /// Starts everything and serves until stopped; returns the exit status. Started as
    /// root with `master_process on` (the default), the process becomes the privileged
    /// supervisor of a serving process that runs as the `user` account.
    public func run(_ config: RuntimeConfig) throws(StartupError) -> Int32 {
        if broker == nil, config.main.masterProcess, let account = config.main.user, ProcessControl.isSuperuser {
            return try Supervisor(options: options, config: config, account: account).run()
        }
        SignalReceiver.ignoreBrokenPipe()
        ProcessControl.restrictEnvironment(to: config.main.environment)
        let (errorFiles, errorSyslogs) = try openErrorLogs(config)
        let errorLog = ErrorLog(targets: errorFiles, syslogs: errorSyslogs)
        workerCount = max(1, config.main.workerProcesses)
        if let n = config.main.workerRlimitNofile {
            do { try ProcessControl.setOpenFileLimit(n) } catch {
                errorLog.log(.alert, "\(error.call)() failed (\(error.errno): \(SystemError.message(error.errno)))")
            }
        }
        for w in config.warnings { errorLog.log(.warn, w) }
        let tls = try Server.buildTLS(config)
        for w in tls.warnings { errorLog.log(.warn, w) }
        let listeners = try bindListeners(config)
        for a in listenAlerts { errorLog.log(.alert, a) }
        let accessFiles = try openAccessLogs(config)
        generationNumber = 1
        let generation = Generation(
            number: 1, config: config, listeners: listeners, accessLogFiles: accessFiles, tls: tls)
        state = ServerState(generation: generation, errorLog: errorLog, logFiles: logFiles, prefix: options.prefix)

        if broker == nil {
            // (A supervised server's supervisor has daemonized and writes the pid file.)
            if config.main.daemon {
                do { try ProcessControl.daemonize() } catch { throw StartupError(description: "\(error)") }
            }
            pidPath = config.main.pidPath
            do { try FileSystem.writeFile(pidPath, "\(ProcessControl.pid)\n") } catch {
                throw StartupError(
                    description: "open() \"\(pidPath)\" failed (\(error.errno): \(SystemError.message(error.errno)))")
            }
        }
        if config.main.daemon && !config.main.errorLogs.contains(where: { $0.path == "stderr" }) {
            ProcessControl.detachStderr()
        }

        let signals: SignalReceiver
        do {
            signals = try SignalReceiver([SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1, SIGUSR2, SIGWINCH, SIGCHLD])
        } catch { throw StartupError(description: "\(error)") }
        do {
            for i in 0..<workerCount {
                workers.append(try Worker(index: i, state: state, generation: generation))
            }
        } catch { throw StartupError(description: "\(error)") }
        errorLog.log(.notice, "using the \"epoll\" event method")
        errorLog.log(.notice, "\(ServerVersion.full)")
        errorLog.log(.notice, "start worker processes")
        for w in workers {
            let cpus = affinity(config.main.cpuAffinity, worker: w.index)
            let log = errorLog
            threads.append(
                ProcessControl.startThread {
                    if let cpus {
                        // nginx logs a failed binding and goes on unbound.
                        do throws(SystemError) { try ProcessControl.bindCurrentThread(to: cpus) } catch {
                            log.log(
                                .alert,
                                "sched_setaffinity() failed (\(error.errno): \(SystemError.message(error.errno)))")
                        }
                    }
                    w.run()
                })
        }
        do {
            let loop = try HousekeepingLoop()
            try loop.start(log: errorLog)
            loop.replace(with: HousekeepingWork(generation: generation, log: errorLog))
            housekeeping = loop
        } catch { throw StartupError(description: "\(error)") }
        if let broker {
            do { try broker.ready() } catch { throw StartupError(description: "\(error)") }
        } else {
            // systemd (Type=notify): serving now.
            ServiceNotify.send("READY=1\nMAINPID=\(ProcessControl.pid)")
        }
        return masterLoop(signals)
    }

    /// The CPUs of worker `index` under `worker_cpu_affinity` (the last set serves the
    /// workers beyond the list, as nginx), or nil when threads are not bound.
    private func affinity(_ sets: [[Int]], worker index: Int) -> [Int]? {
        guard !sets.isEmpty else { return nil }
        return sets[min(index, sets.count - 1)]
    }

    private func masterLoop(_ signals: SignalReceiver) -> Int32 {
        while true {
            _ = signals.wait(timeout: 500)
            closeRetiredSockets()
            state.generation.tls.rotateTicketKeys(now: Clock.monotonicMilliseconds())
            while let sig = signals.next() {
                switch sig {
                case SIGHUP:
                    state.errorLog.log(.notice, "signal 1 (SIGHUP) received, reconfiguring")
                    reload()
                case SIGUSR1:
                    state.errorLog.log(.notice, "signal 10 (SIGUSR1) received, reopening logs")
                    flushWorkerLogs()
                    for e in logFiles.reopenAll() { state.errorLog.log(.alert, e) }
                case SIGQUIT:
                    state.errorLog.log(.notice, "signal 3 (SIGQUIT) received, shutting down")
                    state.errorLog.log(.notice, "gracefully shutting down")
                    return stop(.graceful)
                case SIGTERM, SIGINT:
                    let name = sig == SIGTERM ? "15 (SIGTERM)" : "2 (SIGINT)"
                    state.errorLog.log(.notice, "signal \(name) received, exiting")
                    return stop(.fast)
                default:
                    break
                }
            }
        }
    }

    private func stop(_ mode: StopMode) -> Int32 {
        housekeeping?.stop()
        state.requestStop(mode)
        for w in workers { w.wake() }
        for t in threads { ProcessControl.join(t) }
        for fd in Set(sockets.values.flatMap { $0 }) { Socket.close(fd) }
        for a in sockets.keys { a.unixPath.map(FileSystem.unlink) }
        if broker == nil { FileSystem.unlink(pidPath) }
        state.errorLog.log(.notice, "exit")
        return 0
    }

    /// Asks every worker to write out its buffered access-log lines and waits
    /// (at most a second) until they have, so lines land in the file they belong to.
    private func flushWorkerLogs() {
        let target = state.flushAcks.load(ordering: .acquiring) + workers.count
        state.flushRequests.add(1, ordering: .releasing)
        for w in workers { w.wake() }
        let deadline = Clock.monotonicMilliseconds() + 1000
        while state.flushAcks.load(ordering: .acquiring) < target && Clock.monotonicMilliseconds() < deadline {
            Clock.sleep(milliseconds: 1)
        }
    }

    // MARK: reload

    func reload() {
        let config: RuntimeConfig
        do {
            config = try ConfigLoader.load(
                path: options.configPath, prefix: options.prefix, environment: options.configEnvironment,
                globalDirectives: options.globalDirectives, defaultErrorLog: options.startupErrorLog)
        } catch {
            state.errorLog.log(.emerg, error.description)
            return
        }
        if let e = LimitReqZone.reloadConflict(config, previous: state.generation.limitReqZones) {
            state.errorLog.log(.emerg, e)
            return
        }
        do {
            let (errorTargets, errorSyslogs) = try openErrorLogs(config)
            let tls = try Server.buildTLS(config, previous: state.generation.tls)
            let listeners = try bindListeners(config)
            for a in listenAlerts { state.errorLog.log(.alert, a) }
            let accessFiles = try openAccessLogs(config)
            if config.main.workerProcesses != workerCount {
                state.errorLog.log(
                    .warn, "changing worker_processes from \(workerCount) needs a restart; keeping \(workerCount)")
            }
            for w in config.warnings { state.errorLog.log(.warn, w) }
            state.errorLog.replaceTargets(errorTargets, syslogs: errorSyslogs)
            for w in tls.warnings { state.errorLog.log(.warn, w) }
            generationNumber += 1
            let generation = Generation(
                number: generationNumber, config: config, listeners: listeners, accessLogFiles: accessFiles, tls: tls,
                previous: state.generation)
            state.publish(generation)
            for w in workers { w.wake() }
            housekeeping?.replace(with: HousekeepingWork(generation: generation, log: state.errorLog))
            state.errorLog.log(.notice, "reconfigured (generation \(generationNumber))")
        } catch {
            state.errorLog.log(.emerg, error.description)
        }
    }

    private func closeRetiredSockets() {
        let now = Clock.monotonicMilliseconds()
        retiredSockets.removeAll { entry in
            if entry.closeAt > now { return false }
            for fd in entry.fds { Socket.close(fd) }
            for address in entry.addresses { access.release(address) }
            return true
        }
    }

    // MARK: resources

    /// The main context's error logs: files, and `syslog:` destinations.
    private func openErrorLogs(_ config: RuntimeConfig) throws(StartupError) -> (
        [(LogFile, LogLevel)], [(SyslogSink, LogLevel)]
    ) {
        var targets = config.main.errorLogs
        if targets.isEmpty { targets = [ErrorLogTarget(path: options.prefix + "logs/error.log", level: .error)] }
        var files: [(LogFile, LogLevel)] = []
        var syslogs: [(SyslogSink, LogLevel)] = []
        for t in targets {
            if let s = t.syslog {
                syslogs.append((logFiles.syslog(s), t.level))
            } else {
                files.append((try openLog(t.path), t.level))
            }
        }
        return (files, syslogs)
    }

    private func openAccessLogs(_ config: RuntimeConfig) throws(StartupError) -> [String: LogFile] {
        var files: [String: LogFile] = [:]
        for path in config.accessLogPaths where files[path] == nil { files[path] = try openLog(path) }
        return files
    }

    private func openLog(_ path: String) throws(StartupError) -> LogFile {
        do { return try logFiles.file(path) } catch {
            throw StartupError(
                description: "open() \"\(path)\" failed (\(error.errno): \(SystemError.message(error.errno)))")
        }
    }

    /// What a listen's options ask of its socket.
    static func tuning(_ o: ListenOptions) -> Socket.ListenTuning {
        var t = Socket.ListenTuning()
        t.receiveBuffer = o.rcvbuf
        t.sendBuffer = o.sndbuf
        t.fastOpen = o.fastopen
        if let k = o.soKeepalive {
            t.keepalive = k.enabled
            t.keepIdle = k.idle
            t.keepInterval = k.interval
            t.keepCount = k.count
        }
        return t
    }

    /// Binds every address of `config` (reusing sockets already bound), one
    /// SO_REUSEPORT socket per worker; sockets no longer used are retired.
    private func bindListeners(_ config: RuntimeConfig) throws(StartupError) -> [[ListenerSpec]] {
        var next: [ListenAddress: [Int32]] = [:]
        var fresh: [Int32] = []
        var freshAddresses: [ListenAddress] = []
        listenAlerts = []
        let bound = config.listenGroups.filter { $0.bindsOwnSocket }
        for group in bound {
            if let existing = sockets[group.address] {
                next[group.address] = existing
                continue
            }
            do throws(SystemError) {
                let fds = try access.listen(group.address, options: group.options, count: workerCount)
                fresh += fds
                freshAddresses.append(group.address)
                next[group.address] = fds
                for fd in Set(fds) {
                    listenAlerts += Socket.tune(fd, Server.tuning(group.options), address: "\(group.address)")
                }
            } catch {
                for fd in Set(fresh) { Socket.close(fd) }
                for address in freshAddresses { access.release(address) }
                throw StartupError(
                    description:
                        "\(error.call)() to \(group.address) failed (\(error.errno): \(SystemError.message(error.errno)))"
                )
            }
        }
        let gone = sockets.filter { next[$0.key] == nil }
        if !gone.isEmpty {
            let fds = Array(Set(gone.flatMap { $0.value }))
            retiredSockets.append((Clock.monotonicMilliseconds() + 2000, Array(gone.keys), fds))
        }
        // A unix socket no longer listened on loses its file now (nginx deletes it too).
        for a in gone.keys { a.unixPath.map(FileSystem.unlink) }
        sockets = next
        return (0..<workerCount).map { w in
            bound.map { ListenerSpec(fd: next[$0.address]![w], group: $0) }
        }
    }
}
