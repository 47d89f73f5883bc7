// Unit tests of URINormalizer against nginx's complex-URI rules.

import Testing

@testable import SwiftginxHTTP

@Suite struct URINormalizerTests {
    func norm(_ s: String, merge: Bool = true) -> String? {
        var out: [UInt8] = []
        let ok = Array(s.utf8).withUnsafeBytes { URINormalizer.normalize($0, mergeSlashes: merge, into: &out) }
        return ok ? String(decoding: out, as: UTF8.self) : nil
    }

    @Test func plainAndDecoded() {
        #expect(norm("/") == "/")
        #expect(norm("") == "/")
        #expect(norm("/a/b.html") == "/a/b.html")
        #expect(norm("/caf%C3%A9") == "/café")
        #expect(norm("/a%20b") == "/a b")
        #expect(norm("/a%2fb") == "/a/b")
        #expect(norm("/a%3Fb") == "/a?b")
        #expect(norm("/a%25b") == "/a%b")
        #expect(norm("/a%23b") == "/a#b")
        #expect(norm("/a#frag") == "/a")
    }

    @Test func slashesAndDots() {
        #expect(norm("//a///b") == "/a/b")
        #expect(norm("//a///b", merge: false) == "//a///b")
        #expect(norm("/a/./b") == "/a/b")
        #expect(norm("/a/.") == "/a/")
        #expect(norm("/a/../b") == "/b")
        #expect(norm("/a/b/..") == "/a/")
        #expect(norm("/a/b/../../c") == "/c")
        #expect(norm("/a/%2e%2E/b") == "/b")
        #expect(norm("/a/.%2e") == "/")
        #expect(norm("/a/..b") == "/a/..b")
        #expect(norm("/a.b/c") == "/a.b/c")
        #expect(norm("/a/..#x") == "/")
        #expect(norm("/a/.#x") == "/a/")
    }

    @Test func invalid() {
        for bad in [
            "/..", "/../a", "/a/../..", "/%2e%2e", "/%00", "/a%", "/a%4", "/a%zz", "/a%4g", "/a\u{0}b",
            "/a/%2e%2e/%2e%2e",
        ] {
            #expect(norm(bad) == nil, "\(bad)")
        }
    }
}

/// The whole-path copy taken for paths that need no work gives what the byte-by-byte
/// state machine gives, for every path over bytes that matter to it (exhaustive up to
/// length 5, then random).
@Suite struct URINormalizerFastPathTests {
    static let alphabet = Array("/.a%2e#f".utf8) + [0]

    func check(_ path: [UInt8]) {
        for merge in [true, false] {
            var fast: [UInt8] = []
            var slow: [UInt8] = []
            let okFast = path.withUnsafeBytes { URINormalizer.normalize($0, mergeSlashes: merge, into: &fast) }
            let okSlow = path.withUnsafeBytes {
                $0.isEmpty
                    ? URINormalizer.normalize($0, mergeSlashes: merge, into: &slow)
                    : URINormalizer.normalizeByteByByte($0, mergeSlashes: merge, into: &slow)
            }
            #expect(okFast == okSlow, "\(path)")
            if okFast && okSlow { #expect(fast == slow, "\(path)") }
        }
    }

    @Test func agreesWithTheStateMachine() {
        var paths: [[UInt8]] = [[]]
        for _ in 0..<5 {
            paths = paths.flatMap { p in Self.alphabet.map { p + [$0] } }
            for p in paths { check([0x2F] + p) }
        }
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<20000 {
            let n = Int.random(in: 1...40, using: &rng)
            check([0x2F] + (0..<n).map { _ in Self.alphabet.randomElement(using: &rng)! })
        }
    }
}
