// systemd's readiness protocol (sd_notify(3)) without libsystemd: when the service
// manager started us with NOTIFY_SOCKET set (a unix datagram socket path, or "@name"
// in the abstract namespace), "READY=1" is sent there once the server listens, so a
// `Type=notify` unit is "active" exactly when requests are served. Without the
// variable nothing happens.

import CSwiftginxShims
import Glibc

public enum ServiceNotify {
    /// Sends `state` ("READY=1\nMAINPID=42") to the service manager, if there is one;
    /// false when there is none or the send failed.
    @discardableResult
    public static func send(_ state: String) -> Bool {
        guard let raw = getenv("NOTIFY_SOCKET") else { return false }
        let path = Array(String(cString: raw).utf8)
        var a = sockaddr_un()
        guard !path.isEmpty, path.count < MemoryLayout.size(ofValue: a.sun_path) else { return false }
        a.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &a.sun_path) { dst in
            for (i, b) in path.enumerated() { dst[i] = b }
            // "@name": the abstract namespace starts with a zero byte.
            if path[0] == UInt8(ascii: "@") { dst[0] = 0 }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path[0] == UInt8(ascii: "@") ? 0 : 1))
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | swiftginx_sock_cloexec(), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        let message = Array(state.utf8)
        let sent = withUnsafePointer(to: &a) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                message.withUnsafeBytes { Glibc.sendto(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL), sa, length) }
            }
        }
        return sent == message.count
    }
}
