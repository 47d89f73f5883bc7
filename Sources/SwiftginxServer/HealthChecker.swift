// Active health checks (`health_check`, `match`): one thread per upstream group that
// has checks, for the whole process, so a peer is checked once per interval whatever
// the number of workers. Each round checks every peer (backups too) in turn with the
// location's connect and read timeouts — checks never pile up — sends `GET uri` (over
// HTTP, or as a uwsgi packet for uwsgi_pass), judges the answer by its `match` block
// (default: a 2xx or 3xx status), and updates the shared peer table: `fails` failures
// in a row make a peer unhealthy, `passes` successes make it healthy again (then
// `slow_start` ramps its weight). State changes are logged. A reload retires the
// checkers of the old generation.

import Glibc
import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxUpstream
import Synchronization

final class HealthChecker: Sendable {
    private let stopped = Atomic<Bool>(false)
    private let generation: Generation
    private let log: ErrorLog

    init(generation: Generation, log: ErrorLog) {
        self.generation = generation
        self.log = log
    }

    /// Starts one thread per group with checks, detached: a retired checker's thread ends
    /// by itself and its resources go with it (nothing joins it, reload after reload).
    func start() {
        for (index, checks) in generation.config.healthChecks where index < generation.peerTables.count {
            let table = generation.peerTables[index]
            let thread = ProcessControl.startThread { [self] in self.run(table, checks) }
            pthread_detach(thread)
        }
    }

    /// Asks the threads to end (each notices within a tenth of a second, or when its
    /// current check times out).
    func stop() { stopped.store(true, ordering: .releasing) }

    private var isStopped: Bool { stopped.load(ordering: .acquiring) }

    private func run(_ table: PeerTable, _ checks: [HealthCheck]) {
        var rng = SplitMix64(seed: UInt64(bitPattern: Clock.monotonicMilliseconds()))
        while !isStopped {
            for check in checks {
                for (i, server) in table.group.servers.enumerated() where !server.down {
                    if isStopped { return }
                    let started = Clock.monotonicMilliseconds()
                    let (passed, error) = probe(server.address, check)
                    let now = Clock.monotonicMilliseconds()
                    let change = table.recordCheck(
                        i, passed: passed, error: error, responseMs: now - started, check: check, now: now)
                    let peer = table.addressTexts[i]
                    if change == false {
                        log.log(.warn, "peer \(peer) in upstream \"\(table.group.name)\" is unhealthy: \(error)")
                    } else if change == true {
                        log.log(.notice, "peer \(peer) in upstream \"\(table.group.name)\" is healthy")
                    }
                }
            }
            let interval = checks.map(\.interval).min() ?? 5_000
            let jitter = checks.map(\.jitter).max() ?? 0
            var wait = Int64(interval) + (jitter > 0 ? Int64(rng.next() % UInt64(jitter)) : 0)
            while wait > 0 && !isStopped {
                let slice = min(wait, 100)
                usleep(useconds_t(slice * 1000))
                wait -= slice
            }
        }
    }

