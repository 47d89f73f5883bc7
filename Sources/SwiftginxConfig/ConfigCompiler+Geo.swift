// The `geo [$address] $variable { ... }` block (http context): its lines — `default`,
// networks or (after `ranges`) IPv4 ranges with their values, `delete`, `proxy`,
// `proxy_recursive`, `volatile`; `include` was expanded by the parser — read with
// nginx's messages and warnings, built by GeoBuilder.swift into a GeoBlock.

import SwiftginxRouting

extension ConfigCompiler {
    func geoBlock(_ d: ConfigDirective) throws(ConfigError) {
        let target = d.args[d.args.count - 1]
        guard target.hasPrefix("$"), target.count > 1 else { throw d.error("invalid variable name \"\(target)\"") }
        var source: ComplexValue? = nil
        if d.args.count == 2 {
            guard d.args[0].hasPrefix("$"), d.args[0].count > 1 else {
                throw d.error("invalid variable name \"\(d.args[0])\"")
            }
            source = try value(d.args[0], d)
        }
        var state = GeoState()
        for line in d.block ?? [] {
            try state.read(line, warnings: &warnings)
        }
        let name = String(target.dropFirst()).lowercased()
        geos[name] = state.build(source: source)
        customVariables.insert(name)
    }
}

/// A geo block being read.
private struct GeoState {
    var values: [[UInt8]] = [[]]
    var indexes: [[UInt8]: Int32] = [[]: 0]
    var ranges = false
    var volatile = false
    var proxyRecursive = false
    var proxies: [AccessRule] = []
    var v4 = GeoTrie(width: 32)
    var v6 = GeoTrie(width: 128)
    var treesStarted = false
    var rangeList = GeoRanges()
    var rangeDefault: Int32? = nil

    mutating func intern(_ text: String) -> Int32 {
        let bytes = Array(text.utf8)
        if let i = indexes[bytes] { return i }
        values.append(bytes)
        indexes[bytes] = Int32(values.count - 1)
        return Int32(values.count - 1)
    }

    func describe(_ i: Int32) -> String { String(decoding: values[Int(i)], as: UTF8.self) }

    mutating func read(_ line: ConfigDirective, warnings: inout [String]) throws(ConfigError) {
        func warn(_ message: String) {
            warnings.append(ConfigError(message, file: line.file, line: line.line).description)
        }
        if line.args.isEmpty {
            switch line.name {
            case "ranges":
                if treesStarted {
                    throw line.error("the \"ranges\" directive must be the first directive inside \"geo\" block")
                }
                ranges = true
                return
            case "proxy_recursive":
                proxyRecursive = true
                return
            case "volatile":
                volatile = true
                return
            default: break
            }
        }
        guard line.args.count == 1 else { throw line.error("invalid number of the geo parameters") }
        if line.name == "proxy" {
            proxies.append(try Self.network(line.args[0], line, warn: warn))
            return
        }
        if ranges { try readRange(line, warn: warn) } else { try readNetwork(line, warn: warn) }
    }

    private mutating func readRange(_ line: ConfigDirective, warn: (String) -> Void) throws(ConfigError) {
        if line.name == "default" {
            if let old = rangeDefault {
                warn("duplicate default geo range value: \"\(line.args[0])\", old value: \"\(describe(old))\"")
            }
            rangeDefault = intern(line.args[0])
            return
        }
        let delete = line.name == "delete"
        let net = delete ? line.args[0] : line.name
        let bytes = Array(net.utf8)
        guard let dash = bytes.firstIndex(of: UInt8(ascii: "-")),
            let start = bytes[..<dash].withUnsafeBytes({ GeoAddress.parseV4($0) }),
            let end = bytes[(dash + 1)...].withUnsafeBytes({ GeoAddress.parseV4($0) }), start <= end
        else { throw line.error("invalid range \"\(net)\"") }
        if delete {
            if !rangeList.delete(start, end) { warn("no address range \"\(net)\" to delete") }
            return
        }
        let v = intern(line.args[0])
        var found: [String] = []
        let values = values
        if let error = rangeList.add(
            start, end, value: v, net: net, describe: { String(decoding: values[Int($0)], as: UTF8.self) },
            warnings: &found)
        {
            throw line.error(error)
        }
        found.forEach(warn)
    }

    private mutating func readNetwork(_ line: ConfigDirective, warn: (String) -> Void) throws(ConfigError) {
        treesStarted = true
        if line.name == "default" {
            let v = intern(line.args[0])
            for old in [v4.insert(0, 0, prefix: 0, value: v), v6.insert(0, 0, prefix: 0, value: v)] {
                if let old {
                    warn("duplicate network \"default\", value: \"\(line.args[0])\", old value: \"\(describe(old))\"")
                }
            }
            return
        }
        let delete = line.name == "delete"
        let net = delete ? line.args[0] : line.name
        let rule = try Self.network(net, line, warn: warn)
        if delete {
            var removed = false
            switch rule.match {
            case .v4(let a, let m): removed = v4.delete(0, UInt64(a), prefix: m.nonzeroBitCount)
            case .v6(let a, let m): removed = v6.delete(a.0, a.1, prefix: m.0.nonzeroBitCount + m.1.nonzeroBitCount)
            default: break
            }
            if !removed { warn("no network \"\(net)\" to delete") }
            return
        }
        let v = intern(line.args[0])
        var old: Int32? = nil
        switch rule.match {
        case .v4(let a, let m): old = v4.insert(0, UInt64(a), prefix: m.nonzeroBitCount, value: v)
        case .v6(let a, let m): old = v6.insert(a.0, a.1, prefix: m.0.nonzeroBitCount + m.1.nonzeroBitCount, value: v)
        default: break
        }
        if let old { warn("duplicate network \"\(net)\", value: \"\(line.args[0])\", old value: \"\(describe(old))\"") }
    }

    /// A network or an address (nginx's ngx_ptocidr), with its "low address bits" warning.
    static func network(_ text: String, _ line: ConfigDirective, warn: (String) -> Void) throws(ConfigError)
        -> AccessRule
    {
        var warning: String? = nil
        guard let rule = AccessRule.parse(text, allow: true, warning: &warning) else {
            throw line.error("invalid network \"\(text)\"")
        }
        switch rule.match {
        case .v4, .v6: break
        default: throw line.error("invalid network \"\(text)\"")
        }
        if let warning { warn(warning) }
        return rule
    }

    func build(source: ComplexValue?) -> GeoBlock {
        let v4Intervals: [(UInt32, Int32)]
        let v6Intervals: [(UInt64, UInt64, Int32)]
        if ranges {
            v4Intervals = rangeList.intervals(orElse: rangeDefault ?? 0)
            v6Intervals = []
        } else {
            v4Intervals = v4.intervals(orElse: 0).map { (UInt32(truncatingIfNeeded: $0.1), $0.2) }
            v6Intervals = v6.intervals(orElse: 0)
        }
        return GeoBlock(
            source: source, proxies: proxies, proxyRecursive: proxyRecursive, volatile: volatile, ranges: ranges,
            values: values, v4: v4Intervals, v6: v6Intervals)
    }
}
