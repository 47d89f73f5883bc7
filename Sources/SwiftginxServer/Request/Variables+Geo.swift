// A `geo` variable's value for a request (SwiftginxConfig/GeoBlocks.swift): the address
// is the client's (after realip) or the block's source value; when the block lists
// `proxy` networks and the address is one of them, X-Forwarded-For headers (the last
// first) give the address instead. Nothing is allocated: the headers are read in place.

import SwiftginxConfig
import SwiftginxHTTP

extension Variables {
    static func geoValue(_ r: Request, _ geo: GeoBlock) -> [UInt8] {
        var address: GeoAddress?
        if let source = geo.source {
            let text = evaluate(r, source)
            address = text.withUnsafeBytes { GeoAddress.parse($0) }
        } else {
            address = r.peer.withAddressBytes { GeoAddress(raw: $0) }
        }
        if !geo.proxies.isEmpty, r.head.headLength > 0 {
            let buf = r.headBytes
            let headers = r.head.headers
            geo.forwarded(&address) { wanted in
                var seen = 0
                for h in headers.reversed() where asciiCaseEqual(buf[h.name], HeaderName.xForwardedFor) {
                    if seen == wanted { return UnsafeRawBufferPointer(rebasing: buf[h.value]) }
                    seen += 1
                }
                return nil
            }
        }
        return geo.lookup(address)
    }
}
