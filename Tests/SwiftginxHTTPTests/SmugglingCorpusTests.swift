// The request-smuggling vectors of `../shared/corpus/smuggling/examples` with the strict
// verdicts of their `index.tsv`, checked through `ConnectionDriver` whole, byte by byte and
// split at every offset (default options: Host required, invalid headers ignored).

import Foundation
import Testing

@testable import SwiftginxHTTP

@Suite struct SmugglingCorpusTests {
    struct Vector {
        var id: String
        var file: String
        var expect: String
        var bytes: [UInt8]
    }

    static func load() throws -> [Vector] {
        let dir = try Corpus.require("smuggling/examples")
        let index = try String(contentsOf: dir.appendingPathComponent("index.tsv"), encoding: .utf8)
        var out: [Vector] = []
        for line in index.split(separator: "\n").dropFirst() {
            let cols = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            guard cols.count >= 4 else { continue }
            let data = try Data(contentsOf: dir.appendingPathComponent(cols[1]))
            out.append(Vector(id: cols[0], file: cols[1], expect: cols[3], bytes: Array(data)))
        }
        return out
    }

    @Test func verdicts() throws {
        let vectors = try Self.load()
        #expect(vectors.count == 47)
        var counts: [String: Int] = [:]
        for v in vectors {
            counts[v.expect, default: 0] += 1
            let o = ConnectionDriver.runAllSplits(v.bytes, options: RequestParserOptions(), label: v.id)
            check(v, o)
        }
        print("smuggling verdicts checked: \(counts.sorted { $0.key < $1.key })")
    }

    /// Vectors the corpus calls 400 that nginx 1.31.5 refuses with 501 (a Transfer-Encoding
    /// other than exactly `chunked`, here `chunked, chunked`): refused and closed either way.
    static let nginx501: Set<String> = ["te-te-chunked-twice.raw"]

    func rejected(_ o: Outcome, _ statuses: Set<Int>) -> Bool {
        guard o.messages.isEmpty, case .rejected(let e) = o.end else { return false }
        return statuses.contains(e.status)
    }

    func check(_ v: Vector, _ o: Outcome) {
        let one = o.messages.count == 1 ? o.messages[0] : nil
        switch v.expect {
        case "reject-400" where Self.nginx501.contains(v.file):
            #expect(rejected(o, [501]), "\(v.id): \(o)")
        case "reject-400":
            #expect(rejected(o, [400]), "\(v.id): \(o)")
        case "reject-501-or-400":
            #expect(rejected(o, [400, 501]), "\(v.id): \(o)")
        case "reject-400-or-413":
            // An over-long chunk extension: the head is accepted, the body is refused.
            let bodyRejected: Bool
            if case .rejected(let e) = o.end, e.status == 400 || e.status == 413 {
                bodyRejected = true
            } else {
                bodyRejected = false
            }
            #expect(bodyRejected && o.messages.isEmpty, "\(v.id): \(o)")
        case "reject-400-or-505":
            #expect(rejected(o, [400, 505]), "\(v.id): \(o)")
        case "reject-400-or-close":
            let closed = o.messages.count == 1 && (o.end == .closed || o.end == .closedWithLeftover(0))
            #expect(rejected(o, [400]) || closed, "\(v.id): \(o)")
        case "accept-or-reject":
            let accepted = one != nil && o.end == .clean && one!.body.count == 5
            #expect(accepted || rejected(o, [400]), "\(v.id): \(o)")
        case "accept":
            #expect(one != nil && o.end == .clean, "\(v.id): \(o)")
            switch v.id {
            case "te-te-case": #expect(one?.chunked == true && one?.body == [])
            case "cl-leading-zero", "cl-ows", "chunk-size-leading-zeros", "chunk-ext-valid":
                #expect(one?.body == Array("HELLO".utf8), "\(v.id)")
            case "leading-crlf": #expect(one?.target == "/")
            default: break
            }
        case "accept-ignore-field":
            #expect(one != nil && o.end == .clean && one?.body == [] && one?.chunked == true, "\(v.id): \(o)")
        case "accept-consume-body":
            #expect(one?.body.count == 34 && o.end == .clean, "\(v.id): one request, 34-byte body: \(o)")
        case "accept-then-close":
            #expect(one != nil && one?.keepAlive == false, "\(v.id): \(o)")
            if case .closedWithLeftover = o.end {
            } else {
                Issue.record("\(v.id): second request must not be parsed: \(o)")
            }
        case "accept-use-target":
            #expect(one?.host == "a.example" && o.end == .clean, "\(v.id): \(o)")
        case "incomplete":
            #expect(o.end == .incomplete, "\(v.id): \(o)")
        default:
            Issue.record("\(v.id): unknown verdict \(v.expect)")
        }
    }
}
