// AcceptEncoding: RFC 9110 §12.5.3 negotiation as tables, and nginx's gzip check.

import Testing

@testable import SwiftginxCompression

@Suite struct AcceptEncodingTests {
    static let serverOrder: [ContentCoding] = [.zstd, .br, .gzip]
    static let withIdentity: [ContentCoding] = [.zstd, .br, .gzip, .identity]

    func preferred(_ value: String, _ available: [ContentCoding] = serverOrder) -> ContentCoding? {
        Array(value.utf8).withUnsafeBytes { AcceptEncoding.preferred($0, available: available) }
    }

    func accepts(_ value: String, _ coding: ContentCoding = .gzip) -> Bool {
        Array(value.utf8).withUnsafeBytes { AcceptEncoding.accepts($0, coding) }
    }

    @Test func commonBrowserValues() {
        #expect(preferred("gzip, deflate, br") == .br)  // tie at q=1: the server's order
        #expect(preferred("gzip, deflate, br, zstd") == .zstd)
        #expect(preferred("gzip, deflate") == .gzip)
        #expect(preferred("gzip, deflate, br", [.gzip, .br]) == .gzip)
        #expect(preferred("deflate, compress") == nil)
        #expect(preferred("gzip, deflate, br", []) == nil)
    }

    @Test func weights() {
        #expect(preferred("br;q=0.5, gzip;q=0.8") == .gzip)
        #expect(preferred("br;q=0.8, gzip;q=0.5") == .br)
        #expect(preferred("zstd;q=0.001, gzip;q=0.002") == .gzip)
        #expect(preferred("gzip;q=1.000, br;q=0.999") == .gzip)
        #expect(preferred("gzip;q=1, br;q=1.0, zstd;q=1.00") == .zstd)
        #expect(preferred("gzip;q=0") == nil)
        #expect(preferred("gzip;q=0.000, br") == .br)
        #expect(preferred("gzip;q=0", Self.withIdentity) == .identity)
        #expect(preferred("gzip;Q=0.5") == .gzip)  // parameter names ignore case
        #expect(preferred("gzip;level=1;q=0.5, br;q=0.4") == .gzip)  // other parameters ignored
    }

    @Test func star() {
        #expect(preferred("*;q=0.1") == .zstd)  // every coding at 0.1: the server's order
        #expect(preferred("*") == .zstd)
        #expect(preferred("*;q=0.1, gzip;q=0.5") == .gzip)
        #expect(preferred("*, zstd;q=0") == .br)
        #expect(preferred("br;q=0, *") == .zstd)
        #expect(preferred("*;q=0, gzip") == .gzip)
        #expect(preferred("*;q=0") == nil)
    }

    @Test func identity() {
        #expect(preferred("identity") == nil)
        #expect(preferred("identity", Self.withIdentity) == .identity)
        #expect(preferred("identity;q=0", [.gzip, .identity]) == nil)  // nothing acceptable
        #expect(preferred("*;q=0", [.identity]) == nil)
        #expect(preferred("*;q=0, identity", [.identity]) == .identity)
        // Unlisted identity is acceptable, but any listed coding wins over it.
        #expect(preferred("br;q=0.001", [.identity, .br]) == .br)
        #expect(preferred("br;q=0", [.identity, .br]) == .identity)
        // An explicit weight competes normally.
        #expect(preferred("identity;q=1, gzip;q=0.5", Self.withIdentity) == .identity)
    }

    @Test func caseAndSpelling() {
        #expect(preferred("GZIP") == .gzip)
        #expect(preferred("Br") == .br)
        #expect(preferred("ZStd;Q=1") == .zstd)
        #expect(preferred("x-gzip") == .gzip)
        #expect(preferred("X-GZIP;q=0.5, br;q=0.4") == .gzip)
        #expect(preferred("gzipx, brotli, zst") == nil)
    }

    @Test func whitespace() {
        #expect(preferred("  gzip  ") == .gzip)
        #expect(preferred("gzip ; q=0.5 , br ; q=0.4") == .gzip)
        #expect(preferred("\tbr\t;\tq=0.9,\tgzip") == .gzip)
        #expect(preferred(",, ,gzip,,") == .gzip)
    }

