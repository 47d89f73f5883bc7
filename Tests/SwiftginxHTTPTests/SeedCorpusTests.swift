// h2o's fuzz seed corpus (`../shared/corpus/http1-seeds`): every file goes through the
// parser and chunked decoder without trapping, as socket writes split at the
// "\n--MARK--\n" separators (bytes after the last one are not sent, as in h2o's harness)
// and, for the same bytes, as one write; both must end the same way.

import Foundation
import Testing

@testable import SwiftginxHTTP

@Suite struct SeedCorpusTests {
    static func pieces(_ data: [UInt8]) -> [ArraySlice<UInt8>]? {
        let mark = Array("\n--MARK--\n".utf8)
        var out: [ArraySlice<UInt8>] = []
        var start = 0
        var i = 0
        while i + mark.count <= data.count {
            if data[i] == mark[0], data[i..<(i + mark.count)].elementsEqual(mark) {
                out.append(data[start..<i])
                i += mark.count
                start = i
            } else {
                i += 1
            }
        }
        return out.isEmpty ? nil : out
    }

    @Test func seedsNeverTrap() throws {
        let dir = try Corpus.require("http1-seeds")
        let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
        #expect(names.count > 1900)
        var complete = 0
        var rejected = 0
        for name in names {
            let data = Array(try Data(contentsOf: dir.appendingPathComponent(name)))
            for options in [RequestParserOptions(), .framing] {
                if let parts = Self.pieces(data) {
                    let split = ConnectionDriver.run(parts, options: options)
                    let whole = ConnectionDriver.run([parts.joined()[...]].map { Array($0)[...] }, options: options)
                    #expect(split == whole, "\(name): MARK pieces vs one write")
                    complete += split.messages.count
                    if case .rejected = split.end { rejected += 1 }
                } else {
                    let o = ConnectionDriver.run([data[...]], options: options)
                    complete += o.messages.count
                }
            }
        }
        print("h2o seeds: \(names.count) files, \(complete) requests parsed, \(rejected) streams rejected")
    }
}
