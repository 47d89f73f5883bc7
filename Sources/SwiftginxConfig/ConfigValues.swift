// nginx's value syntaxes, parsed exactly as nginx parses them: sizes (`k`/`m`, and `g`
// for offsets such as client_max_body_size), times (`1h30m`, `500ms`, units in
// descending order; `y` and `M` only where nginx counts in seconds), flags and numbers.
// Each returns nil on an invalid value; the caller words the error as nginx does.

enum ConfigValues {
    /// ngx_atoi: decimal digits only, no sign, no overflow.
    static func number(_ s: String) -> Int? {
        guard !s.isEmpty else { return nil }
        var value = 0
        for c in s.utf8 {
            guard c >= 0x30 && c <= 0x39 else { return nil }
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(c - 0x30))
            if o1 || o2 { return nil }
            value = a
        }
        return value
    }

    /// ngx_parse_size (`k`, `m`) or, with `allowGiga`, ngx_parse_offset (`k`, `m`, `g`).
    static func size(_ s: String, allowGiga: Bool = false) -> Int? {
        guard let last = s.utf8.last else { return nil }
        var scale = 1
        var digits = Substring(s)
        switch last {
        case UInt8(ascii: "k"), UInt8(ascii: "K"): scale = 1024
        case UInt8(ascii: "m"), UInt8(ascii: "M"): scale = 1024 * 1024
        case UInt8(ascii: "g"), UInt8(ascii: "G"):
            if allowGiga { scale = 1024 * 1024 * 1024 }
        default: break
        }
        if scale != 1 { digits = digits.dropLast() }
        guard let n = number(String(digits)) else { return nil }
        let (v, overflow) = n.multipliedReportingOverflow(by: scale)
        return overflow ? nil : v
    }

    /// ngx_parse_time: milliseconds (`isSeconds` false) or seconds (`isSeconds` true).
    static func time(_ s: String, isSeconds: Bool) -> Int? {
        enum Step: Int { case start, year, month, week, day, hour, min, sec, msec, last }
        let bytes = Array(s.utf8)
        var step: Step = isSeconds ? .start : .month
        var valid = false
        var value = 0
        var total = 0
        var p = 0
        while p < bytes.count {
            let c = bytes[p]
            p += 1
            if c >= 0x30 && c <= 0x39 {
                let (m, o1) = value.multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(Int(c - 0x30))
                if o1 || o2 { return nil }
                value = a
                valid = true
                continue
            }
            var scale: Int
            switch c {
            case UInt8(ascii: "y"):
                if step.rawValue > Step.start.rawValue { return nil }
                step = .year
                scale = 60 * 60 * 24 * 365
            case UInt8(ascii: "M"):
                if step.rawValue >= Step.month.rawValue { return nil }
                step = .month
                scale = 60 * 60 * 24 * 30
            case UInt8(ascii: "w"):
                if step.rawValue >= Step.week.rawValue { return nil }
                step = .week
                scale = 60 * 60 * 24 * 7
            case UInt8(ascii: "d"):
                if step.rawValue >= Step.day.rawValue { return nil }
                step = .day
                scale = 60 * 60 * 24
            case UInt8(ascii: "h"):
                if step.rawValue >= Step.hour.rawValue { return nil }
                step = .hour
                scale = 60 * 60
            case UInt8(ascii: "m"):
                if p < bytes.count && bytes[p] == UInt8(ascii: "s") {
                    if isSeconds || step.rawValue >= Step.msec.rawValue { return nil }
                    p += 1
                    step = .msec
                    scale = 1
                } else {
                    if step.rawValue >= Step.min.rawValue { return nil }
                    step = .min
                    scale = 60
                }
            case UInt8(ascii: "s"):
                if step.rawValue >= Step.sec.rawValue { return nil }
                step = .sec
                scale = 1
            case UInt8(ascii: " "):
                if step.rawValue >= Step.sec.rawValue { return nil }
                step = .last
                scale = 1
            default:
                return nil
            }
            if step != .msec && !isSeconds { scale *= 1000 }
            let (v, o1) = value.multipliedReportingOverflow(by: scale)
            let (t, o2) = total.addingReportingOverflow(v)
            if o1 || o2 { return nil }
            total = t
            value = 0
            while p < bytes.count && bytes[p] == UInt8(ascii: " ") { p += 1 }
        }
        guard valid else { return nil }
        if !isSeconds {
            let (v, o) = value.multipliedReportingOverflow(by: 1000)
            if o { return nil }
            value = v
        }
        let (r, o) = total.addingReportingOverflow(value)
        return o ? nil : r
    }

    /// ngx_conf_set_flag_slot: "on" / "off", case-insensitive.
    static func flag(_ d: ConfigDirective) throws(ConfigError) -> Bool {
        switch d.args[0].lowercased() {
        case "on": return true
        case "off": return false
        default:
            throw d.error("invalid value \"\(d.args[0])\" in \"\(d.name)\" directive, it must be \"on\" or \"off\"")
        }
    }

    /// A size slot: `"name" directive invalid value`.
    static func size(_ d: ConfigDirective, _ i: Int = 0, allowGiga: Bool = false) throws(ConfigError) -> Int {
        guard let v = size(d.args[i], allowGiga: allowGiga) else { throw d.directiveError("invalid value") }
        return v
    }

    /// A msec slot (milliseconds): `"name" directive invalid value`.
    static func msec(_ d: ConfigDirective, _ i: Int = 0) throws(ConfigError) -> Int {
        guard let v = time(d.args[i], isSeconds: false) else { throw d.directiveError("invalid value") }
        return v
    }

    /// A sec slot (seconds): `"name" directive invalid value`.
    static func sec(_ d: ConfigDirective, _ i: Int = 0) throws(ConfigError) -> Int {
        guard let v = time(d.args[i], isSeconds: true) else { throw d.directiveError("invalid value") }
        return v
    }

    /// A num slot: `"name" directive invalid number`.
    static func num(_ d: ConfigDirective, _ i: Int = 0) throws(ConfigError) -> Int {
        guard let v = number(d.args[i]) else { throw d.directiveError("invalid number") }
        return v
    }

    /// An enum slot: `invalid value "x"`.
    static func choice<T>(_ d: ConfigDirective, _ options: [String: T]) throws(ConfigError) -> T {
        guard let v = options[d.args[0].lowercased()] else { throw d.error("invalid value \"\(d.args[0])\"") }
        return v
    }
}
