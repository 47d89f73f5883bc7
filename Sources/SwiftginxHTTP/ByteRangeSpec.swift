// Evaluation of a `Range:` request header against a representation size, with the exact
// semantics of nginx's range filter (`ngx_http_range_parse`): only the "bytes=" unit
// (case-insensitive), spaces allowed around numbers, overflow → 416, start beyond the end
// is dropped, no satisfiable range → 416, more than `max_ranges` ranges or ranges whose
// total exceeds the size → the header is ignored (200 with the full body).

/// nginx's interpretation of a `Range:` value (`ngx_http_range_filter_module`).
public enum ByteRangeSpec {
    /// What to answer.
    public enum Result: Sendable, Equatable {
        /// Serve the whole representation (200): no usable Range header.
        case ignore
        /// 206 with one range (inclusive byte positions).
        case single(ClosedRange<Int64>)
        /// 206 multipart/byteranges, ranges in the order requested.
        case multiple([ClosedRange<Int64>])
        /// 416 with `Content-Range: bytes */size`.
        case unsatisfiable
    }

    /// Evaluates `value` (the Range header value) for a body of `size` bytes.
    /// `maxRanges` is the `max_ranges` directive (nil = unlimited, 0 = ranges disabled).
    public static func evaluate(_ value: UnsafeRawBufferPointer, size: Int64, maxRanges: Int?) -> Result {
        if maxRanges == 0 { return .ignore }
        let n = value.count
        guard n >= 7, ASCII.equalsLowercased(value.slice(0..<6), "bytes=") else { return .ignore }
        // nginx reads a NUL-terminated string: model the terminator as 0 past the end.
        @inline(__always) func at(_ i: Int) -> UInt8 { i < n ? value[i] : 0 }
        var p = 6
        var ranges: [ClosedRange<Int64>] = []
        var total: Int64 = 0
        var allowed = maxRanges ?? Int.max
        let cutoff = Int64.max / 10
        let cutlim = Int64.max % 10
        func number(_ v: inout Int64) -> Bool {
            while ASCII.isDigit(at(p)) {
                let d = Int64(at(p) - 0x30)
                if v >= cutoff && (v > cutoff || d > cutlim) { return false }
                v = v * 10 + d
                p += 1
            }
            return true
        }
        while true {
            var start: Int64 = 0
            var end: Int64 = 0
            var suffix = false
            var openEnded = false
            while at(p) == 0x20 { p += 1 }
            if at(p) != 0x2D {
                guard ASCII.isDigit(at(p)), number(&start) else { return .unsatisfiable }
                while at(p) == 0x20 { p += 1 }
                guard at(p) == 0x2D else { return .unsatisfiable }
                p += 1
                while at(p) == 0x20 { p += 1 }
                if at(p) == 0x2C || at(p) == 0 {
                    end = size
                    openEnded = true
                }
            } else {
                suffix = true
                p += 1
            }
            if !openEnded {
                guard ASCII.isDigit(at(p)), number(&end) else { return .unsatisfiable }
                while at(p) == 0x20 { p += 1 }
                guard at(p) == 0x2C || at(p) == 0 else { return .unsatisfiable }
                if suffix {
                    start = end < size ? size - end : 0
                    end = size - 1
                }
                end = end >= size ? size : end + 1
            }
            if start < end {
                ranges.append(start...(end - 1))
                if total > Int64.max - (end - start) { return .unsatisfiable }
                total += end - start
                if allowed == 0 { return .ignore }
                allowed -= 1
            } else if start == 0 {
                return .ignore
            }
            if at(p) != 0x2C { break }
            p += 1
        }
        if ranges.isEmpty { return .unsatisfiable }
        if total > size { return .ignore }
        return ranges.count == 1 ? .single(ranges[0]) : .multiple(ranges)
    }
}