    /// One check of one peer: (passed, why not).
    func probe(_ address: PeerAddress, _ check: HealthCheck) -> (Bool, String) {
        var target = address
        if let port = check.port, case .inet(let host, _) = address { target = .inet(host: host, port: port) }
        let fd: Int32
        do {
            let start: Socket.ConnectStart
            switch target {
            case .inet(let host, let port):
                guard let a = SocketAddress(host: host, port: port) else { return (false, "invalid address") }
                start = try Socket.connect(to: a)
            case .unix(let path):
                start = try Socket.connect(unixPath: path)
            }
            switch start {
            case .connected(let f): fd = f
            case .inProgress(let f):
                fd = f
                guard Socket.wait(fd, writable: true, timeout: check.connectTimeout) else {
                    Socket.close(fd)
                    return (false, "upstream timed out (110: Connection timed out) while connecting to upstream")
                }
                if let e = Socket.pendingError(fd) {
                    Socket.close(fd)
                    return (false, "\(e) while connecting to upstream")
                }
            }
        } catch {
            return (false, "\(error) while connecting to upstream")
        }
        defer { Socket.close(fd) }
        let request = requestBytes(check)
        let deadline = Clock.monotonicMilliseconds() + Int64(check.readTimeout)
        var sent = 0
        while sent < request.count {
            let left = Int(deadline - Clock.monotonicMilliseconds())
            guard left > 0, Socket.wait(fd, writable: true, timeout: left) else {
                return (false, "upstream timed out (110: Connection timed out) while sending request to upstream")
            }
            var failure = ""
            let written: Int = request.withUnsafeBytes { b in
                do {
                    if case .processed(let n) = try Socket.write(fd, b.baseAddress! + sent, b.count - sent) { return n }
                    return 0
                } catch {
                    failure = "\(error)"
                    return 0
                }
            }
            if !failure.isEmpty { return (false, "\(failure) while sending request to upstream") }
            sent += written
        }
        // The answer: read until the upstream closes (Connection: close), at most 256 KiB.
        var answer: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 16384)
        while answer.count < 262_144 {
            let left = Int(deadline - Clock.monotonicMilliseconds())
            guard left > 0, Socket.wait(fd, writable: false, timeout: left) else {
                if answer.isEmpty {
                    return (false, "upstream timed out (110: Connection timed out) while reading response header")
                }
                break
            }
            let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 {
                if errno == EINTR || errno == EAGAIN { continue }
                if answer.isEmpty { return (false, "\(SystemError("recv", errno: errno)) while reading upstream") }
                break
            }
            if n == 0 { break }
            answer += buf[0..<n]
        }
        return judge(answer, check)
    }

    private func requestBytes(_ check: HealthCheck) -> [UInt8] {
        if check.proto == .uwsgi {
            let (path, query) = splitURI(check.uri)
            let params: [(key: [UInt8], value: [UInt8])] = [
                ("REQUEST_METHOD", "GET"), ("REQUEST_URI", check.uri), ("PATH_INFO", path), ("QUERY_STRING", query),
                ("SERVER_PROTOCOL", "HTTP/1.0"), ("SERVER_NAME", check.host), ("SERVER_PORT", "80"),
                ("REMOTE_ADDR", "127.0.0.1"), ("HTTP_HOST", check.host),
                ("HTTP_USER_AGENT", "swiftginx-health-check"),
            ].map { (Array($0.0.utf8), Array($0.1.utf8)) }
            var out: [UInt8] = []
            _ = UwsgiPacket.append(params: params, modifier1: 0, modifier2: 0, to: &out)
            return out
        }
        return Array(
            ("GET \(check.uri) HTTP/1.0\r\nHost: \(check.host)\r\nConnection: close\r\n"
                + "User-Agent: swiftginx-health-check\r\n\r\n").utf8)
    }

    private func splitURI(_ uri: String) -> (String, String) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<q]), String(uri[uri.index(after: q)...]))
    }

    /// The answer against the match block (or 2xx/3xx).
    func judge(_ answer: [UInt8], _ check: HealthCheck) -> (Bool, String) {
        var parser = ResponseParser(maxHeadBytes: 65536)
        var head = ResponseHead()
        let result = answer.withUnsafeBytes { parser.parse($0, into: &head) }
        guard result == .complete else {
            if case .error(let e) = result { return (false, e.logMessage) }
            return (false, "upstream prematurely closed connection while reading response header from upstream")
        }
        let status = head.status
        guard let m = check.match else {
            return (200...399).contains(status) ? (true, "") : (false, "status \(status)")
        }
        for s in m.statuses {
            let inRange = s.ranges.contains { $0.contains(status) }
            if inRange == s.negated { return (false, "status \(status) does not match \"\(m.name)\"") }
        }
        for condition in m.headers {
            let ok: Bool = answer.withUnsafeBytes { buf in
                func value(_ name: String) -> [UInt8]? {
                    let n = Array(name.utf8)
                    return head.header(n, in: buf).map { Array(buf[$0]) }
                }
                switch condition {
                case .present(let name, let negated): return (value(name) != nil) != negated
                case .equals(let name, let v, let negated):
                    return (value(name).map { String(decoding: $0, as: UTF8.self) == v } ?? false) != negated
                case .matches(let name, let regex, let negated):
                    guard let v = value(name) else { return negated }
                    return v.withUnsafeBytes { regex.matches($0) } != negated
                }
            }
            if !ok { return (false, "header does not match \"\(m.name)\"") }
        }
        if !m.body.isEmpty {
            var body = Array(answer[min(head.headLength, answer.count)...])
            if head.isChunked {
                var dec = ChunkedDecoder()
                var decoded: [UInt8] = []
                var off = 0
                body.withUnsafeBytes { raw in
                    loop: while true {
                        switch dec.next(raw, offset: &off) {
                        case .data(let r): decoded += raw[r]
                        default: break loop
                        }
                    }
                }
                body = decoded
            }
            for (regex, negated) in m.body where body.withUnsafeBytes({ regex.matches($0) }) == negated {
                return (false, "body does not match \"\(m.name)\"")
            }
        }
        return (true, "")
    }
}
