// One `syslog:` log destination: a non-blocking datagram socket connected to the
// receiver, shared by every worker (a datagram is sent whole, so lines never mix). Each
// line goes as nginx sends it, in the BSD syslog form
// `<PRI>Mmm dd hh:mm:ss hostname tag: message` (PRI = facility × 8 + severity; the host
// name left out with `nohostname`). A line that cannot be sent is dropped, as in nginx.

import Glibc
import SwiftginxConfig
import SwiftginxPosix

final class SyslogSink: Sendable {
    let target: SyslogTarget
    private let fd: Int32
    /// nginx sends the host name lowercased.
    static let hostName = Socket.hostName().lowercased()

    init(_ target: SyslogTarget) {
        self.target = target
        var fd: Int32 = -1
        if let path = target.unixPath {
            fd = (try? Socket.connectDatagram(unixPath: path)) ?? -1
        } else {
            // The configuration resolved the name: the host is numeric (no resolver here).
            if let address = SocketAddress(host: target.host, port: target.port) {
                fd = (try? Socket.connectDatagram(to: address)) ?? -1
            }
        }
        self.fd = fd
    }

    deinit {
        if fd >= 0 { Socket.close(fd) }
    }

    /// Sends `message` (no trailing newline) with `severity` (0 emerg … 7 debug).
    func send(_ message: UnsafeRawBufferPointer, severity: Int) {
        guard fd >= 0 else { return }
        var line = Array("<\(target.facility * 8 + severity)>\(Self.timestamp()) ".utf8)
        if !target.noHostname {
            line += Self.hostName.utf8
            line.append(UInt8(ascii: " "))
        }
        line += target.tag.utf8
        line += ": ".utf8
        line += message
        _ = line.withUnsafeBytes { Socket.sendDatagram(fd, $0) }
    }

    /// An error-log line (its newline dropped) at its level.
    func send(errorLine line: String, level: LogLevel) {
        var text = line
        if text.hasSuffix("\n") { text.removeLast() }
        text.withUTF8 { send(UnsafeRawBufferPointer($0), severity: level.rawValue - 1) }
    }

    /// "Dec  7 10:00:00" in local time.
    static func timestamp() -> String {
        var t = time(nil)
        var tmv = tm()
        localtime_r(&t, &tmv)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let day = tmv.tm_mday < 10 ? " \(tmv.tm_mday)" : "\(tmv.tm_mday)"
        return "\(months[Int(tmv.tm_mon)]) \(day) \(two(tmv.tm_hour)):\(two(tmv.tm_min)):\(two(tmv.tm_sec))"
    }
}
