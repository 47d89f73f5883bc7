// nginx's limit_req module, as configured: `limit_req_zone key zone=name:size rate=Nr/s`
// (http; `r/m` for per minute) names a zone keeping, per key, how far requests run
// ahead of the rate (nginx's "excess", in thousandths of a request), and
// `limit_req zone=name [burst=N] [nodelay | delay=N]` (http, server, location; a level
// with its own list replaces its parent's) applies it. `limit_req_status`,
// `limit_req_log_level` and `limit_req_dry_run` inherit as usual. The accounting,
// shared by all worker threads, is in the server (Handlers/LimitReqZone.swift).

import SwiftginxRouting

/// `limit_req_zone key zone=name:size rate=...`.
public struct LimitReqZoneConfig: Sendable {
    public let name: String
    public let key: ComplexValue
    /// Bytes of the zone (nginx's shared memory size).
    public let size: Int
    /// Requests per 1000 seconds (nginx's `rate * 1000 / scale`: 2r/s is 2000, 1r/m 16).
    public let rate: Int

    public init(name: String, key: ComplexValue, size: Int, rate: Int) {
        self.name = name
        self.key = key
        self.size = size
        self.rate = rate
    }
}

/// One `limit_req zone=name burst=N delay=N|nodelay`, in thousandths of a request.
public struct LimitReqRule: Sendable {
    public let zone: String
    /// The zone's place in `RuntimeConfig.limitReqZoneNames` (and the server's zone list).
    public let zoneIndex: Int
    public let burst: Int
    public let delay: Int

    public init(zone: String, zoneIndex: Int, burst: Int, delay: Int) {
        self.zone = zone
        self.zoneIndex = zoneIndex
        self.burst = burst
        self.delay = delay
    }
}

/// A location's limit_req settings.
public struct LimitReqSettings: Sendable {
    public var rules: [LimitReqRule] = []
    public var status = 503
    public var logLevel: LogLevel = .error
    public var dryRun = false

    public init() {}

    /// Delays are logged one level below refusals (nginx: `info` stays `info`).
    public var delayLogLevel: LogLevel {
        logLevel == .info ? .info : LogLevel(rawValue: logLevel.rawValue + 1) ?? .info
    }
}

extension ConfigCompiler {
    /// Handles the limit_req module's directives; false for any other.
    func limitReqDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "limit_req_zone": try limitReqZone(d)
        case "limit_req": try limitReq(d, level: level)
        case "limit_req_status":
            guard let code = Int(d.args[0]), code >= 400 && code <= 599 else {
                throw d.error("value must be between 400 and 599")
            }
            level.setters.append { $0.limitReq.status = code }
        case "limit_req_log_level":
            let lvl = try ConfigValues.choice(
                d, ["info": LogLevel.info, "notice": .notice, "warn": .warn, "error": .error])
            level.setters.append { $0.limitReq.logLevel = lvl }
        case "limit_req_dry_run":
            let on = try ConfigValues.choice(d, ["on": true, "off": false])
            level.setters.append { $0.limitReq.dryRun = on }
        default:
            return false
        }
        return true
    }

    private func limitReqZone(_ d: ConfigDirective) throws(ConfigError) {
        var name: String? = nil
        var size = 0
        var rate = 1
        var scale = 1
        for arg in d.args.dropFirst() {
            if arg.hasPrefix("zone=") {
                let spec = arg.dropFirst(5)
                guard let colon = spec.firstIndex(of: ":") else { throw d.error("invalid zone size \"\(arg)\"") }
                name = String(spec[..<colon])
                guard let s = ConfigValues.size(String(spec[spec.index(after: colon)...])) else {
                    throw d.error("invalid zone size \"\(arg)\"")
                }
                if s < 8 * 4096 { throw d.error("zone \"\(arg)\" is too small") }
                size = s
            } else if arg.hasPrefix("rate=") {
                var text = arg.dropFirst(5)
                if text.hasSuffix("r/s") {
                    scale = 1
                    text = text.dropLast(3)
                } else if text.hasSuffix("r/m") {
                    scale = 60
                    text = text.dropLast(3)
                }
                // Bounded so that the thousandths and their products stay far from overflow.
                guard let n = Int(text), n > 0 && n <= 1 << 32 else { throw d.error("invalid rate \"\(arg)\"") }
                rate = n
            } else {
                throw d.error("invalid parameter \"\(arg)\"")
            }
        }
        guard let name, !name.isEmpty else { throw d.error("\"limit_req_zone\" must have \"zone\" parameter") }
        if let old = limitReqZones[name] {
            throw d.error("limit_req_zone \"\(name)\" is already bound to key \"\(old.key.source)\"")
        }
        _ = limitReqZoneIndex(name)
        limitReqZones[name] = LimitReqZoneConfig(
            name: name, key: try value(d.args[0], d), size: size, rate: max(1, rate * 1000 / scale))
    }

    private func limitReq(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) {
        var zone: String? = nil
        var burst = 0
        var delay = 0
        for arg in d.args {
            if arg.hasPrefix("zone=") {
                zone = String(arg.dropFirst(5))
            } else if arg.hasPrefix("burst=") {
                guard let n = Int(arg.dropFirst(6)), n > 0 && n <= 1 << 32 else {
                    throw d.error("invalid burst value \"\(arg)\"")
                }
                burst = n
            } else if arg.hasPrefix("delay=") {
                guard let n = Int(arg.dropFirst(6)), n > 0 && n <= 1 << 32 else {
                    throw d.error("invalid delay value \"\(arg)\"")
                }
                delay = n
            } else if arg == "nodelay" {
                delay = Int.max / 1000  // nginx's NGX_MAX_INT_T_VALUE / 1000: never delayed
            } else {
                throw d.error("invalid parameter \"\(arg)\"")
            }
        }
        guard let zone else { throw d.error("\"limit_req\" must have \"zone\" parameter") }
        let rules = level.limitReqs ?? []
        if rules.contains(where: { $0.zone == zone }) {
            throw d.directiveError("is duplicate")
        }
        limitReqUses.append((d, zone))
        level.limitReqs =
            rules + [
                LimitReqRule(zone: zone, zoneIndex: limitReqZoneIndex(zone), burst: burst * 1000, delay: delay * 1000)
            ]
    }

    /// The index of the zone `name`, given when it is first named.
    func limitReqZoneIndex(_ name: String) -> Int {
        if let i = limitReqZoneNames.firstIndex(of: name) { return i }
        limitReqZoneNames.append(name)
        return limitReqZoneNames.count - 1
    }
}
