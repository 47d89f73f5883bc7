// The charset module's recoding tables (`charset_map src dst { XX YY; ... }`), as
// nginx builds them: a table serves both directions; bytes below 0x80 map to
// themselves and unlisted bytes above to '?'. A map to "utf-8" gives each byte its
// UTF-8 sequence (and decodes UTF-8 back, an unlisted character becoming "&#N;").
// The static file handler recodes with them (Handlers/StaticFileHandler+Charset.swift).

/// One direction of a `charset_map`.
public final class CharsetTable: Sendable {
    /// Byte to byte (nil for a table to or from UTF-8).
    public let bytes: [UInt8]?
    /// To UTF-8: each byte's sequence.
    public let toUTF8: [[UInt8]]?
    /// From UTF-8: code point to byte.
    public let fromUTF8: [UInt32: UInt8]?

    init(bytes: [UInt8]? = nil, toUTF8: [[UInt8]]? = nil, fromUTF8: [UInt32: UInt8]? = nil) {
        self.bytes = bytes
        self.toUTF8 = toUTF8
        self.fromUTF8 = fromUTF8
    }

    /// A byte-for-byte table keeps lengths (and so ranges and Content-Length).
    public var keepsLength: Bool { bytes != nil }

    /// Appends `input` recoded to `out`.
    public func recode<C: Collection>(_ input: C, into out: inout [UInt8]) where C.Element == UInt8 {
        var carry: [UInt8] = []
        recode(input, into: &out, carry: &carry, final: true)
    }

    /// The same for a body recoded piece by piece: an incomplete UTF-8 character at the
    /// end of a piece waits in `carry` for the next one (`final`: there is none, and
    /// such a character becomes '?').
    public func recode<C: Collection>(_ input: C, into out: inout [UInt8], carry: inout [UInt8], final: Bool)
    where C.Element == UInt8 {
        if let bytes {
            for b in input { out.append(bytes[Int(b)]) }
        } else if let toUTF8 {
            for b in input { out += toUTF8[Int(b)] }
        } else if let fromUTF8 {
            let data = carry + Array(input)
            let end = Self.decodeUTF8(data, table: fromUTF8, into: &out, final: final)
            carry = Array(data[end...])
        }
    }

    /// Decodes `s`; returns where an incomplete final character starts (`s.count` when
    /// there is none, or when `final`).
    private static func decodeUTF8(_ s: [UInt8], table: [UInt32: UInt8], into out: inout [UInt8], final: Bool)
        -> Int
    {
        var i = 0
        while i < s.count {
            let b = s[i]
            if b < 0x80 {
                out.append(b)
                i += 1
                continue
            }
            let n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : b >= 0xC0 ? 2 : 0
            if n > 0, i + n > s.count, !final, s[(i + 1)...].allSatisfy({ $0 & 0xC0 == 0x80 }) {
                return i
            }
            guard n > 0, i + n <= s.count else {
                out.append(UInt8(ascii: "?"))
                i += 1
                continue
            }
            var cp = UInt32(b) & (n == 2 ? 0x1F : n == 3 ? 0x0F : 0x07)
            var valid = true
            for k in 1..<n {
                let c = s[i + k]
                if c & 0xC0 != 0x80 { valid = false }
                cp = cp << 6 | UInt32(c & 0x3F)
            }
            guard valid else {
                out.append(UInt8(ascii: "?"))
                i += 1
                continue
            }
            if let mapped = table[cp] {
                out.append(mapped)
            } else {
                out += Array("&#\(cp);".utf8)
            }
            i += n
        }
        return s.count
    }
}

/// Every `charset_map` of the configuration, by (source, destination), lowercased, and
/// the charsets the configuration names (those an upstream's `X-Accel-Charset` may ask for).
public final class CharsetMaps: Sendable {
    private let tables: [String: CharsetTable]
    private let known: Set<String>

    public static let none = CharsetMaps(tables: [:], known: [])

    init(tables: [String: CharsetTable], known: Set<String>) {
        self.tables = tables
        self.known = known
    }

