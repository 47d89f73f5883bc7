// Test helpers: locating the shared corpus next to the repository, and `ConnectionDriver`,
// a socket-free model of how the server consumes a byte stream (head → body by
// Content-Length or chunked → next request, stopping after a non-keep-alive or upgraded
// message). Every corpus test runs its bytes through the driver in several splits and
// compares the outcomes.

import Foundation
import Testing

@testable import SwiftginxHTTP

enum Corpus {
    /// `<repo>/../shared/corpus`, found from this file's path; tests fail when it is missing.
    static var root: URL {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        return repo.deletingLastPathComponent().appendingPathComponent("shared/corpus")
    }

    static func require(_ relative: String) throws -> URL {
        let url = root.appendingPathComponent(relative)
        guard FileManager.default.fileExists(atPath: url.path) else {
            Issue.record("corpus missing: \(url.path) (expected ../shared/corpus beside the repository)")
            throw CorpusMissing()
        }
        return url
    }

    struct CorpusMissing: Error {}
}

/// One request as the driver saw it.
struct Message: Equatable, CustomStringConvertible {
    var method: String
    var target: String
    var version: HTTPVersion
    var headers: [String]  // "name: value"
    var body: [UInt8]
    var keepAlive: Bool
    var chunked: Bool
    var host: String?

    var description: String {
        "\(method) \(target) \(version.major).\(version.minor) \(headers) body=\(body.count)B"
    }
}

/// How a byte stream ended.
enum StreamEnd: Equatable {
    /// All bytes were consumed by complete messages.
    case clean
    /// A head or body is unfinished.
    case incomplete
    /// The head or the chunked body was refused.
    case rejected(RequestParseError)
    /// A message ended the connection (close / upgrade) and bytes followed it.
    case closedWithLeftover(Int)
    /// A message ended the connection and nothing followed.
    case closed
}

struct Outcome: Equatable {
    var messages: [Message] = []
    var end: StreamEnd = .clean
}

/// Feeds pieces of a byte stream to `RequestParser` / `ChunkedDecoder` as a connection would.
struct ConnectionDriver {
    enum State {
        case head
        case lengthBody(remaining: Int64)
        case chunked(ChunkedDecoder)
        case stopped
        case failed(RequestParseError)
    }

    var parser: RequestParser
    var head = RequestHead()
    var received: [UInt8] = []
    var base = 0  // start of the current request in `received`
    var state = State.head
    var current: Message? = nil
    var outcome = Outcome()
    var stopsAfterMessage = false

    init(options: RequestParserOptions) {
        parser = RequestParser(options: options)
    }

    static func run(_ pieces: [ArraySlice<UInt8>], options: RequestParserOptions) -> Outcome {
        var d = ConnectionDriver(options: options)
        for p in pieces {
            d.received.append(contentsOf: p)
            d.advance()
        }
        return d.finish()
    }

    /// Whole, byte by byte, and split at every offset; records an issue when they differ.
    static func runAllSplits(_ bytes: [UInt8], options: RequestParserOptions, label: String) -> Outcome {
        let whole = run([bytes[...]], options: options)
        let bytewise = run(bytes.indices.map { bytes[$0..<($0 + 1)] }, options: options)
        #expect(bytewise == whole, "\(label): byte-by-byte differs from whole")
        if bytes.count <= 4096 {
            for k in 1..<max(bytes.count, 1) {
                let split = run([bytes[..<k], bytes[k...]], options: options)
                if split != whole {
                    Issue.record("\(label): split at \(k) differs: \(split) vs \(whole)")
                    break
                }
            }
        }
        return whole
    }

