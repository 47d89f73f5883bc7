// The messages between the serving process and its privileged supervisor, one per
// SOCK_SEQPACKET datagram: a request is an operation byte and NUL-separated fields; a
// reply is an errno (0: done), the failed call's name, then the payload, with any
// descriptors attached (SCM_RIGHTS). Only the serving process asks; the supervisor only
// answers, so neither side ever waits on the other while holding a request.

import SwiftginxConfig
import SwiftginxPosix

enum BrokerRequest: Equatable {
    case openForReading(String)
    case openForAppending(String)
    case glob(String)
    case listen(ListenAddress, backlog: Int, reuseport: Bool, ipv6only: Bool, deferred: Bool, count: Int)
    case release(ListenAddress)
    /// Every socket is bound and every worker started: the supervisor writes the pid file.
    case ready

    func encoded() -> [UInt8] {
        func message(_ op: Character, _ fields: [String]) -> [UInt8] {
            var out: [UInt8] = [op.asciiValue!]
            for (i, f) in fields.enumerated() {
                if i > 0 { out.append(0) }
                out += Array(f.utf8)
            }
            return out
        }
        switch self {
        case .openForReading(let path): return message("r", [path])
        case .openForAppending(let path): return message("a", [path])
        case .glob(let pattern): return message("g", [pattern])
        case .listen(let a, let backlog, let reuseport, let ipv6only, let deferred, let count):
            return message(
                "l",
                [
                    a.host, "\(a.port)", "\(backlog)", reuseport ? "1" : "0", ipv6only ? "1" : "0",
                    deferred ? "1" : "0",
                    "\(count)",
                ])
        case .release(let a): return message("x", [a.host, "\(a.port)"])
        case .ready: return message("R", [])
        }
    }

    init?(_ bytes: [UInt8]) {
        guard let op = bytes.first else { return nil }
        let fields = bytes.dropFirst().split(separator: 0, omittingEmptySubsequences: false).map {
            String(decoding: $0, as: UTF8.self)
        }
        func address() -> ListenAddress? {
            guard fields.count >= 2, let port = Int(fields[1]) else { return nil }
            return ListenAddress(host: fields[0], port: port)
        }
        switch op {
        case UInt8(ascii: "r"): self = .openForReading(fields[0])
        case UInt8(ascii: "a"): self = .openForAppending(fields[0])
        case UInt8(ascii: "g"): self = .glob(fields[0])
        case UInt8(ascii: "l"):
            guard let a = address(), fields.count == 7, let backlog = Int(fields[2]), let count = Int(fields[6]),
                count > 0, count <= 64
            else { return nil }
            self = .listen(
                a, backlog: backlog, reuseport: fields[3] == "1", ipv6only: fields[4] == "1",
                deferred: fields[5] == "1",
                count: count)
        case UInt8(ascii: "x"):
            guard let a = address() else { return nil }
            self = .release(a)
        case UInt8(ascii: "R"): self = .ready
        default: return nil
        }
    }
}

/// A reply: `errno` 0 with a payload (and descriptors), or the failed call and errno.
struct BrokerReply {
    var errno: Int32 = 0
    var call: String = ""
    var payload: [UInt8] = []

    func encoded() -> [UInt8] {
        var out: [UInt8] = withUnsafeBytes(of: errno.littleEndian) { Array($0) }
        out += Array(call.utf8)
        out.append(0)
        return out + payload
    }

    init(errno: Int32 = 0, call: String = "", payload: [UInt8] = []) {
        self.errno = errno
        self.call = call
        self.payload = payload
    }

    init?(_ bytes: [UInt8]) {
        guard bytes.count >= 5, let nul = bytes[4...].firstIndex(of: 0) else { return nil }
        errno = bytes[0..<4].withUnsafeBytes { Int32(littleEndian: $0.loadUnaligned(as: Int32.self)) }
        call = String(decoding: bytes[4..<nul], as: UTF8.self)
        payload = Array(bytes[(nul + 1)...])
    }

    static func failure(_ e: SystemError) -> BrokerReply { BrokerReply(errno: e.errno, call: e.call) }
}