    @Test func emptyAndGarbage() {
        #expect(preferred("") == nil)
        #expect(preferred("", Self.withIdentity) == .identity)  // empty: no coding wanted
        #expect(preferred("   ", Self.withIdentity) == .identity)
        #expect(preferred("\u{1}\u{7F},,;;==") == nil)
        #expect(preferred(";q=1, =gzip") == nil)
        #expect(preferred("gz ip, br") == .br)  // the broken element alone is skipped
        #expect(preferred("gzip\u{0}, br") == .br)
        #expect(preferred("\"gzip\", br;q=0.5") == .br)
    }

    /// Decision: an invalid weight refuses its coding, as nginx does for gzip.
    @Test func invalidWeightsRefuse() {
        for value in [
            "gzip;q=2", "gzip;q=1.5", "gzip;q=1.001", "gzip;q=0.0001", "gzip;q=0.5x", "gzip;q=",
            "gzip;q", "gzip;q = 1", "gzip;q=-1", "gzip;q=.5", "gzip;q=1e0",
        ] {
            #expect(preferred(value) == nil, "\(value)")
            #expect(preferred(value + ", br;q=0.1") == .br, "\(value)")
        }
    }

    /// A coding listed twice keeps its lower weight.
    @Test func duplicates() {
        #expect(preferred("gzip;q=0, gzip") == nil)
        #expect(preferred("gzip, gzip;q=0") == nil)
        #expect(preferred("br;q=0.9, br, gzip;q=0.95") == .gzip)
    }

    /// nginx's ngx_http_gzip_accept_encoding, for gzip_static-style checks.
    @Test func nginxGzipCheck() {
        let accepted = [
            "gzip", "GZIP", "Gzip", "gzip, deflate", "deflate, gzip", "deflate,gzip", "br, gzip;q=1.000",
            "gzip;q=0.001", "gzip;q=1", "gzip;q=1.0", "gzip;q=0.5 , br", "gzip ;q=0.5", "gzip; q=0.5",
            "gzip;Q=0.5", "gzip;", "gzip;q=0.5,br", "x-gzip, gzip", "gzip  ", "gzip;q=1 ",
        ]
        let refused = [
            "", "deflate", "br", "gzip;q=0", "gzip; q=0.000", "gzip;q=0.", "gzip;q=1.5", "gzip;q=2",
            "gzip;q=0.1234", "gzip;q=0.5;x=1", "gzip;level=1", "gzip;q=", "gzip;q", "x-gzip", "gzipx",
            "gzipx, gzip", "gzip\t", "*", "gzip;q=abc", "gzip;q=0.5x",
        ]
        for value in accepted { #expect(accepts(value), "\(value)") }
        for value in refused { #expect(!accepts(value), "\(value)") }
    }

    @Test func nginxCheckOtherCodings() {
        #expect(accepts("gzip, deflate, br", .br))
        #expect(accepts("br;q=0.5", .br))
        #expect(!accepts("br;q=0", .br))
        #expect(!accepts("brotli", .br))
        #expect(accepts("zstd", .zstd))
        #expect(!accepts("gzip", .zstd))
    }

    /// Every prefix of tricky values, and random bytes, never trap (bounds are checked
    /// in debug builds) and give consistent answers.
    @Test func prefixesAndRandomBytesAreSafe() {
        let values = [
            "gzip;q=0.5 , br;q=0.4", "x-gzip;q=1.000, *;q=0", "gzip;q=", "br ; q=0.9,\tzstd;level=3;q=0.1",
            "identity;q=0, *", "gzip;Q=1.", "gzip; q=0.001,",
        ]
        var inputs = values.flatMap { v in (0...v.utf8.count).map { Array(v.utf8.prefix($0)) } }
        var rng = SplitMix64(state: 9)
        let alphabet = Array("gzipbrstdentiy*;,= \tqQ.0123456789x-".utf8)
        for _ in 0..<5000 {
            let count = Int(rng.next() % 24)
            inputs.append((0..<count).map { _ in alphabet[Int(rng.next() % UInt64(alphabet.count))] })
        }
        for input in inputs {
            input.withUnsafeBytes { raw in
                let choice = AcceptEncoding.preferred(raw, available: Self.withIdentity)
                _ = AcceptEncoding.accepts(raw, .gzip)
                _ = AcceptEncoding.accepts(raw, .identity)
                // The choice is one of the acceptable codings whatever else is offered.
                if let choice { #expect(AcceptEncoding.preferred(raw, available: [choice]) == choice) }
            }
        }
    }
}
