// Tests of the PCRE2 wrapper: compile errors in nginx's wording, captures, named
// groups, caseless matching, and concurrent use from several threads.

import Dispatch
import Synchronization
import Testing

@testable import SwiftginxRouting

@Suite struct RegexTests {
    @Test func compileErrorsUseNginxWording() {
        #expect(throws: RegexError("pcre2_compile() failed: missing closing parenthesis in \"(foo\"")) {
            try Regex("(foo")
        }
        #expect(throws: RegexError("pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\"")) {
            try Regex("a)b")
        }
    }

    @Test func capturesAndGroups() throws {
        let re = try Regex("^/user/(\\d+)/(?<action>[a-z]+)?")
        #expect(re.captureCount == 2)
        #expect(re.namedGroups == ["action": 2])
        #expect(re.match("/user/42/edit") == [0..<13, 6..<8, 9..<13])
        #expect(re.match("/user/42/") == [0..<9, 6..<8, 0..<0])
        #expect(re.match("/users") == nil)
    }

    @Test func caseless() throws {
        #expect(try Regex("\\.JPG$").match("/a.jpg") == nil)
        #expect(try Regex("\\.JPG$", caseless: true).match("/a.jpg") == [2..<6])
    }

    @Test func emptySubject() throws {
        #expect(try Regex("^$").match("") == [0..<0])
        #expect(try Regex("x").match("") == nil)
    }

    @Test func concurrentMatching() throws {
        let re = try Regex("^/item/(\\d+)$")
        // Wrong matches are collected and checked on the test's own thread (an issue
        // recorded on a Dispatch worker thread would not belong to this test).
        let wrong = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 8) { t in
            for i in 0..<2000 {
                let path = "/item/\(i * 8 + t)"
                let caps = re.match(path)
                if caps?.count != 2 || caps?[1] != 6..<path.utf8.count { wrong.withLock { $0.append(path) } }
            }
        }
        #expect(wrong.withLock { $0 } == [])
    }
}

extension RegexError: Equatable {
    public static func == (a: RegexError, b: RegexError) -> Bool { a.message == b.message }
}
