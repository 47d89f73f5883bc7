// Choosing the virtual server of a request (nginx's find-virtual-server): the Host
// header, or the absolute-form authority, lowercased without its port and trailing
// dot, looked up among the servers of the address the request came to (exact,
// wildcard, regex names, then default_server). A server_name regex's captures
// become the request's captures and named variables.

import SwiftginxConfig
import SwiftginxHTTP
import SwiftginxRouting

enum ServerSelection {
    /// Host header (or absolute-form authority) → server: the name the parser validated
    /// (without port and trailing dot), lowercased.
    static func select(_ r: Request, _ buf: UnsafeRawBufferPointer, _ group: ListenGroup) -> VirtualServer {
        if let only = group.onlyServer { return only }
        // No Host (HTTP/1.0): the server named "" (nginx's default server_name), if any.
        guard let h = r.head.hostName else {
            return group.server(forHost: UnsafeRawBufferPointer(start: nil, count: 0))
        }
        let end = h.upperBound
        let count = end - h.lowerBound
        return withUnsafeTemporaryAllocation(of: UInt8.self, capacity: max(count, 1)) { tmp in
            for j in 0..<count {
                let c = buf[h.lowerBound + j]
                tmp[j] = (c >= 65 && c <= 90) ? c | 0x20 : c
            }
            let host = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(tmp)[0..<count])
            var captures: (Regex, [Range<Int>])? = nil
            let server = group.server(forHost: host, captures: &captures)
            if let (regex, ranges) = captures {
                // server_name regex captures are variables until a location regex replaces them.
                r.captureRegex = regex
                r.captureSubject = Array(host)
                r.captures = ranges
                for (name, n) in regex.namedGroups where n < ranges.count && !ranges[n].isEmpty {
                    r.customVariables[name] = Array(host[ranges[n]])
                }
            }
            return server
        }
    }
}
