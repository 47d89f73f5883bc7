// Active health checks (`health_check`, `match`), run by the housekeeping loop (one
// thread for the whole process, so a peer is checked once per interval whatever the
// number of workers). Every peer of a group with checks (backups too, not `down` ones)
// is a PeerCheck job of its own: all peers are checked at the same time, each on its
// own schedule, so a peer that never answers delays no other. A job runs the group's
// checks on its peer one after another — checks of a peer never pile up — then waits
// the group's interval (the smallest `interval=` of its checks, plus a random part of
// the largest `jitter=`) and starts again. A check is a non-blocking SocketExchange
// within the location's connect timeout, then its read timeout for sending and
// reading: it sends `GET uri` (over HTTP, or as a uwsgi packet for uwsgi_pass), judges
// the answer by its `match` block (default: a 2xx or 3xx status), and updates the
// shared peer table: `fails` failures in a row make a peer unhealthy, `passes`
// successes make it healthy again (then `slow_start` ramps its weight). State changes
// are logged. A reload ends the old generation's checks (their sockets closed).

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix
import SwiftginxUpstream

enum HealthChecker {
    /// One job per checked peer of `generation`.
    static func jobs(_ generation: Generation, log: ErrorLog, seed: UInt64) -> [HousekeepingJob] {
        var rng = SplitMix64(seed: seed)
        var out: [HousekeepingJob] = []
        for (index, checks) in generation.config.healthChecks.sorted(by: { $0.key < $1.key })
        where index < generation.peerTables.count && !checks.isEmpty {
            let table = generation.peerTables[index]
            for (i, server) in table.group.servers.enumerated() where !server.down {
                out.append(.peer(PeerCheck(table: table, peer: i, checks: checks, log: log, seed: rng.next())))
            }
        }
        return out
    }

    static func requestBytes(_ check: HealthCheck) -> [UInt8] {
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

    private static func splitURI(_ uri: String) -> (String, String) {
        guard let q = uri.firstIndex(of: "?") else { return (uri, "") }
        return (String(uri[..<q]), String(uri[uri.index(after: q)...]))
    }

    /// The answer against the match block (or 2xx/3xx).
    static func judge(_ answer: [UInt8], _ check: HealthCheck) -> (Bool, String) {
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

/// The checks of one peer, over and over; lives on the housekeeping loop.
final class PeerCheck {
    private let table: PeerTable
    private let peer: Int
    private let checks: [HealthCheck]
    private let log: ErrorLog
    private let interval: Int
    private let jitter: Int
    private var rng: SplitMix64
    /// The check under way and when it started.
    private var current = 0
    private var started: Int64 = 0

    init(table: PeerTable, peer: Int, checks: [HealthCheck], log: ErrorLog, seed: UInt64) {
        self.table = table
        self.peer = peer
        self.checks = checks
        self.log = log
        interval = checks.map(\.interval).min() ?? 5_000
        jitter = checks.map(\.jitter).max() ?? 0
        rng = SplitMix64(seed: seed)
    }

    /// Starts a round: the first check.
    func begin(now: Int64) -> HousekeepingStep {
        current = 0
        return start(now: now)
    }

    /// Records the check that ended, then starts the next one or waits for the next round.
    func finish(_ outcome: SocketExchange.Outcome, now: Int64) -> HousekeepingStep {
        let (passed, error) = verdict(outcome)
        record(passed, error, now: now)
        current += 1
        return start(now: Clock.monotonicMilliseconds())
    }

    /// Starts check `current` (checks that fail before connecting are recorded at once).
    private func start(now: Int64) -> HousekeepingStep {
        while current < checks.count {
            let check = checks[current]
            started = Clock.monotonicMilliseconds()
            var target = table.group.servers[peer].address
            if let port = check.port, case .inet(let host, _) = target { target = .inet(host: host, port: port) }
            let address: SocketExchange.Target
            switch target {
            case .inet(let host, let port):
                guard let a = SocketAddress(host: host, port: port) else {
                    record(false, "invalid address", now: Clock.monotonicMilliseconds())
                    current += 1
                    continue
                }
                address = .inet(a)
            case .unix(let path):
                address = .unix(path)
            }
            do {
                let exchange = try SocketExchange(
                    address, request: HealthChecker.requestBytes(check), connectTimeout: check.connectTimeout,
                    ioTimeout: check.readTimeout, limit: 262_144, capReads: false, now: started)
                return .exchange(exchange)
            } catch {
                record(false, "\(error) while connecting to upstream", now: Clock.monotonicMilliseconds())
                current += 1
            }
        }
        let wait = Int64(interval) + (jitter > 0 ? Int64(rng.next() % UInt64(jitter)) : 0)
        return .idle(until: Clock.monotonicMilliseconds() + wait)
    }

    /// (passed, why not), as nginx words the failures.
    private func verdict(_ outcome: SocketExchange.Outcome) -> (Bool, String) {
        let timedOut = "upstream timed out (110: Connection timed out)"
        let check = checks[current]
        switch outcome {
        case .answer(let answer):
            return HealthChecker.judge(answer, check)
        case .failed(.connecting, let error, _):
            return (false, "\(error.map { "\($0)" } ?? timedOut) while connecting to upstream")
        case .failed(.sending, let error, _):
            return (false, "\(error.map { "\($0)" } ?? timedOut) while sending request to upstream")
        case .failed(.reading, let error, let answer):
            // Whatever came before the timeout or the error is judged.
            if !answer.isEmpty { return HealthChecker.judge(answer, check) }
            if let error { return (false, "\(error) while reading upstream") }
            return (false, "\(timedOut) while reading response header")
        }
    }

    private func record(_ passed: Bool, _ error: String, now: Int64) {
        let change = table.recordCheck(
            peer, passed: passed, error: error, responseMs: now - started, check: checks[current], now: now)
        let address = table.addressTexts[peer]
        if change == false {
            log.log(.warn, "peer \(address) in upstream \"\(table.group.name)\" is unhealthy: \(error)")
        } else if change == true {
            log.log(.notice, "peer \(address) in upstream \"\(table.group.name)\" is healthy")
        }
    }
}
