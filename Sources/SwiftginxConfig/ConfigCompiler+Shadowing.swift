// Locations that can never match, found at configuration time for `-T`: a regex
// location that repeats an earlier one at the same level, a regex after one that
// matches every URI, and an anchored literal regex (`~ ^/path$`) that an exact location
// (`= /path`) at the same level always answers first. nginx itself says nothing about
// these; swiftginx prints them as warnings under `-T`.

extension ConfigCompiler {
    func shadowedLocationWarnings() -> [String] {
        var out: [String] = []
        for s in servers { check(s.locations, into: &out) }
        return out
    }

    private func check(_ level: [LocationBuilder], into out: inout [String]) {
        var earlierRegex: [LocationBuilder] = []
        let exactNames = Set(level.compactMap { l -> String? in if case .exact = l.kind { l.name } else { nil } })
        for l in level {
            if case .regex(let caseless) = l.kind {
                let place = "in \(l.directive.file):\(l.directive.line)"
                if let first = earlierRegex.first(where: {
                    if case .regex(let c) = $0.kind { c == caseless && $0.name == l.name } else { false }
                }) {
                    out.append(
                        "location \"\(l.written)\" \(place) can never match: the same regex at "
                            + "\(first.directive.file):\(first.directive.line) is tried first")
                } else if let all = earlierRegex.first(where: { Self.matchesEverything($0.name) }) {
                    out.append(
                        "location \"\(l.written)\" \(place) can never match: \"\(all.written)\" at "
                            + "\(all.directive.file):\(all.directive.line) matches every URI first")
                } else if let literal = Self.anchoredLiteral(l.name), exactNames.contains(literal), !caseless {
                    out.append(
                        "location \"\(l.written)\" \(place) can never match: \"= \(literal)\" answers that URI first")
                }
                earlierRegex.append(l)
            }
            check(l.children, into: &out)
        }
    }

    /// Patterns every URI matches (URIs start with "/").
    static func matchesEverything(_ pattern: String) -> Bool {
        ["", ".", ".*", "^", "^/", "/", "^.*", "^/.*", ".*$"].contains(pattern)
    }

    /// "^/path$" with no regex metacharacters → "/path".
    static func anchoredLiteral(_ pattern: String) -> String? {
        guard pattern.hasPrefix("^/"), pattern.hasSuffix("$"), pattern.count > 2 else { return nil }
        let body = pattern.dropFirst().dropLast()
        let meta = Set("\\.^$|?*+()[]{}")
        guard !body.contains(where: { meta.contains($0) }) else { return nil }
        return String(body)
    }
}
