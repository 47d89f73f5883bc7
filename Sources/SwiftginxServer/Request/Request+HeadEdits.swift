// Changes to the response head while it is being written, for the header filters nginx
// applies after a handler (or an upstream) set its fields: `add_header ETag` and
// `add_header Last-Modified` replace the field (an empty value removes it), and
// `expires` on a proxied response replaces the upstream's Expires and Cache-Control
// (nginx marks them unsent), taking `expires modified` from its Last-Modified.

import SwiftginxHTTP

extension Request {
    /// True for the names whose `add_header` replaces the field instead of adding a line.
    @inline(__always) static func addHeaderReplaces(_ name: String) -> Bool {
        let n = name.utf8.count
        guard n == 4 || n == 13 else { return false }
        return asciiCaseEqual(name.utf8, etagName) || asciiCaseEqual(name.utf8, lastModifiedName)
    }

    private static let etagName = Array("etag".utf8)

    /// Removes every line named `name` (any case) from the head written so far.
    func removeHeadLines(named name: String) {
        let lowered = Array(name.lowercased().utf8)
        var start = responseStart
        while true {
            let head = UnsafeRawBufferPointer(start: output.base + start, count: output.writerIndex - start)
            var found: Range<Int>? = nil
            ResponseHeadScan.forEachLine(in: head) { line, colon in
                guard found == nil, let colon, asciiCaseEqual(head[line.lowerBound..<colon], lowered) else { return }
                found = line.lowerBound..<(line.upperBound + 2)
            }
            guard let r = found else { return }
            let from = start + r.upperBound
            let tail = output.writerIndex - from
            if tail > 0 { (output.base + start + r.lowerBound).copyMemory(from: output.base + from, byteCount: tail) }
            output.writerIndex -= r.count
            start += r.lowerBound
        }
    }

    /// Before `expires` writes its fields on a proxied response: the upstream's Expires
    /// and Cache-Control are dropped; `mtime` is the upstream's Last-Modified (for
    /// `expires modified`) when the handler gave none.
    func replaceUpstreamCaching(mtime: Int?) -> Int? {
        var modified = mtime
        if modified == nil {
            let head = UnsafeRawBufferPointer(
                start: output.base + responseStart, count: output.writerIndex - responseStart)
            ResponseHeadScan.forEachValue(of: Self.lastModifiedName, in: head, underscoresAsDashes: false) {
                if modified == nil { modified = HTTPDate.parse($0) }
            }
        }
        removeHeadLines(named: "expires")
        removeHeadLines(named: "cache-control")
        return modified
    }

    private static let lastModifiedName = Array("last-modified".utf8)
}
