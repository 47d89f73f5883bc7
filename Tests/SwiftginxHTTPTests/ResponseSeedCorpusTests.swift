// The response fuzzer's seeds (Fuzz/response-seeds) as regression cases: the first head of
// each is parsed whole, byte by byte and split at every offset, with the verdict pinned.

import Foundation
import Testing

@testable import SwiftginxHTTP

@Suite struct ResponseSeedCorpusTests {
    static var seeds: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Fuzz/response-seeds")
    }

    @Test func verdicts() throws {
        let expected: [String: ResponseParseResult] = [
            "apache-404": .complete,
            "cl-and-te": .error(.contentLengthAndTransferEncoding),
            "cl-list": .error(.invalidContentLength("Content-Length: 1,1")),
            "continue-then-201": .complete,
            "daphne-websocket": .complete,
            "early-hints-no-reason": .complete,
            "gunicorn-close": .complete,
            "runserver-10-bare-lf": .complete,
            "te-list": .error(.unknownTransferEncoding("chunked, identity")),
            "uwsgi-chunked-keepalive": .complete,
        ]
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.seeds.path).sorted()
        #expect(files == expected.keys.sorted())
        for name in files {
            let bytes = Array(try Data(contentsOf: Self.seeds.appendingPathComponent(name)))
            let s = ResponseSnapshot.allWays(bytes)
            #expect(s.result == expected[name], "\(name): \(s)")
        }
    }
}
