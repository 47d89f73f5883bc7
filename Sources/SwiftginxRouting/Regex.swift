// A compiled PCRE2 regular expression, shared read-only by every worker thread.
// The pattern is compiled once (and JIT-compiled when the library supports it);
// each match borrows a per-thread match-data block, so matching allocates nothing
// once a thread has warmed up and is safe from several threads at once.

import CPCRE2

#if canImport(Glibc)
    import Glibc
#endif

/// A regular expression that failed to compile; `description` is nginx's wording:
/// `pcre2_compile() failed: missing closing parenthesis in "(foo"`.
public struct RegexError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// A PCRE2 regular expression compiled once and matched over raw bytes.
public final class Regex: @unchecked Sendable {
    // @unchecked: `code` is immutable after init; pcre2_match only reads it, and the
    // per-call state lives in a thread-local match-data block.
    private let code: OpaquePointer
    /// The pattern as written.
    public let pattern: String
    /// Whether the pattern was compiled with PCRE2_CASELESS (`~*`).
    public let caseless: Bool
    /// Number of capturing groups (not counting group 0).
    public let captureCount: Int
    /// Named groups: name → group number (`(?<name>...)`).
    public let namedGroups: [String: Int]
    /// True when the JIT compiler accepted the pattern.
    public let isJIT: Bool

    /// Compiles `pattern`; throws RegexError in nginx's wording.
    public init(_ pattern: String, caseless: Bool = false) throws(RegexError) {
        var errorCode: Int32 = 0
        var errorOffset: Int = 0
        let options: UInt32 = caseless ? UInt32(PCRE2_CASELESS) : 0
        let compiled = pattern.withCString { p in
            p.withMemoryRebound(to: UInt8.self, capacity: pattern.utf8.count + 1) { bytes in
                pcre2_compile_8(bytes, pattern.utf8.count, options, &errorCode, &errorOffset, nil)
            }
        }
        guard let compiled else {
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = pcre2_get_error_message_8(errorCode, &buffer, buffer.count)
            let text = n > 0 ? String(decoding: buffer[0..<Int(n)], as: UTF8.self) : "error \(errorCode)"
            let utf8 = Array(pattern.utf8)
            var message = "pcre2_compile() failed: \(text) in \"\(pattern)\""
            if errorOffset < utf8.count {
                message += " at \"\(String(decoding: utf8[errorOffset...], as: UTF8.self))\""
            }
            throw RegexError(message)
        }
        self.code = compiled
        self.pattern = pattern
        self.caseless = caseless
        self.isJIT = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE)) == 0

        var count: UInt32 = 0
        _ = pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_CAPTURECOUNT), &count)
        self.captureCount = Int(count)

        var names: [String: Int] = [:]
        var nameCount: UInt32 = 0
        var entrySize: UInt32 = 0
        var table: UnsafePointer<UInt8>? = nil
        _ = pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_NAMECOUNT), &nameCount)
        _ = pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_NAMEENTRYSIZE), &entrySize)
        _ = pcre2_pattern_info_8(compiled, UInt32(PCRE2_INFO_NAMETABLE), &table)
        if let table, nameCount > 0 {
            for i in 0..<Int(nameCount) {
                let entry = table + i * Int(entrySize)
                let number = Int(entry[0]) << 8 | Int(entry[1])
                var end = 2
                while end < Int(entrySize) && entry[end] != 0 { end += 1 }
                let name = String(decoding: UnsafeBufferPointer(start: entry + 2, count: end - 2), as: UTF8.self)
                names[name] = number
            }
        }
        self.namedGroups = names
    }

    deinit { pcre2_code_free_8(code) }

    /// True when the pattern matches somewhere in `subject`. Allocates nothing after
    /// the calling thread's first match.
    public func matches(_ subject: UnsafeRawBufferPointer) -> Bool {
        withMatch(subject) { _ in () } != nil
    }

    /// Capture ranges of the first match: index 0 is the whole match, index n is
    /// group n (`$n`). A group that did not take part is reported as `0..<0`
    /// (empty, which is what nginx substitutes for it). Nil when there is no match.
    public func match(_ subject: UnsafeRawBufferPointer) -> [Range<Int>]? {
        withMatch(subject) { ovector in
            var ranges: [Range<Int>] = []
            ranges.reserveCapacity(captureCount + 1)
            let unset = swiftginx_pcre2_unset()
            for g in 0...captureCount {
                let start = ovector[2 * g]
                let end = ovector[2 * g + 1]
                ranges.append(start == unset || end == unset ? 0..<0 : start..<end)
            }
            return ranges
        }
    }

    /// Convenience for tests and configuration: matches a String's UTF-8 bytes.
    public func match(_ subject: String) -> [Range<Int>]? {
        var s = subject
        return s.withUTF8 { match(UnsafeRawBufferPointer($0)) }
    }

    /// Runs pcre2 and, on a match, hands `body` the output vector
    /// (2 × (captureCount + 1) offsets) before the match data is reused.
    @usableFromInline func withMatch<T>(_ subject: UnsafeRawBufferPointer, _ body: (UnsafeMutablePointer<Int>) -> T)
        -> T?
    {
        let pairs = UInt32(captureCount + 1)
        guard let data = MatchDataCache.matchData(pairs: pairs) else { return nil }
        let base = subject.baseAddress?.assumingMemoryBound(to: UInt8.self)
        let empty: StaticString = ""
        let start = base ?? empty.utf8Start
        let rc: Int32 =
            isJIT
            ? pcre2_jit_match_8(code, start, subject.count, 0, 0, data, nil)
            : pcre2_match_8(code, start, subject.count, 0, 0, data, nil)
        guard rc >= 0 else { return nil }
        return body(pcre2_get_ovector_pointer_8(data))
    }
}

/// One match-data block per thread, grown on demand and freed when the thread exits.
enum MatchDataCache {
    struct Slot {
        var data: OpaquePointer
        var pairs: UInt32
    }

    private static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k) { raw in
            guard let raw else { return }
            let slot = raw.assumingMemoryBound(to: Slot.self)
            pcre2_match_data_free_8(slot.pointee.data)
            slot.deinitialize(count: 1)
            slot.deallocate()
        }
        return k
    }()

    static func matchData(pairs: UInt32) -> OpaquePointer? {
        let wanted = max(pairs, 10)
        if let raw = pthread_getspecific(key) {
            let slot = raw.assumingMemoryBound(to: Slot.self)
            if slot.pointee.pairs >= pairs { return slot.pointee.data }
            guard let data = pcre2_match_data_create_8(wanted, nil) else { return nil }
            pcre2_match_data_free_8(slot.pointee.data)
            slot.pointee = Slot(data: data, pairs: wanted)
            return data
        }
        guard let data = pcre2_match_data_create_8(wanted, nil) else { return nil }
        let slot = UnsafeMutablePointer<Slot>.allocate(capacity: 1)
        slot.initialize(to: Slot(data: data, pairs: wanted))
        pthread_setspecific(key, slot)
        return data
    }
}
