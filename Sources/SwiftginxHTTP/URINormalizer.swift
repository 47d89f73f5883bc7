// nginx's "complex URI" processing (`ngx_http_parse_complex_uri`) of a request path: it
// %-decodes, merges "//" when `merge_slashes` is on, resolves "." and ".." segments, and
// stops at a raw "#". The output is `$uri`, the key for location matching and file paths.
// As in nginx, a decoded "/" or "." takes part in segment handling (so "/%2e%2e/" is "..")
// while decoded "%", "#" and "?" are plain bytes; "%00", an incomplete or non-hex escape
// and ".." above the root make the request invalid (400). A raw NUL is refused as well.

/// Turns the raw path of a request into nginx's normalized `$uri`.
public enum URINormalizer {
    @usableFromInline
    enum State { case usual, slash, dot, dotDot, quoted, quotedSecond }

    /// True when normalizing would give `path` unchanged: no "%", "#" or NUL, and no
    /// segment that starts with "/" or "." (no "//", "/." or "/.."). Most paths are like
    /// that; they are copied whole instead of byte by byte.
    @inline(__always)
    static func isAlreadyNormal(_ path: UnsafeRawBufferPointer) -> Bool {
        var afterSlash = false
        for b in path {
            if b == 0x25 || b == 0x23 || b == 0 { return false }
            if afterSlash && (b == 0x2F || b == 0x2E) { return false }
            afterSlash = b == 0x2F
        }
        return true
    }

    /// Normalizes `path` (the path part of the target, without the query) into `out`
    /// (cleared first, capacity kept). Returns false when nginx would answer 400.
    /// An empty path yields "/".
    public static func normalize(_ path: UnsafeRawBufferPointer, mergeSlashes: Bool, into out: inout [UInt8]) -> Bool {
        if isAlreadyNormal(path) && !path.isEmpty {
            out.replaceAll(with: path)
            return true
        }
        out.removeAll(keepingCapacity: true)
        if path.isEmpty {
            out.append(0x2F)
            return true
        }
        return normalizeByteByByte(path, mergeSlashes: mergeSlashes, into: &out)
    }

    /// nginx's state machine over every byte (`out` is empty, `path` is not).
    static func normalizeByteByByte(
        _ path: UnsafeRawBufferPointer, mergeSlashes: Bool, into out: inout [UInt8]
    ) -> Bool {
        var state = State.usual
        var quotedState = State.usual
        var decoded: UInt8 = 0
        var i = 0
        let n = path.count
        var ch: UInt8 = 0
        var haveCh = false  // a decoded byte waiting to be reprocessed in `quotedState`

        /// Removes the last segment for "/.." (out ends with "/.."); false above the root.
        func backUp(_ out: inout [UInt8]) -> Bool {
            var u = out.count - 4
            while true {
                if u < 0 { return false }
                if out[u] == 0x2F {
                    out.removeSubrange((u + 1)...)
                    return true
                }
                u -= 1
            }
        }

        while haveCh || i < n {
            if !haveCh {
                ch = path[i]
                i += 1
            }
            haveCh = false
            switch state {
            case .quoted:
                guard let h = ASCII.hexValue(ch) else { return false }
                decoded = h
                state = .quotedSecond
                continue
            case .quotedSecond:
                guard let h = ASCII.hexValue(ch) else { return false }
                let c = decoded << 4 | h
                if c == 0 { return false }
                if c == 0x25 || c == 0x23 || c == 0x3F {  // "%", "#", "?" stay literal
                    out.append(c)
                    state = .usual
                    continue
                }
                ch = c
                state = quotedState
                haveCh = true
                continue
            default:
                break
            }
            if ch == 0 { return false }
            if ch == 0x25 {  // "%"
                quotedState = state
                state = .quoted
                continue
            }
            if ch == 0x23 {  // "#": the rest is a fragment
                if state == .dot {
                    out.removeLast()
                } else if state == .dotDot {
                    if !backUp(&out) { return false }
                }
                return true
            }
            switch state {
            case .usual:
                out.append(ch)
                if ch == 0x2F { state = .slash }
            case .slash:
                if ch == 0x2F {
                    if !mergeSlashes { out.append(ch) }
                } else {
                    out.append(ch)
                    state = ch == 0x2E ? .dot : .usual
                }
            case .dot:
                if ch == 0x2F {
                    out.removeLast()
                    state = .slash
                } else {
                    out.append(ch)
                    state = ch == 0x2E ? .dotDot : .usual
                }
            case .dotDot:
                if ch == 0x2F {
                    // out ends with "/..": drop it and the segment before, keep that "/"
                    if !backUp(&out) { return false }
                    state = .slash
                } else {
                    out.append(ch)
                    state = .usual
                }
            case .quoted, .quotedSecond:
                break
            }
        }
        switch state {
        case .quoted, .quotedSecond:
            return false
        case .dot:
            out.removeLast()
        case .dotDot:
            if !backUp(&out) { return false }
        default:
            break
        }
        return true
    }
}
