// The status conditions `proxy_next_upstream` and `proxy_cache_use_stale` share: each
// option set's names and status mapping land on its own bits.

import Testing

@testable import SwiftginxConfig

@Suite struct UpstreamStatusConditionsTests {
    @Test func bothOptionSetsMapTheSameStatusesToTheirOwnBits() {
        let stale: [Int: CacheUseStale] = [
            500: .http500, 502: .http502, 503: .http503, 504: .http504, 403: .http403, 404: .http404, 429: .http429,
        ]
        let next: [Int: NextUpstream] = [
            500: .http500, 502: .http502, 503: .http503, 504: .http504, 403: .http403, 404: .http404, 429: .http429,
        ]
        for (code, bit) in stale {
            #expect(CacheUseStale.status(code) == bit)
            #expect(CacheUseStale.byName["http_\(code)"] == bit)
        }
        for (code, bit) in next {
            #expect(NextUpstream.status(code) == bit)
            #expect(NextUpstream.byName["http_\(code)"] == bit)
        }
        for code in [200, 301, 400, 501] {
            #expect(CacheUseStale.status(code) == nil)
            #expect(NextUpstream.status(code) == nil)
        }
    }

    @Test func eachKeepsItsOwnWords() {
        #expect(CacheUseStale.byName.count == 11)
        #expect(CacheUseStale.byName["updating"] == .updating)
        #expect(CacheUseStale.byName["non_idempotent"] == nil)
        #expect(NextUpstream.byName.count == 11)
        #expect(NextUpstream.byName["non_idempotent"] == .nonIdempotent)
        #expect(NextUpstream.byName["updating"] == nil)
        #expect(NextUpstream.byName["error"] == .error && CacheUseStale.byName["error"] == .error)
    }
}
