// Runs nodejs/llhttp's request vectors (`../shared/corpus/llhttp/request/*.md`) through the
// parser and `ConnectionDriver`: strict cases that end in an llhttp error must be rejected,
// lenient cases must be rejected (RFC 9112: a proxy must not copy llhttp's leniencies),
// accepted cases must give the same methods, targets, versions, headers and bodies. Every
// case is fed whole, byte by byte and split at every offset. Cases that test llhttp's API
// or protocols nginx does not speak are skipped by name, each with its reason.

import Foundation
import Testing

@testable import SwiftginxHTTP

struct LLHTTPCase {
    var file: String
    var name: String
    var type: String
    var meta: [String: Any]
    var input: [UInt8]
    var log: [String]
}

/// What llhttp's event log says about a case.
struct LLExpected {
    struct Msg {
        var method = ""
        var url = ""
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        var version = ""
        var methodCode = -1
        var complete = false
    }
    var messages: [Msg] = []
    var errorCode: Int? = nil
}

enum LLHTTPCorpus {
    static func load() throws -> [LLHTTPCase] {
        let dir = try Corpus.require("llhttp/request")
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".md") }
            .sorted()
        var cases: [LLHTTPCase] = []
        for f in files {
            let text = try String(contentsOf: dir.appendingPathComponent(f), encoding: .utf8)
            cases += parseFile(f, text)
        }
        return cases
    }

    static func parseFile(_ file: String, _ text: String) -> [LLHTTPCase] {
        let lines = text.components(separatedBy: "\n")
        var cases: [LLHTTPCase] = []
        var heading = ""
        var i = 0
        while i < lines.count {
            let line = lines[i]
            if line.hasPrefix("#") {
                heading = line.drop { $0 == "#" || $0 == " " }.description
            } else if i + 1 < lines.count, lines[i + 1].hasPrefix("==="), !line.isEmpty {
                heading = line
            }
            if line.hasPrefix("<!-- meta=") {
                let json = line.dropFirst("<!-- meta=".count).replacingOccurrences(of: "-->", with: "")
                let meta =
                    (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] ?? [:]
                var j = i + 1
                while j < lines.count, lines[j] != "```http" { j += 1 }
                var block: [String] = []
                j += 1
                while j < lines.count, lines[j] != "```" {
                    block.append(lines[j])
                    j += 1
                }
                while j < lines.count, lines[j] != "```log" { j += 1 }
                var log: [String] = []
                j += 1
                while j < lines.count, lines[j] != "```" {
                    log.append(lines[j])
                    j += 1
                }
                cases.append(
                    LLHTTPCase(
                        file: file, name: heading, type: meta["type"] as? String ?? "", meta: meta,
                        input: inputBytes(block), log: log))
                i = j
            }
            i += 1
        }
        return cases
    }

    /// The README's recipe: join lines, drop the last newline, remove "\\\n", LF → CRLF,
    /// then resolve escapes, then UTF-8.
    static func inputBytes(_ block: [String]) -> [UInt8] {
        var s = block.joined(separator: "\n")
        s = s.replacingOccurrences(of: "\\\n", with: "")
        s = s.replacingOccurrences(of: "\n", with: "\r\n")
        var scalars: [Unicode.Scalar] = []
        let u = Array(s.unicodeScalars)
        var k = 0
        func isOctal(_ c: Unicode.Scalar) -> Bool { c >= "0" && c <= "7" }
        while k < u.count {
            let c = u[k]
            if c == "\\", k + 1 < u.count {
                let e = u[k + 1]
                switch e {
                case "r":
                    scalars.append("\r")
                    k += 2
                    continue
                case "n":
                    scalars.append("\n")
                    k += 2
                    continue
                case "t":
                    scalars.append("\t")
                    k += 2
                    continue
                case "f":
                    scalars.append("\u{0C}")
                    k += 2
                    continue
                case "x":
                    if k + 3 < u.count,
                        let v = UInt32(String(String.UnicodeScalarView(u[(k + 2)...(k + 3)])), radix: 16)
                    {
                        scalars.append(Unicode.Scalar(v)!)
                        k += 4
                        continue
                    }
                default:
                    if isOctal(e) {
                        var m = k + 1
                        var v: UInt32 = 0
                        while m < u.count, m < k + 4, isOctal(u[m]) {
                            v = v * 8 + (u[m].value - 48)
                            m += 1
                        }
                        scalars.append(Unicode.Scalar(v)!)
                        k = m
                        continue
                    }
                }
            }
            scalars.append(c)
            k += 1
        }
        var out = String()
        out.unicodeScalars.append(contentsOf: scalars)
        return Array(out.utf8)
    }

    static func expected(_ log: [String]) -> LLExpected {
        var x = LLExpected()
        var inValue = false
        var inTrailers = false
        var name = ""
        var value = ""
        func flushHeader() {
            if !name.isEmpty || !value.isEmpty { x.messages[x.messages.count - 1].headers.append((name, value)) }
            name = ""
            value = ""
            inValue = false
        }
        for line in log {
            guard let sp = line.firstIndex(of: " ") else { continue }
            let ev = String(line[line.index(after: sp)...])
            if ev == "message begin" {
                x.messages.append(LLExpected.Msg())
                inTrailers = false
                name = ""
                value = ""
                inValue = false
            } else if ev.hasPrefix("len="), let open = ev.range(of: "span["), let close = ev.range(of: "]=") {
                let kind = String(ev[open.upperBound..<close.lowerBound])
                var text = String(ev[close.upperBound...])
                if text == "cr" {
                    text = "\r"
                } else if text == "lf" {
                    text = "\n"
                } else {
                    text = String(text.dropFirst().dropLast())
                    text = text.replacingOccurrences(of: "\\t", with: "\t").replacingOccurrences(
                        of: "\\f", with: "\u{0C}")
                }
                guard !x.messages.isEmpty else { continue }
                let m = x.messages.count - 1
                switch kind {
                case "method": x.messages[m].method += text
                case "url": x.messages[m].url += text
                case "version": x.messages[m].version += text
                case "header_field" where inTrailers, "header_value" where inTrailers:
                    break
                case "header_field":
                    if inValue { flushHeader() }
                    name += text
                case "header_value":
                    inValue = true
                    value += text
                case "body": x.messages[m].body += Array(text.utf8)
                default: break
                }
            } else if ev.hasPrefix("headers complete") {
                flushHeader()
                inTrailers = true
                if let r = ev.range(of: "method="), let n = Int(ev[r.upperBound...].prefix { $0.isNumber }) {
                    x.messages[x.messages.count - 1].methodCode = n
                }
            } else if ev == "message complete" {
                x.messages[x.messages.count - 1].complete = true
            } else if ev.hasPrefix("error code="), let n = Int(ev.dropFirst("error code=".count).prefix { $0.isNumber })
            {
                x.errorCode = n
            }
        }
        if !x.messages.isEmpty, inValue || !name.isEmpty { flushHeader() }
        return x
    }
}

