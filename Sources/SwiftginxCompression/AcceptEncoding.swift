// Accept-Encoding over bytes, without allocation.
//
// `preferred` is RFC 9110 §12.5.3 negotiation for choosing a dynamic coding:
//   - the value is a comma-separated list of `coding *( OWS ";" OWS param )`; empty elements
//     and surrounding spaces or tabs are skipped; codings compare case-insensitively, and
//     `x-gzip` means `gzip` (RFC 9110 §8.4.1.3);
//   - `q` is a weight from 0 to 1 with at most three decimals; `q=0` refuses the coding;
//   - decision on an invalid weight (`q=2`, `q=0.5x`, `q=`, `q = 1`): the element refuses its
//     coding (weight 0). nginx does the same for gzip (see `accepts`), and refusing is the
//     safe side: the response then goes out uncompressed, which every client accepts;
//   - an element that is not `token [params]` (`gz ip`, control bytes) is ignored; other
//     parameters are ignored; a coding listed twice keeps its lower weight;
//   - `*` gives its weight to every coding not listed, `identity` included;
//   - `identity` not listed and not refused by `*;q=0` stays acceptable with the lowest
//     weight, so any coding the client lists with q > 0 wins over it; `identity;q=0` (or
//     `*;q=0` without an `identity` element) refuses it: when the caller offers `.identity`
//     in `available`, `nil` then means "nothing acceptable" (RFC 9110 allows 406, nginx
//     sends the identity body anyway);
//   - an empty value means "no coding" (identity); the caller handles an absent header;
//   - among the acceptable codings the highest weight wins; ties go to the earlier entry of
//     `available`, which is the server's own preference (e.g. `[.zstd, .br, .gzip]`).
//
// `accepts` is nginx's `ngx_http_gzip_accept_encoding` check (used by `gzip_static` and
// `gzip`), generalised to any coding token: the first occurrence of the token (ASCII case
// ignored) at the start of the value or after `,` or a space; then only spaces, and
// either the end, `,`, or `;` followed by spaces and `q=` / `Q=` with a weight that
// nginx's `ngx_http_gzip_quantity` finds non-zero: `0` or `1`, optionally `.` and at most
// three digits, value at most 1, ending at the end of the value, `,` or a space. Anything
// else after the token refuses (nginx does not look for a later occurrence then), so
// `gzip;q=0.5;x=1` and `gzip\t` refuse, while `br, gzip;q=1.000` accepts.

/// Accept-Encoding request-header negotiation.
public enum AcceptEncoding {
    /// The coding to answer with: the acceptable entry of `available` with the highest
    /// weight, ties going to the earlier entry. Nil when none of `available` is acceptable.
    public static func preferred(_ headerValue: UnsafeRawBufferPointer, available: [ContentCoding]) -> ContentCoding? {
        var weights = Weights()
        var start = 0
        while start <= headerValue.count {
            var end = start
            while end < headerValue.count && headerValue[end] != UInt8(ascii: ",") { end += 1 }
            parseElement(headerValue, start, end, &weights)
            start = end + 1
        }
        var best: ContentCoding?
        var bestWeight = 0
        for coding in available {
            let weight = weights.effective(coding)
            if weight > bestWeight {
                best = coding
                bestWeight = weight
            }
        }
        return best
    }

    /// nginx's check for `gzip_static` and `gzip`: whether the value names `coding` with a
    /// non-zero weight, with nginx's exact leniencies and strictness (see the file header).
    public static func accepts(_ value: UnsafeRawBufferPointer, _ coding: ContentCoding) -> Bool {
        var name = coding.rawValue
        return name.withUTF8 { token in nginxAccepts(value, UnsafeRawBufferPointer(token)) }
    }

    // MARK: - RFC 9110 parsing

    /// Weights in thousandths; -1 means "not listed".
    private struct Weights {
        var gzip = -1
        var br = -1
        var zstd = -1
        var identity = -1
        var star = -1

        mutating func record(_ key: Key, _ weight: Int) {
            func lower(_ slot: inout Int) { slot = slot < 0 ? weight : min(slot, weight) }
            switch key {
            case .gzip: lower(&gzip)
            case .br: lower(&br)
            case .zstd: lower(&zstd)
            case .identity: lower(&identity)
            case .star: lower(&star)
            }
        }

        /// The weight `coding` ends up with, doubled so that an unlisted identity can rank
        /// below every listed weight (1 < 2 × 0.001): its own, else `*`'s, else 0 (refused).
        func effective(_ coding: ContentCoding) -> Int {
            let listed: Int
            switch coding {
            case .gzip: listed = gzip
            case .br: listed = br
            case .zstd: listed = zstd
            case .identity: listed = identity
            }
            if listed >= 0 { return 2 * listed }
            if star >= 0 { return 2 * star }
            return coding == .identity ? 1 : 0
        }
    }

    private enum Key {
        case gzip, br, zstd, identity, star
    }

