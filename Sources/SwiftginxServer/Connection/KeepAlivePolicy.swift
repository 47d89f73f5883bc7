// The keep-alive limits nginx applies when a request enters a location:
// `keepalive_time` (no keep-alive once the connection has lived that long) and
// `keepalive_disable` (old MSIE after a POST, Safari on Mac OS X). The request and
// timeout limits (`keepalive_requests`, `keepalive_timeout 0`) are applied with the
// response head. The User-Agent is only looked at when a browser rule can apply.

import SwiftginxConfig
import SwiftginxHTTP

extension Request {
    /// Turns keep-alive off when `s`'s limits say so.
    @inline(__always) func applyKeepAliveLimits(_ s: LocationSettings) {
        guard keepAlive, let c = connection else { return }
        if worker.now - c.acceptedAt > Int64(s.keepaliveTime) {
            keepAlive = false
            return
        }
        let disable = s.keepaliveDisable
        if disable.isEmpty || head.headLength == 0 { return }
        let wantsMSIE = disable.contains(.msie6) && head.method == .post
        guard wantsMSIE || disable.contains(.safari) else { return }
        let buf = headBytes
        guard let ua = head.header(HeaderName.userAgent, in: buf) else { return }
        let quirks = UserAgentQuirks(UnsafeRawBufferPointer(rebasing: buf[ua]))
        if (wantsMSIE && quirks.msie6) || (disable.contains(.safari) && quirks.safari) { keepAlive = false }
    }
}

/// What nginx notes about a User-Agent: MSIE 4/5/6 (6 without "SV1") and Safari
/// on Mac OS X (not when it also says MSIE, Opera, Gecko or Chrome).
struct UserAgentQuirks {
    var msie6 = false
    var safari = false

    init(_ ua: UnsafeRawBufferPointer) {
        var msie = false
        if let m = Self.find("MSIE ", in: ua, from: 0), m + 7 < ua.count {
            msie = true
            if ua[m + 6] == UInt8(ascii: ".") {
                switch ua[m + 5] {
                case UInt8(ascii: "4"), UInt8(ascii: "5"): msie6 = true
                case UInt8(ascii: "6"): msie6 = Self.find("SV1", in: ua, from: m + 8) == nil
                default: break
                }
            }
        }
        if Self.find("Opera", in: ua, from: 0) != nil {
            msie6 = false
            return
        }
        if !msie && Self.find("Gecko/", in: ua, from: 0) == nil && Self.find("Chrome/", in: ua, from: 0) == nil {
            safari = Self.find("Safari/", in: ua, from: 0) != nil && Self.find("Mac OS X", in: ua, from: 0) != nil
        }
    }

    /// The offset of `word` in `ua` at or after `from` (case-sensitive, as nginx).
    static func find(_ word: StaticString, in ua: UnsafeRawBufferPointer, from: Int) -> Int? {
        let w = UnsafeRawBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard ua.count >= w.count, from <= ua.count - w.count else { return nil }
        var i = from
        while i <= ua.count - w.count {
            var j = 0
            while j < w.count && ua[i + j] == w[j] { j += 1 }
            if j == w.count { return i }
            i += 1
        }
        return nil
    }
}