/// Cases skipped on purpose, by "file: heading".
let llhttpSkips: [String: String] = [
    // llhttp API features with no equivalent in a request parser that returns a head:
    "pausing.md": "llhttp pause callbacks (API-specific; meta `pause`)",
    // Protocols / start lines nginx does not speak on an HTTP port:
    "method.md: PRI request HTTP2": "HTTP/2 preface: we answer 505 (HTTP/2.0 start line), llhttp pauses for h2c",
    "method.md: SOURCE request with ICE": "ICE/1.0 protocol (llhttp accepts it, nginx answers 400)",
    "method.md: OPTIONS request with RTSP": "RTSP/1.0 protocol",
    "method.md: ANNOUNCE request with RTSP": "RTSP/1.0 protocol",
]

/// Cases where swiftginx deliberately differs from llhttp's strict mode, with the reason.
/// `true` = we must reject although llhttp accepts; `false` = we must accept although
/// llhttp refuses.
let llhttpDeliberate: [String: (reject: Bool, why: String)] = [
    "method.md: M-SEARCH request": (true, "`*` is accepted only for OPTIONS (RFC 9112 §3.2.4)"),
    "sample.md: No HTTP version": (true, "no HTTP/0.9: a request line without a version is a 400"),
    "uri.md: `host:port` and basic auth": (
        true, "userinfo in an http(s) target is an error (RFC 9110 §4.2.4); nginx 400s"
    ),
    "transfer-encoding.md: POST with `chunked` as last transfer-encoding":
        (true, "only `chunked` is implemented: other codings are 501 as in nginx"),
    "transfer-encoding.md: POST with `chunked` as last transfer-encoding (multiple headers)":
        (true, "a second Transfer-Encoding line is a duplicate header (400), as in nginx"),
    "invalid.md: HTTP protocol and ANNOUNCE method":
        (false, "any token is a method (RFC 9110 §9.1); nginx parses unknown methods"),
    "invalid.md: Invalid method": (false, "MKCOLA is a valid token; nginx parses unknown upper-case methods"),
    "uri.md: Underscore in hostname":
        (true, "a request-line host is letters, digits, `.` and `-` in nginx's parser: `_` is a 400"),
    "uri.md: Disallow UTF-8 in URI path in strict mode":
        (false, "nginx accepts obs-text bytes in the target; only controls and spaces are refused"),
]

