// An asynchronous DNS client for one `resolver` directive on one worker thread, over
// c-ares (Debian's libc-ares, through CSwiftginxDNS): queries go to the directive's
// servers only (no /etc/hosts, no search domains, as nginx's resolver), A and AAAA as
// `ipv4=`/`ipv6=` say, retried until `resolver_timeout`. It never blocks: c-ares
// reports the sockets it wants watched through `onSocketState`, the owner adds them to
// its epoll and calls `process(fd:readable:writable:)` on their events and
// `processTimeouts()` when `nextTimeout()` is due. Answers come back through the
// completion given to `resolve`, with the smallest TTL of the records, and failures
// with nginx's resolver codes ("(3: Host not found)", "(110: Operation timed out)").

import CSwiftginxDNS
import Glibc

public final class DNSChannel {
    /// The addresses of a name (port 0) and how long they may be used, in seconds.
    public struct Answer: Sendable {
        public let addresses: [SocketAddress]
        public let ttl: Int

        public init(addresses: [SocketAddress], ttl: Int) {
            self.addresses = addresses
            self.ttl = ttl
        }
    }

    /// A failed resolution, with nginx's resolver code and text.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        /// The DNS rcode (1–5) or 110 for a timeout.
        public let code: Int

        public init(code: Int) { self.code = code }

        public var description: String {
            let text: String
            switch code {
            case 1: text = "Format error"
            case 2: text = "Server failure"
            case 3: text = "Host not found"
            case 4: text = "Unimplemented"
            case 5: text = "Operation refused"
            case 110: text = "Operation timed out"
            default: text = "Unknown error"
            }
            return "(\(code): \(text))"
        }
    }

    public typealias Completion = (Result<Answer, Failure>) -> Void

    private final class Query {
        let completion: Completion
        init(_ completion: @escaping Completion) { self.completion = completion }
    }

    private var dns: OpaquePointer? = nil
    /// Called with a socket c-ares opened, closed or changed interest in:
    /// (fd, wants to read, wants to write); both false means it was closed.
    public var onSocketState: ((Int32, Bool, Bool) -> Void)? = nil

    /// A channel asking `servers` ("127.0.0.1:53,[::1]:5353"), each try waiting
    /// `tryTimeout` ms, `tries` times in all; nil if c-ares refuses them.
    public init?(servers: String, tryTimeout: Int, tries: Int) {
        let data = Unmanaged.passUnretained(self).toOpaque()
        dns = swiftginx_dns_new(
            servers, Int32(clamping: tryTimeout), Int32(clamping: tries),
            { data, fd, readable, writable in
                guard let data else { return }
                let me = Unmanaged<DNSChannel>.fromOpaque(data).takeUnretainedValue()
                me.onSocketState?(fd, readable != 0, writable != 0)
            }, data)
        if dns == nil { return nil }
    }

    deinit {
        // Pending queries are answered (code 2) before this returns.
        onSocketState = nil
        swiftginx_dns_free(dns)
    }

    /// Resolves `name` to IPv4 and/or IPv6 addresses.
    public func resolve(_ name: String, ipv4: Bool, ipv6: Bool, completion: @escaping Completion) {
        let query = Unmanaged.passRetained(Query(completion)).toOpaque()
        swiftginx_dns_resolve(
            dns, name, ipv4 && ipv6 ? 0 : ipv6 ? 6 : 4,
            { arg, code, addresses, count, ttl in
                guard let arg else { return }
                let query = Unmanaged<Query>.fromOpaque(arg).takeRetainedValue()
                guard code == 0, let addresses, count > 0 else {
                    query.completion(.failure(Failure(code: Int(code == 0 ? 3 : code))))
                    return
                }
                let list = addresses.bindMemory(to: sockaddr_storage.self, capacity: Int(count))
                var out: [SocketAddress] = []
                out.reserveCapacity(Int(count))
                for i in 0..<Int(count) { out.append(SocketAddress(storage: list[i])) }
                query.completion(.success(Answer(addresses: out, ttl: Int(ttl))))
            }, query)
    }

    /// One SRV record: where a service runs.
    public struct Service: Sendable {
        public let priority: Int
        public let weight: Int
        public let port: Int
        public let target: String
    }

    public typealias ServiceCompletion = (Result<(records: [Service], ttl: Int), Failure>) -> Void

    private final class ServiceQuery {
        let completion: ServiceCompletion
        init(_ completion: @escaping ServiceCompletion) { self.completion = completion }
    }

    /// Asks for the SRV records of `name` ("_http._tcp.example.net").
    public func resolveService(_ name: String, completion: @escaping ServiceCompletion) {
        let query = Unmanaged.passRetained(ServiceQuery(completion)).toOpaque()
        swiftginx_dns_resolve_srv(
            dns, name,
            { arg, code, records, count, ttl in
                guard let arg else { return }
                let query = Unmanaged<ServiceQuery>.fromOpaque(arg).takeRetainedValue()
                guard code == 0, let records, count > 0 else {
                    query.completion(.failure(Failure(code: Int(code == 0 ? 3 : code))))
                    return
                }
                var out: [Service] = []
                for i in 0..<Int(count) {
                    var r = records[i]
                    let target = withUnsafeBytes(of: &r.target) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    out.append(
                        Service(priority: Int(r.priority), weight: Int(r.weight), port: Int(r.port), target: target))
                }
                query.completion(.success((out, Int(ttl))))
            }, query)
    }

    /// Readiness of one of c-ares's sockets.
    public func process(fd: Int32, readable: Bool, writable: Bool) {
        swiftginx_dns_process(dns, readable ? fd : -1, writable ? fd : -1)
    }

    /// Retries and timeouts that are due.
    public func processTimeouts() {
        swiftginx_dns_process(dns, -1, -1)
    }

    /// Milliseconds until c-ares has a retry or timeout to handle (nil: none pending).
    public func nextTimeout() -> Int? {
        let t = swiftginx_dns_timeout_ms(dns)
        return t < 0 ? nil : Int(t)
    }
}