    mutating func advance() {
        while true {
            switch state {
            case .stopped, .failed:
                return
            case .head:
                if base == received.count { return }
                let r = received.withUnsafeBytes { raw in
                    parser.parse(UnsafeRawBufferPointer(rebasing: raw[base...]), into: &head)
                }
                switch r {
                case .incomplete:
                    return
                case .error(let e):
                    state = .failed(e)
                    return
                case .complete:
                    received.withUnsafeBytes { raw in
                        let b = UnsafeRawBufferPointer(rebasing: raw[base...])
                        func s(_ r: Range<Int>) -> String { String(decoding: b[r], as: UTF8.self) }
                        current = Message(
                            method: s(head.methodBytes), target: s(head.target), version: head.version,
                            headers: head.headers.map { s($0.name) + ": " + s($0.value) }, body: [],
                            keepAlive: head.keepAlive, chunked: head.isChunked, host: head.host.map(s))
                    }
                    stopsAfterMessage = !head.keepAlive || head.upgrade != nil
                    base += head.headLength
                    if head.isChunked {
                        state = .chunked(ChunkedDecoder())
                    } else if let n = head.contentLength, n > 0 {
                        state = .lengthBody(remaining: n)
                    } else {
                        endMessage()
                    }
                }
            case .lengthBody(let remaining):
                let avail = received.count - base
                if avail == 0 { return }
                let n = Int(min(Int64(avail), remaining))
                current!.body.append(contentsOf: received[base..<(base + n)])
                base += n
                if remaining - Int64(n) == 0 {
                    endMessage()
                } else {
                    state = .lengthBody(remaining: remaining - Int64(n))
                    return
                }
            case .chunked(var dec):
                var offset = base
                let step = received.withUnsafeBytes { raw in dec.next(raw, offset: &offset) }
                base = offset
                switch step {
                case .data(let r):
                    current!.body.append(contentsOf: received[r])
                    state = .chunked(dec)
                case .needMore:
                    state = .chunked(dec)
                    return
                case .done:
                    endMessage()
                case .error(let e):
                    state = .failed(e)
                    return
                }
            }
        }
    }

    mutating func endMessage() {
        outcome.messages.append(current!)
        current = nil
        parser.reset()
        head.reset()
        received.removeSubrange(0..<base)  // the next request starts at offset 0
        base = 0
        state = stopsAfterMessage ? .stopped : .head
    }

    func finish() -> Outcome {
        var o = outcome
        switch state {
        case .failed(let e): o.end = .rejected(e)
        case .stopped: o.end = received.count > base ? .closedWithLeftover(received.count - base) : .closed
        case .head:
            // Only empty lines (skipped before a request line) left: nothing is pending.
            let rest = received[base...]
            o.end = rest.allSatisfy { $0 == 0x0D || $0 == 0x0A } && rest.count % 2 == 0 ? .clean : .incomplete
        case .lengthBody, .chunked: o.end = .incomplete
        }
        return o
    }
}

extension RequestParserOptions {
    /// Framing-only options for third-party vectors that omit Host, keeping every header.
    static var framing: RequestParserOptions {
        var o = RequestParserOptions()
        o.requireHost = false
        o.ignoreInvalidHeaders = false
        return o
    }
}

/// Parses one complete request with default options.
func parseHead(_ text: String, options: RequestParserOptions = RequestParserOptions())
    -> (RequestParseResult, RequestHead, [UInt8])
{
    let bytes = Array(text.utf8)
    var parser = RequestParser(options: options)
    var head = RequestHead()
    let r = bytes.withUnsafeBytes { parser.parse($0, into: &head) }
    return (r, head, bytes)
}

/// Parses `text` fed in two reads, the first `at` bytes and then all of it.
func parseHeadSplit(_ text: String, at cut: Int) -> (RequestParseResult, RequestHead, [UInt8]) {
    let bytes = Array(text.utf8)
    var parser = RequestParser()
    var head = RequestHead()
    let first = bytes.withUnsafeBytes { parser.parse(UnsafeRawBufferPointer(rebasing: $0[..<cut]), into: &head) }
    if first != .incomplete { return (first, head, bytes) }
    let r = bytes.withUnsafeBytes { parser.parse($0, into: &head) }
    return (r, head, bytes)
}

extension Array where Element == UInt8 {
    func string(_ r: Range<Int>?) -> String? {
        guard let r else { return nil }
        return String(decoding: self[r], as: UTF8.self)
    }
}
