// The http-level blocks that define variables from other values: `map` (exact keys,
// hostnames wildcards, regexes, default, volatile) and `split_clients` (percentage
// bands), compiled into MapBlocks.swift's types with nginx's messages.

import SwiftginxRouting

extension ConfigCompiler {
    /// `map source $variable { [hostnames;] [volatile;] default value; key value; ~regex value; }`.
    /// Values may use variables (also ones declared later) and the regex's captures.
    func mapBlock(_ d: ConfigDirective) throws(ConfigError) {
        let target = d.args[1]
        guard target.hasPrefix("$"), target.count > 1 else { throw d.error("invalid variable name \"\(target)\"") }
        let name = String(target.dropFirst()).lowercased()
        let source = try value(d.args[0], d)
        var exact: [String: ComplexValue] = [:]
        var wildcards: [(suffix: String, matchesBare: Bool, value: ComplexValue)] = []
        var tailWildcards: [(prefix: String, value: ComplexValue)] = []
        var regexes: [(Regex, ComplexValue)] = []
        var defaultValue: ComplexValue? = nil
        var hostnames = false
        var volatile = false
        for line in d.block ?? [] {
            switch (line.name, line.args.count) {
            case ("hostnames", 0):
                hostnames = true
                continue
            case ("volatile", 0):
                volatile = true
                continue
            case (_, 1):
                break
            default:
                throw line.error("invalid number of the map parameters")
            }
            let v = try value(line.args[0], line)
            var key = line.name
            if key == "default" {
                if defaultValue != nil { throw line.error("duplicate default map parameter") }
                defaultValue = v
            } else if key.hasPrefix("~") {
                let caseless = key.hasPrefix("~*")
                let pattern = String(key.dropFirst(caseless ? 2 : 1))
                do { regexes.append((try Regex(pattern, caseless: caseless), v)) } catch {
                    throw line.error(error.message)
                }
            } else {
                if key.hasPrefix("\\") { key.removeFirst() }
                key = key.lowercased()
                if hostnames && key.hasPrefix("*.") {
                    wildcards.append((String(key.dropFirst()), false, v))
                } else if hostnames && key.hasPrefix(".") {
                    wildcards.append((key, true, v))
                } else if hostnames && key.hasSuffix(".*") {
                    tailWildcards.append((String(key.dropLast()), v))
                } else if exact[key] != nil {
                    throw line.error("duplicate entry \"\(line.name)\"")
                } else {
                    exact[key] = v
                }
            }
        }
        maps[name] = VariableMap(
            source: source, exact: exact, wildcards: wildcards, tailWildcards: tailWildcards, regexes: regexes,
            defaultValue: defaultValue, hostnames: hostnames, volatile: volatile)
        customVariables.insert(name)
    }

    /// `split_clients string $variable { 0.5% value; ... * value; }`: percentages with
    /// two decimals, at most 100% in all, as nginx checks them.
    func splitClients(_ d: ConfigDirective) throws(ConfigError) {
        let target = d.args[1]
        guard target.hasPrefix("$"), target.count > 1 else { throw d.error("invalid variable name \"\(target)\"") }
        let name = String(target.dropFirst()).lowercased()
        let source = try value(d.args[0], d)
        var bands: [(bound: UInt64, value: ComplexValue)] = []
        var sum = 0
        for line in d.block ?? [] {
            guard line.args.count == 1 else { throw line.error("invalid number of arguments in split_clients") }
            let v = try value(line.args[0], line)
            if line.name == "*" {
                bands.append((UInt64(UInt32.max) + 1, v))
                continue
            }
            guard line.name.hasSuffix("%"), let percent = Self.hundredths(String(line.name.dropLast())), percent > 0
            else { throw line.error("invalid percent value \"\(line.name)\"") }
            sum += percent
            if sum > 10000 { throw line.error("percent total is greater than 100%") }
            bands.append((UInt64(UInt32.max) * UInt64(sum) / 10000, v))
        }
        splits[name] = SplitClients(source: source, bands: bands)
        customVariables.insert(name)
    }

    /// "12.34" → 1234 (nginx's ngx_atofp with two decimals); nil when invalid.
    static func hundredths(_ text: String) -> Int? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, let whole = Int(parts[0].isEmpty ? "0" : String(parts[0])) else { return nil }
        var frac = 0
        if parts.count == 2 {
            let f = String(parts[1])
            guard f.count <= 2, f.allSatisfy(\.isNumber) else { return nil }
            frac = (Int(f) ?? 0) * (f.count == 1 ? 10 : 1)
        }
        return whole * 100 + frac
    }
}