@Suite struct LLHTTPCorpusTests {
    @Test func requestVectors() throws {
        let cases = try LLHTTPCorpus.load()
        #expect(cases.count >= 150, "expected ~166 request cases, found \(cases.count)")
        var ran = 0
        var skipped: [String] = []
        for c in cases {
            let key = "\(c.file): \(c.name)"
            if let why = llhttpSkips[c.file] ?? llhttpSkips[key] {
                skipped.append("\(key) — \(why)")
                continue
            }
            if c.meta["skipBody"] != nil {
                skipped.append("\(key) — skipBody callback (llhttp client-side API for HEAD responses)")
                continue
            }
            if c.meta["pause"] != nil {
                skipped.append("\(key) — pause callback (llhttp API)")
                continue
            }
            ran += 1
            check(c, label: key)
        }
        print("llhttp request cases: \(ran) run, \(skipped.count) skipped")
        for s in skipped { print("  skipped: \(s)") }
    }

    func check(_ c: LLHTTPCase, label: String) {
        let x = LLHTTPCorpus.expected(c.log)
        let outcome = ConnectionDriver.runAllSplits(c.input, options: .framing, label: label)
        let lenient = c.type.contains("lenient")
        let upgradePause = x.errorCode == 22 || x.errorCode == 23
        let llhttpRejects = (x.errorCode != nil && !upgradePause) || lenient
        let completed = x.messages.filter(\.complete)
        if let d = llhttpDeliberate[label] {
            if d.reject {
                guard case .rejected = outcome.end else {
                    Issue.record("\(label): must be rejected (\(d.why)): \(outcome)")
                    return
                }
            } else {
                #expect(
                    outcome.messages.count == 1 && outcome.end != .incomplete, "\(label): must be accepted (\(d.why))")
            }
            return
        }
        if llhttpRejects {
            // Rejected, or (data after close / after upgrade) answered and then closed.
            switch outcome.end {
            case .rejected:
                break
            case .incomplete:
                // Input stops inside a line we judge only when it ends: terminate it, then it must fail.
                let ended = ConnectionDriver.run([(c.input + Array("\r\n\r\n".utf8))[...]], options: .framing)
                guard case .rejected = ended.end else {
                    Issue.record("\(label): llhttp rejects; ours is incomplete and accepts once terminated: \(ended)")
                    return
                }
            case .closedWithLeftover:
                if x.errorCode != 5 && !c.type.contains("keep-alive") {
                    Issue.record("\(label): expected a rejection, got close with leftover: \(outcome)")
                }
            default:
                Issue.record(
                    "\(label): llhttp \(lenient ? "lenient case" : "error \(x.errorCode!)") but accepted: \(outcome)")
            }
            #expect(outcome.messages.count <= completed.count, "\(label): more messages than llhttp completed")
            return
        }
        // CONNECT: nginx parses, then refuses with 405.
        if let first = x.messages.first, first.methodCode == 5 {
            #expect(outcome.end == .rejected(.methodNotAllowed("client sent CONNECT method")), "\(label): \(outcome)")
            return
        }
        if case .rejected(let e) = outcome.end {
            Issue.record("\(label): llhttp accepts, we reject: \(e)")
            return
        }
        #expect(
            outcome.messages.count == completed.count,
            "\(label): messages \(outcome.messages) vs llhttp \(completed.count)")
        for (m, e) in zip(outcome.messages, completed) {
            #expect(m.method == e.method, "\(label)")
            #expect(m.target == e.url, "\(label)")
            #expect("\(m.version.major).\(m.version.minor)" == e.version, "\(label)")
            let want = e.headers.map { "\($0.0): \($0.1.trimmingCharacters(in: CharacterSet(charactersIn: " \t")))" }
            #expect(m.headers == want, "\(label): headers")
            #expect(m.body == e.body, "\(label): body")
        }
        let lastIncomplete = x.messages.last.map { !$0.complete } ?? false
        if upgradePause {
            #expect(outcome.end == .closed || outcome.end != .incomplete, "\(label): upgrade")
        } else if lastIncomplete {
            #expect(outcome.end == .incomplete, "\(label): llhttp waits for more, we end \(outcome.end)")
        } else if outcome.end != .clean && outcome.end != .closed {
            Issue.record("\(label): expected a clean end, got \(outcome.end)")
        }
    }
}
