// Tests of server-name selection in nginx's order (exact, longest leading wildcard,
// longest trailing wildcard, first regex, else the default).

import Testing

@testable import SwiftginxRouting

@Suite struct ServerNameIndexTests {
    func lookup(_ index: ServerNameIndex, _ host: String) -> Int? {
        var h = host
        return h.withUTF8 { index.match(UnsafeRawBufferPointer($0)) }
    }

    @Test func nginxOrder() {
        let index = ServerNameIndex([
            (["~^www\\d+\\.example\\.com$"], 0),
            (["www.example.*"], 1),
            (["*.example.com"], 2),
            (["*.mail.example.com"], 3),
            (["www.example.com", "example.com"], 4),
            ([".example.org"], 5),
            (["~^(?<sub>.+)\\.example\\.net$", "~^a"], 6),
            (["www.sub.*"], 7),
            (["www.*"], 8),
        ])
        let table: [(String, Int?)] = [
            ("www.example.com", 4),  // exact beats every wildcard
            ("example.com", 4),
            ("a.example.com", 2),  // leading wildcard beats trailing and regex
            ("www1.example.com", 2),  // leading wildcard beats regex
            ("x.mail.example.com", 3),  // longest leading wildcard
            ("a.b.example.com", 2),
            ("www.example.org", 5),  // leading wildcard .example.org beats trailing www.example.*
            ("www.example.io", 1),
            ("example.org", 5),  // ".example.org" matches the bare name
            ("a.example.org", 5),
            ("www.sub.example.io", 7),  // longest trailing wildcard
            ("www.other.io", 8),
            ("foo.example.net", 6),  // first regex
            ("abc.test", 6),
            ("unknown.test", nil),
            ("", nil),
        ]
        for (host, expected) in table {
            #expect(lookup(index, host) == expected, "\(host)")
        }
    }

    @Test func leadingWildcardBeatsTrailing() {
        let index = ServerNameIndex([(["www.example.*"], 0), ([".example.org"], 1)])
        #expect(lookup(index, "www.example.org") == 1)
    }

    @Test func firstDeclarationWinsAndCaseIsIgnored() {
        let index = ServerNameIndex([(["Example.COM"], 0), (["example.com"], 1), (["", "_"], 2)])
        #expect(lookup(index, "example.com") == 0)
        #expect(lookup(index, "") == 2)
        #expect(lookup(index, "_") == 2)
    }

    @Test func wildcardNeedsALabel() {
        let index = ServerNameIndex([(["*.example.com"], 0), (["www.*"], 1)])
        #expect(lookup(index, "example.com") == nil)
        #expect(lookup(index, ".example.com") == nil)
        #expect(lookup(index, "www.") == nil)
        #expect(lookup(index, "www.x") == 1)
    }
}
