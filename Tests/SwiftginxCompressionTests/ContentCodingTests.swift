// ContentCoding: tokens, level ranges and defaults (nginx's gzip_comp_level, ngx_brotli).

import Testing

@testable import SwiftginxCompression

@Suite struct ContentCodingTests {
    @Test func tokens() {
        #expect(ContentCoding.gzip.rawValue == "gzip")
        #expect(ContentCoding.br.rawValue == "br")
        #expect(ContentCoding.zstd.rawValue == "zstd")
        #expect(ContentCoding.identity.rawValue == "identity")
        #expect(ContentCoding(rawValue: "br") == .br)
        #expect(ContentCoding(rawValue: "deflate") == nil)
    }

    @Test func levels() {
        #expect(ContentCoding.gzip.levelRange == 1...9)
        #expect(ContentCoding.gzip.defaultLevel == 1)
        #expect(ContentCoding.br.levelRange == 0...11)
        #expect(ContentCoding.br.defaultLevel == 6)
        #expect(ContentCoding.zstd.levelRange == 1...19)
        #expect(ContentCoding.zstd.defaultLevel == 3)
        for coding in ContentCoding.allCases {
            #expect(coding.levelRange.contains(coding.defaultLevel))
        }
    }
}
