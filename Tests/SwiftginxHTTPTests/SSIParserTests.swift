// Unit tests of SSIParser: commands and the text around them, fed whole, byte by byte
// and split at every offset (the events, with adjacent text merged, must not change),
// and the malformed commands nginx refuses.

import Testing

@testable import SwiftginxHTTP

@Suite struct SSIParserTests {
    enum Item: Equatable {
        case text(String)
        case command(String, [String: String])
        case error
    }

    /// Parses `input` fed in the given pieces; adjacent text is merged.
    func parse(_ pieces: [[UInt8]], valueLength: Int = 256) -> [Item] {
        var parser = SSIParser(valueLength: valueLength)
        var items: [Item] = []
        func add(_ e: SSIEvent) {
            switch e {
            case .text(let t):
                if case .text(let prev)? = items.last {
                    items[items.count - 1] = .text(prev + String(decoding: t, as: UTF8.self))
                } else if !t.isEmpty {
                    items.append(.text(String(decoding: t, as: UTF8.self)))
                }
            case .command(let c):
                var params: [String: String] = [:]
                for p in c.params {
                    params[String(decoding: p.name, as: UTF8.self)] = String(decoding: p.value, as: UTF8.self)
                }
                items.append(.command(c.nameString, params))
            case .error:
                items.append(.error)
            }
        }
        for p in pieces { parser.feed(p, add) }
        parser.finish(add)
        return items
    }

    /// The same events whole, byte by byte, and in two pieces split at every offset.
    func parseAllWays(_ input: String, valueLength: Int = 256) -> [Item] {
        let bytes = Array(input.utf8)
        let whole = parse([bytes], valueLength: valueLength)
        #expect(parse(bytes.map { [$0] }, valueLength: valueLength) == whole, "byte by byte: \(input)")
        for cut in 0...bytes.count {
            let split = parse([Array(bytes[..<cut]), Array(bytes[cut...])], valueLength: valueLength)
            #expect(split == whole, "split at \(cut): \(input)")
        }
        return whole
    }

    @Test func textWithoutCommands() {
        #expect(
            parseAllWays("plain <b>html</b> <!-- a comment --> <!x") == [
                .text("plain <b>html</b> <!-- a comment --> <!x")
            ])
        #expect(parseAllWays("ends with <!--") == [.text("ends with <!--")])
    }

    @Test func commandsAndText() {
        #expect(
            parseAllWays("A<!--# echo var=\"x\" default='d' -->B<!--#endif-->C")
                == [
                    .text("A"), .command("echo", ["var": "x", "default": "d"]), .text("B"),
                    .command("endif", [:]), .text("C"),
                ])
        #expect(
            parseAllWays("<!--#include virtual=\"/a?b=c\" wait=\"yes\"-->")
                == [.command("include", ["virtual": "/a?b=c", "wait": "yes"])])
    }

    @Test func escapedQuoteInValue() {
        #expect(
            parseAllWays(#"<!--#set var="v" value="say \"hi\" \d" -->"#)
                == [.command("set", ["var": "v", "value": #"say "hi" \d"#])])
    }

    @Test func malformedCommandsAreDroppedToTheirEnd() {
        #expect(parseAllWays("a<!--#echo var=x -->b") == [.text("a"), .error, .text("b")])
        #expect(parseAllWays("a<!--#=bad -->b") == [.text("a"), .error, .text("b")])
        #expect(parseAllWays("a<!--#echo var=\"x\" -- >b") == [.text("a"), .error])
    }

    @Test func valueLengthLimit() {
        #expect(
            parseAllWays("<!--#set var=\"v\" value=\"12345\" -->", valueLength: 5).first
                == .command("set", ["var": "v", "value": "12345"]))
        #expect(parseAllWays("<!--#set var=\"v\" value=\"123456\" -->x", valueLength: 5) == [.error, .text("x")])
    }

    @Test func unfinishedCommandAtTheEnd() {
        #expect(parseAllWays("x<!--#echo var=\"a\"") == [.text("x"), .error])
    }
}
