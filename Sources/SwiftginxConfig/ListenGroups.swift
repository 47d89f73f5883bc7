// The listening side of a compiled configuration: the addresses `listen` names (TCP,
// IPv6, unix sockets), the socket options gathered from every `listen` of one address,
// and the group of servers that share it (with its default server).

import SwiftginxRouting

/// A `listen` address shared by one or more servers.
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// Numeric host: "0.0.0.0", "127.0.0.1", "::", "::1"; "unix:/path" for a unix socket.
    public var host: String
    /// The TCP port (0 for a unix socket).
    public var port: Int
    public var isUnix: Bool { host.hasPrefix("unix:") }
    public var isIPv6: Bool { !isUnix && host.contains(":") }
    /// The socket's path when it is a unix-domain socket.
    public var unixPath: String? { isUnix ? String(host.dropFirst(5)) : nil }
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }
    /// `listen unix:/path`.
    public init(unixPath: String) {
        self.host = "unix:" + unixPath
        self.port = 0
    }
    /// nginx's spelling: "127.0.0.1:8080", "[::]:80", "unix:/path".
    public var description: String { isUnix ? host : isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Socket options gathered from every `listen` of one address.
public struct ListenOptions: Sendable, Equatable {
    public var backlog: Int = 511
    public var reuseport: Bool = false
    public var ipv6only: Bool = true
    public var deferred: Bool = false
    public var ssl: Bool = false
    /// `http2` was given on some listen of this address.
    public var http2: Bool = false
    /// `proxy_protocol` was given on some listen of this address: every connection
    /// starts with a PROXY protocol header (v1 or v2).
    public var proxyProtocol: Bool = false
    /// `bind`: bind this address separately even when a wildcard listens on its port.
    public var bind: Bool = false
    /// `rcvbuf=size` / `sndbuf=size` (nil = system default).
    public var rcvbuf: Int? = nil
    public var sndbuf: Int? = nil
    /// `so_keepalive=on|off|[idle]:[interval]:[count]` (nil = system default).
    public var soKeepalive: ListenKeepalive? = nil
    /// `fastopen=N`: the TCP Fast Open queue length.
    public var fastopen: Int? = nil
    public init() {}
}

/// The servers that listen on one address; the first (or `default_server`) is the default.
public final class ListenGroup: Sendable {
    public let address: ListenAddress
    public let options: ListenOptions
    public let servers: [VirtualServer]
    public let defaultServer: VirtualServer
    public let names: ServerNameIndex
    /// False for a specific address whose port also has a wildcard listen of the same
    /// family (and no `bind`): nginx does not bind it, the wildcard socket accepts its
    /// connections and `RuntimeConfig.listenGroup(localHost:port:)` finds this group.
    public let bindsOwnSocket: Bool
    /// The one server of an address that has one and no regex server_name: every Host
    /// (any name, none, an unknown one) selects it, so the name is not looked up.
    public let onlyServer: VirtualServer?

    public init(
        address: ListenAddress, options: ListenOptions, servers: [VirtualServer], defaultServer: VirtualServer,
        bindsOwnSocket: Bool = true
    ) {
        self.address = address
        self.options = options
        self.servers = servers
        self.defaultServer = defaultServer
        self.bindsOwnSocket = bindsOwnSocket
        self.names = ServerNameIndex(servers.enumerated().map { ($0.element.serverNames, $0.offset) })
        self.onlyServer = servers.count == 1 && !names.hasRegexes ? defaultServer : nil
    }

    /// Server for a Host header value (already lowercased, port stripped), nginx's order:
    /// exact, longest leading wildcard, longest trailing wildcard, first matching regex,
    /// else the default server.
    @inlinable public func server(forHost host: UnsafeRawBufferPointer) -> VirtualServer {
        if let i = names.match(host) { return servers[i] }
        return defaultServer
    }

    /// The same, also returning the captures when a `~regex` server_name decided.
    public func server(forHost host: UnsafeRawBufferPointer, captures: inout (Regex, [Range<Int>])?) -> VirtualServer {
        if let i = names.match(host, captures: &captures) { return servers[i] }
        return defaultServer
    }
}
