// What the server needs privileges for, in one place: opening configuration,
// certificate and key files, opening log files, and binding listening sockets. A server
// that runs as the user who started it does these itself (`DirectAccess`); one started
// as root that serves as the `user` account asks its privileged supervisor to do them
// and receives the descriptors (`BrokerAccess`), at startup, on reload and on reopen.

import SwiftginxConfig
import SwiftginxPosix

public protocol PrivilegedAccess: AnyObject, Sendable {
    /// `path` opened read-only (configuration, certificates, keys, password files).
    func openForReading(_ path: String) throws(SystemError) -> Int32
    /// `path` opened for appending, created if missing (log files).
    func openForAppending(_ path: String) throws(SystemError) -> Int32
    /// The paths matching an `include` pattern, sorted.
    func glob(_ pattern: String) throws(SystemError) -> [String]
    /// `count` listening sockets on `address` (one per worker; SO_REUSEPORT when more
    /// than one). The same address asked again returns sockets on the same port.
    func listen(_ address: ListenAddress, options: ListenOptions, count: Int) throws(SystemError) -> [Int32]
    /// `address` is no longer listened on (the caller closes its own descriptors).
    func release(_ address: ListenAddress)
}

extension PrivilegedAccess {
    /// A whole file, read through a descriptor opened with these privileges.
    func readFile(_ path: String) throws(SystemError) -> [UInt8] {
        let fd = try openForReading(path)
        defer { FileSystem.close(fd) }
        return try FileSystem.readAll(fd)
    }
}

/// The calls made in this process, with its own privileges.
public final class DirectAccess: PrivilegedAccess {
    public init() {}

    public func openForReading(_ path: String) throws(SystemError) -> Int32 {
        try FileSystem.openForReading(path)
    }

    public func openForAppending(_ path: String) throws(SystemError) -> Int32 {
        try FileSystem.openAppend(path)
    }

    public func glob(_ pattern: String) throws(SystemError) -> [String] {
        try FileSystem.glob(pattern)
    }

    public func listen(_ address: ListenAddress, options: ListenOptions, count: Int) throws(SystemError) -> [Int32] {
        if let path = address.unixPath {
            // One unix socket that every worker accepts from (mode 0666, as nginx).
            guard let addr = SocketAddress(unixPath: path) else { throw SystemError("bind", errno: 22) }
            let fd = try Socket.listen(address: addr, backlog: options.backlog, reusePort: false, ipv6Only: false)
            return Array(repeating: fd, count: count)
        }
        guard let addr = SocketAddress(host: address.host, port: address.port) else {
            throw SystemError("bind", errno: 22)
        }
        // Per-worker SO_REUSEPORT sockets would silently share a port that another
        // process already uses; probe it first so a busy address fails as in nginx.
        let probe = try Socket.listen(address: addr, backlog: 1, reusePort: false, ipv6Only: options.ipv6only)
        Socket.close(probe)
        var fds: [Int32] = []
        do throws(SystemError) {
            for _ in 0..<count {
                fds.append(
                    try Socket.listen(
                        address: addr, backlog: options.backlog, reusePort: count > 1 || options.reuseport,
                        ipv6Only: options.ipv6only, deferAccept: options.deferred))
            }
        } catch {
            for fd in fds { Socket.close(fd) }
            throw error
        }
        return fds
    }

    /// A unix socket's file goes with it.
    public func release(_ address: ListenAddress) { address.unixPath.map(FileSystem.unlink) }
}
