// Response head fields shared by the request's head builder and the content
// handlers: "Name: value" lines into the output buffer, the statuses after which
// `add_header` and `expires` apply, and the Expires/Cache-Control pair of nginx's
// `expires` directive.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxPosix

extension ByteBuffer {
    @inline(__always) func appendHeader(_ name: StaticString, _ value: [UInt8]) {
        append(name)
        append(": ")
        append(value)
        append("\r\n")
    }

    @inline(__always) func appendHeader(_ name: StaticString, decimal: Int64) {
        append(name)
        append(": ")
        append(decimal: decimal)
        append("\r\n")
    }
}

/// Statuses after which `add_header` (without `always`) and `expires` apply.
@inline(__always) func isSuccessOrRedirect(_ s: Int) -> Bool {
    switch s {
    case 200, 201, 204, 206, 301, 302, 303, 304, 307, 308: true
    default: false
    }
}

enum ExpiresHeader {
    /// Expires and Cache-Control for `expires` (not `.off`), `mtime` for `modified`.
    static func append(_ e: Expires, mtime: Int?, now: Int, to output: ByteBuffer) {
        switch e {
        case .off, .variable:
            return
        case .epoch:
            output.append("Expires: Thu, 01 Jan 1970 00:00:01 GMT\r\nCache-Control: no-cache\r\n")
        case .max:
            output.append("Expires: Thu, 31 Dec 2037 23:55:55 GMT\r\nCache-Control: max-age=315360000\r\n")
        case .daily(let secondsOfDay):
            // The next occurrence of that local time of day.
            let offset = Clock.utcOffset(at: now)
            let localMidnight = (now + offset) / 86400 * 86400 - offset
            var expiresAt = localMidnight + secondsOfDay
            if expiresAt <= now { expiresAt += 86400 }
            output.appendHeader("Expires", HTTPDate.format(expiresAt))
            output.appendHeader("Cache-Control", Array("max-age=\(expiresAt - now)".utf8))
        case .access(let t), .modified(let t):
            var expiresAt = now + t
            if case .modified = e { expiresAt = (mtime ?? now) + t }
            output.appendHeader("Expires", HTTPDate.format(expiresAt))
            let maxAge = expiresAt - now
            if maxAge < 0 || t < 0 {
                output.append("Cache-Control: no-cache\r\n")
            } else {
                output.appendHeader("Cache-Control", Array("max-age=\(maxAge)".utf8))
            }
        }
    }
}