    private static func parseElement(
        _ v: UnsafeRawBufferPointer, _ start: Int, _ end: Int, _ weights: inout Weights
    ) {
        var p = skipSpace(v, start, end)
        let tokenStart = p
        while p < end && isTokenByte(v[p]) { p += 1 }
        guard p > tokenStart else { return }  // empty element, or not a token
        let key = classify(v, tokenStart, p)
        var weight = 1000
        while true {
            p = skipSpace(v, p, end)
            if p == end { break }
            guard v[p] == UInt8(ascii: ";") else { return }  // junk after the coding
            p = skipSpace(v, p + 1, end)
            let nameStart = p
            while p < end && isTokenByte(v[p]) { p += 1 }
            let isWeight = p - nameStart == 1 && v[nameStart] | 0x20 == UInt8(ascii: "q")
            guard p < end && v[p] == UInt8(ascii: "=") else {
                if isWeight { weight = 0 }  // `q` without a value
                continue
            }
            p += 1
            let valueStart = p
            while p < end && v[p] != UInt8(ascii: ";") && v[p] != UInt8(ascii: " ") && v[p] != UInt8(ascii: "\t") {
                p += 1
            }
            if isWeight { weight = parseWeight(v, valueStart, p) ?? 0 }
        }
        if let key { weights.record(key, weight) }
    }

    /// RFC 9110 qvalue: `0[.ddd]` or `1[.000]`, in thousandths.
    private static func parseWeight(_ v: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int? {
        guard start < end else { return nil }
        let first = v[start]
        guard first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return nil }
        var weight = first == UInt8(ascii: "1") ? 1000 : 0
        var p = start + 1
        if p == end { return weight }
        guard v[p] == UInt8(ascii: "."), end - p - 1 <= 3 else { return nil }
        p += 1
        var scale = 100
        while p < end {
            let digit = Int(v[p]) - Int(UInt8(ascii: "0"))
            guard digit >= 0 && digit <= 9 else { return nil }
            weight += digit * scale
            scale /= 10
            p += 1
        }
        return weight <= 1000 ? weight : nil
    }

    private static func classify(_ v: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Key? {
        func equals(_ literal: StaticString) -> Bool {
            guard literal.utf8CodeUnitCount == end - start else { return false }
            let bytes = literal.utf8Start
            for i in 0..<(end - start) where lower(v[start + i]) != bytes[i] { return false }
            return true
        }
        switch end - start {
        case 1: return v[start] == UInt8(ascii: "*") ? .star : nil
        case 2: return equals("br") ? .br : nil
        case 4: return equals("gzip") ? .gzip : equals("zstd") ? .zstd : nil
        case 6: return equals("x-gzip") ? .gzip : nil
        case 8: return equals("identity") ? .identity : nil
        default: return nil
        }
    }

    @inline(__always)
    private static func lower(_ b: UInt8) -> UInt8 {
        b >= UInt8(ascii: "A") && b <= UInt8(ascii: "Z") ? b | 0x20 : b
    }

    @inline(__always)
    private static func skipSpace(_ v: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> Int {
        var p = start
        while p < end && (v[p] == UInt8(ascii: " ") || v[p] == UInt8(ascii: "\t")) { p += 1 }
        return p
    }

    /// RFC 9110 tchar.
    @inline(__always)
    private static func isTokenByte(_ b: UInt8) -> Bool {
        switch b {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    // MARK: - nginx's check

    private static func nginxAccepts(_ v: UnsafeRawBufferPointer, _ token: UnsafeRawBufferPointer) -> Bool {
        let n = v.count
        let t = token.count
        guard t > 0 else { return false }
        // The first occurrence at the start or after ',' or ' ' (ngx_strcasestrn + check).
        var found = -1
        var i = 0
        while i + t <= n {
            var match = true
            for k in 0..<t where lower(v[i + k]) != token[k] {
                match = false
                break
            }
            if match && (i == 0 || v[i - 1] == UInt8(ascii: ",") || v[i - 1] == UInt8(ascii: " ")) {
                found = i
                break
            }
            i += match ? t : 1
        }
        guard found >= 0 else { return false }
        var p = found + t
        // After the token: spaces, then ',' (accept), ';' (weight) or the end (accept).
        while p < n {
            let c = v[p]
            p += 1
            switch c {
            case UInt8(ascii: ","): return true
            case UInt8(ascii: ";"): return nginxWeight(v, p)
            case UInt8(ascii: " "): continue
            default: return false
            }
        }
        return true
    }

    private static func nginxWeight(_ v: UnsafeRawBufferPointer, _ from: Int) -> Bool {
        let n = v.count
        var p = from
        while p < n {
            let c = v[p]
            p += 1
            switch c {
            case UInt8(ascii: "q"), UInt8(ascii: "Q"):
                guard p + 2 <= n, v[p] == UInt8(ascii: "=") else { return false }
                return nginxQuantity(v, p + 1) != 0
            case UInt8(ascii: " "): continue
            default: return false
            }
        }
        return true
    }

    /// ngx_http_gzip_quantity: non-zero for an acceptable weight. It sums the decimal
    /// digits instead of scaling them — only zero versus non-zero matters.
    private static func nginxQuantity(_ v: UnsafeRawBufferPointer, _ from: Int) -> Int {
        let n = v.count
        var p = from
        let first = v[p]
        p += 1
        guard first == UInt8(ascii: "0") || first == UInt8(ascii: "1") else { return 0 }
        var q = Int(first - UInt8(ascii: "0")) * 100
        if p == n { return q }
        let second = v[p]
        p += 1
        if second == UInt8(ascii: ",") || second == UInt8(ascii: " ") { return q }
        guard second == UInt8(ascii: ".") else { return 0 }
        var digits = 0
        while p < n {
            let c = v[p]
            p += 1
            if c == UInt8(ascii: ",") || c == UInt8(ascii: " ") { break }
            guard c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9") else { return 0 }
            q += Int(c - UInt8(ascii: "0"))
            digits += 1
        }
        return q > 100 || digits > 3 ? 0 : q
    }
}
