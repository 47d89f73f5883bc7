// `ssi on` for a proxied response: the body passes through the SSI filter as it is
// relayed (a command split across reads waits for its end), before the charset module
// and compression, as nginx's filter order has it; the client's head loses
// Content-Length (the answer is chunked, or sent until close), Last-Modified, ETag and
// Accept-Ranges. An `include` here must answer at once (a static file, `return`): one
// of a proxied location fails as a command, since the page is already being relayed.

import SwiftginxConfig

extension UpstreamResponse {
    /// Starts the filter when the response's type is one of `ssi_types` (status 204,
    /// 304 and 101 carry no body).
    func startSSI(_ l: Location) {
        let status = head.status
        guard status != 204 && status != 304 && status != 101 && !request.isHeadOnly else { return }
        let type = headerValue("content-type").map { String(decoding: $0, as: UTF8.self) } ?? ""
        guard !type.isEmpty, l.settings.ssi.processes(type: type) else { return }
        let filter = SSIFilter(request: request, settings: l.settings.ssi)
        filter.waitsForIncludes = false
        ssi = filter
    }

    /// Whether a field of the upstream's head is left out of an SSI answer.
    static func ssiDrops(_ rangesOrETag: Bool, _ name: UnsafeRawBufferPointer.SubSequence) -> Bool {
        rangesOrETag || asciiCaseEqual(name, Array("last-modified".utf8))
    }

    /// Feeds body bytes to the filter and passes on what it gives back.
    func ssiEmit(_ filter: SSIFilter, _ bytes: UnsafeRawBufferPointer) -> Bool {
        filter.feed(bytes)
        let out = filter.takeOutput()
        return out.isEmpty || out.withUnsafeBytes { recodeAndEncode($0) }
    }

    /// The body ended: the filter's last output.
    func ssiEnded(_ filter: SSIFilter) -> Bool {
        filter.finish()
        let out = filter.takeOutput()
        ssi = nil
        return out.isEmpty || out.withUnsafeBytes { recodeAndEncode($0) }
    }
}
