// HTTP dates without Foundation: formatting for `Date:`, `Last-Modified`, `Expires`, the
// access log's `$time_local` and `$time_iso8601`, and parsing of `If-Modified-Since` style
// values in the three formats nginx's `ngx_parse_http_time` accepts. Calendar arithmetic
// is done on integers (proleptic Gregorian, days since 1970-01-01), valid for any year.

/// Formatting and parsing of HTTP and log timestamps, on bytes.
public enum HTTPDate {
    @usableFromInline static let weekdays: [StaticString] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    @usableFromInline static let months: [StaticString] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]

    /// Broken-down UTC (or offset-shifted) time.
    struct Civil {
        var year: Int
        var month: Int  // 1...12
        var day: Int
        var hour: Int
        var minute: Int
        var second: Int
        var weekday: Int  // 0 = Sunday
    }

    static func floorDiv(_ a: Int, _ b: Int) -> Int { a >= 0 ? a / b : -((-a + b - 1) / b) }

    static func civil(_ t: Int) -> Civil {
        let days = floorDiv(t, 86400)
        let secs = t - days * 86400
        // days → y/m/d (Howard Hinnant's civil_from_days)
        let z = days + 719468
        let era = floorDiv(z, 146097)
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        let wd = ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday
        return Civil(
            year: y, month: m, day: d, hour: secs / 3600, minute: (secs / 60) % 60, second: secs % 60, weekday: wd)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (month 1...12).
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let mp = month > 2 ? month - 3 : month + 9
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    private static func append(_ out: inout [UInt8], _ s: StaticString) {
        out.append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }

    private static func append2(_ out: inout [UInt8], _ v: Int) {
        out.append(UInt8(0x30 + (v / 10) % 10))
        out.append(UInt8(0x30 + v % 10))
    }

    private static func append4(_ out: inout [UInt8], _ v: Int) {
        if v < 0 || v > 9999 {
            out.append(contentsOf: Array(String(v).utf8))
            return
        }
        append2(&out, v / 100)
        append2(&out, v % 100)
    }

    /// IMF-fixdate, as in `Date:`: "Sun, 06 Nov 1994 08:49:37 GMT".
    public static func format(_ epochSeconds: Int) -> [UInt8] {
        let c = civil(epochSeconds)
        var out: [UInt8] = []
        out.reserveCapacity(29)
        append(&out, weekdays[c.weekday])
        out.append(0x2C)
        out.append(0x20)
        append2(&out, c.day)
        out.append(0x20)
        append(&out, months[c.month - 1])
        out.append(0x20)
        append4(&out, c.year)
        out.append(0x20)
        appendTime(&out, c)
        append(&out, " GMT")
        return out
    }

    private static func appendTime(_ out: inout [UInt8], _ c: Civil) {
        append2(&out, c.hour)
        out.append(0x3A)
        append2(&out, c.minute)
        out.append(0x3A)
        append2(&out, c.second)
    }

    private static func appendOffset(_ out: inout [UInt8], _ offset: Int, colon: Bool) {
        out.append(offset < 0 ? 0x2D : 0x2B)
        let a = abs(offset) / 60
        append2(&out, a / 60)
        if colon { out.append(0x3A) }
        append2(&out, a % 60)
    }

    /// `$time_local`: "22/Nov/2026:01:19:49 +0000" (local time = epoch + offset).
    public static func formatCommonLog(_ epochSeconds: Int, utcOffsetSeconds: Int) -> [UInt8] {
        let c = civil(epochSeconds + utcOffsetSeconds)
        var out: [UInt8] = []
        out.reserveCapacity(26)
        append2(&out, c.day)
        out.append(0x2F)
        append(&out, months[c.month - 1])
        out.append(0x2F)
        append4(&out, c.year)
        out.append(0x3A)
        appendTime(&out, c)
        out.append(0x20)
        appendOffset(&out, utcOffsetSeconds, colon: false)
        return out
    }

    /// `$time_iso8601`: "2026-11-22T01:19:49+00:00".
    public static func formatISO8601(_ epochSeconds: Int, utcOffsetSeconds: Int) -> [UInt8] {
        let c = civil(epochSeconds + utcOffsetSeconds)
        var out: [UInt8] = []
        out.reserveCapacity(25)
        append4(&out, c.year)
        out.append(0x2D)
        append2(&out, c.month)
        out.append(0x2D)
        append2(&out, c.day)
        out.append(0x54)
        appendTime(&out, c)
        appendOffset(&out, utcOffsetSeconds, colon: true)
        return out
    }

    /// Parses an HTTP date like nginx's `ngx_parse_http_time`: IMF-fixdate
    /// ("Sun, 06 Nov 1994 08:49:37 GMT"), RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT", two-digit
    /// years < 70 are 20xx) and asctime ("Sun Nov  6 08:49:37 1994"). As in nginx the weekday
    /// and the zone name are not checked. Returns seconds since the epoch, or nil.
    public static func parse(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let n = bytes.count
        enum Format { case rfc822, rfc850, isoc }
        var fmt: Format? = nil
        var p = 0
        while p < n {
            if bytes[p] == 0x2C { break }
            if bytes[p] == 0x20 {
                fmt = .isoc
                break
            }
            p += 1
        }
        p += 1
        while p < n, bytes[p] == 0x20 { p += 1 }
        if n - p < 18 { return nil }
        func digit(_ i: Int) -> Int? {
            guard i < n else { return nil }
            let d = bytes[i] &- 0x30
            return d < 10 ? Int(d) : nil
        }
        func two(_ i: Int) -> Int? {
            guard let a = digit(i), let b = digit(i + 1) else { return nil }
            return a * 10 + b
        }
        var day = 0
        if fmt != .isoc {
            guard let d = two(p) else { return nil }
            day = d
            p += 2
            guard p < n else { return nil }
            if bytes[p] == 0x20 {
                if n - p < 18 { return nil }
                fmt = .rfc822
            } else if bytes[p] == 0x2D {
                fmt = .rfc850
            } else {
                return nil
            }
            p += 1
        }
        guard p + 3 <= n else { return nil }
        var month = -1
        for (i, m) in months.enumerated() where ASCII.equals(bytes.slice(p..<(p + 3)), m) {
            month = i
            break
        }
        if month < 0 { return nil }
        p += 3
        guard p < n else { return nil }
        if (fmt == .rfc822 && bytes[p] != 0x20) || (fmt == .rfc850 && bytes[p] != 0x2D) { return nil }
        var year = 0
        switch fmt {
        case .rfc822:
            p += 1
            guard let a = two(p), let b = two(p + 2) else { return nil }
            year = a * 100 + b
            p += 4
        case .rfc850:
            p += 1
            guard let a = two(p) else { return nil }
            year = a + (a < 70 ? 2000 : 1900)
            p += 2
        default:
            // asctime: the month is followed by " 6" or "06" or "16"
            if bytes[p] == 0x20 { p += 1 }
            guard p < n else { return nil }
            if bytes[p] == 0x20 { p += 1 }
            guard let d1 = digit(p) else { return nil }
            day = d1
            p += 1
            guard p < n else { return nil }
            if bytes[p] != 0x20 {
                guard let d2 = digit(p) else { return nil }
                day = day * 10 + d2
                p += 1
            }
            if n - p < 14 { return nil }
        }
        guard p < n, bytes[p] == 0x20 else { return nil }
        p += 1
        guard let hour = two(p), p + 2 < n, bytes[p + 2] == 0x3A, let minute = two(p + 3), p + 5 < n,
            bytes[p + 5] == 0x3A, let second = two(p + 6)
        else { return nil }
        p += 8
        if fmt == .isoc {
            guard p < n, bytes[p] == 0x20, let a = two(p + 1), let b = two(p + 3) else { return nil }
            year = a * 100 + b
        }
        if hour > 23 || minute > 59 || second > 59 || day < 1 { return nil }
        let mdays = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        if day == 29 && month == 1 {
            if (year & 3) != 0 || (year % 100 == 0 && year % 400 != 0) { return nil }
        } else if day > mdays[month] {
            return nil
        }
        return daysFromCivil(year, month + 1, day) * 86400 + hour * 3600 + minute * 60 + second
    }
}