    /// No charset is named anywhere (the charset module has nothing to do).
    public var isEmptyOfNames: Bool { known.isEmpty }

    /// Whether a `charset`, `source_charset` or `charset_map` names `charset`.
    public func isKnown(_ charset: String) -> Bool { known.contains(charset.lowercased()) }

    public var isEmpty: Bool { tables.isEmpty }

    /// The table recoding `source` into `destination`, if a charset_map gives one.
    public func table(from source: String, to destination: String) -> CharsetTable? {
        tables[source.lowercased() + "\0" + destination.lowercased()]
    }

    /// Builds the tables from `charset_map` blocks: (source, destination, lines of
    /// two hex values); errors in nginx's words.
    static func build(_ maps: [ConfigDirective], names: Set<String>) throws(ConfigError) -> CharsetMaps {
        var tables: [String: CharsetTable] = [:]
        var known = Set(names.map { $0.lowercased() })
        for d in maps {
            let src = d.args[0].lowercased()
            let dst = d.args[1].lowercased()
            known.formUnion([src, dst])
            if src == dst {
                throw d.error("\"charset_map\" between the same charsets \"\(d.args[0])\" and \"\(d.args[1])\"")
            }
            if src == "utf-8" {
                throw d.error("\"charset_map\" with \"utf-8\" charset should be given in the second column")
            }
            if tables[src + "\0" + dst] != nil {
                throw d.error("duplicate \"charset_map\" between \"\(d.args[0])\" and \"\(d.args[1])\"")
            }
            if dst == "utf-8" {
                var to: [[UInt8]] = (0..<256).map { $0 < 128 ? [UInt8($0)] : [UInt8(ascii: "?")] }
                var from: [UInt32: UInt8] = [:]
                for line in d.block ?? [] {
                    guard line.args.count == 1 else { throw line.error("invalid parameters number") }
                    guard let s = hex(line.name), s <= 255 else { throw line.error("invalid value \"\(line.name)\"") }
                    let text = Array(line.args[0].utf8)
                    guard text.count % 2 == 0, text.count / 2 <= 3, !text.isEmpty else {
                        throw line.error("invalid value \"\(line.args[0])\"")
                    }
                    var seq: [UInt8] = []
                    for k in stride(from: 0, to: text.count, by: 2) {
                        guard let v = hex(String(decoding: text[k..<(k + 2)], as: UTF8.self)) else {
                            throw line.error("invalid value \"\(line.args[0])\"")
                        }
                        seq.append(UInt8(v))
                    }
                    to[s] = seq
                    if let scalar = String(decoding: seq, as: UTF8.self).unicodeScalars.first {
                        from[scalar.value] = UInt8(s)
                    }
                }
                for i in 0..<128 { from[UInt32(i)] = UInt8(i) }
                tables[src + "\0" + dst] = CharsetTable(toUTF8: to)
                tables[dst + "\0" + src] = CharsetTable(fromUTF8: from)
            } else {
                var forward: [UInt8] = (0..<256).map { $0 < 128 ? UInt8($0) : UInt8(ascii: "?") }
                var backward = forward
                for line in d.block ?? [] {
                    guard line.args.count == 1 else { throw line.error("invalid parameters number") }
                    guard let s = hex(line.name), s <= 255 else { throw line.error("invalid value \"\(line.name)\"") }
                    guard let t = hex(line.args[0]), t <= 255 else {
                        throw line.error("invalid value \"\(line.args[0])\"")
                    }
                    forward[s] = UInt8(t)
                    backward[t] = UInt8(s)
                }
                tables[src + "\0" + dst] = CharsetTable(bytes: forward)
                tables[dst + "\0" + src] = CharsetTable(bytes: backward)
            }
        }
        return CharsetMaps(tables: tables, known: known)
    }

    private static func hex(_ s: String) -> Int? {
        guard !s.isEmpty, s.utf8.count <= 8, s.utf8.allSatisfy({ $0 < 128 && Character(Unicode.Scalar($0)).isHexDigit })
        else { return nil }
        return Int(s, radix: 16)
    }
}
