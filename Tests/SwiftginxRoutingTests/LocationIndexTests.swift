// Tests of location selection with nginx's precedence, as tables: the `location`
// documentation's A–E example, ^~ against regex, regex order, nested locations,
// named locations and captures.

import Testing

@testable import SwiftginxRouting

@Suite struct LocationIndexTests {
    func check(_ index: LocationIndex<String>, _ table: [(String, String?)]) {
        for (path, expected) in table {
            #expect(index.match(path)?.location == expected, "\(path)")
        }
    }

    /// nginx.org/en/docs/http/ngx_http_core_module.html#location
    @Test func documentationExample() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .exact, pattern: "/", payload: "A"),
            LocationEntry(kind: .prefix, pattern: "/", payload: "B"),
            LocationEntry(kind: .prefix, pattern: "/documents/", payload: "C"),
            LocationEntry(kind: .prefixNoRegex, pattern: "/images/", payload: "D"),
            LocationEntry(kind: .regex(caseless: true), pattern: "\\.(gif|jpg|jpeg)$", payload: "E"),
        ])
        check(
            index,
            [
                ("/", "A"), ("/index.html", "B"), ("/documents/document.html", "C"), ("/images/1.gif", "D"),
                ("/documents/1.jpg", "E"), ("/documents/1.JPG", "E"), ("/x.gif", "E"),
            ])
    }

    @Test func noMatchIsNil() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .prefix, pattern: "/api/", payload: "api"),
            LocationEntry(kind: .exact, pattern: "/x", payload: "x"),
        ])
        check(index, [("/", nil), ("/x/", nil), ("/x", "x"), ("/api", nil), ("/api/v1", "api"), ("/API/v1", nil)])
    }

    @Test func regexOrderAndCase() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .prefix, pattern: "/", payload: "root"),
            LocationEntry(kind: .regex(caseless: false), pattern: "\\.php$", payload: "php"),
            LocationEntry(kind: .regex(caseless: false), pattern: "^/admin/", payload: "admin"),
            LocationEntry(kind: .regex(caseless: false), pattern: "\\.PHP$", payload: "PHP"),
        ])
        check(index, [("/admin/x.php", "php"), ("/admin/x", "admin"), ("/a.PHP", "PHP"), ("/a.Php", "root")])
    }

    @Test func longestPrefixNoRegexStopsRegex() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .prefixNoRegex, pattern: "/static/", payload: "static"),
            LocationEntry(kind: .prefix, pattern: "/static/img/", payload: "img"),
            LocationEntry(kind: .regex(caseless: false), pattern: "\\.png$", payload: "png"),
        ])
        // The longest prefix is the plain /static/img/, so regexes are tried.
        check(index, [("/static/a.png", "static"), ("/static/img/a.png", "png"), ("/static/img/a", "img")])
    }

    @Test func nestedLocations() throws {
        let index = try LocationIndex<String>([
            LocationEntry(
                kind: .prefix, pattern: "/app/", payload: "app",
                children: [
                    LocationEntry(kind: .exact, pattern: "/app/health", payload: "health"),
                    LocationEntry(kind: .prefix, pattern: "/app/static/", payload: "app-static"),
                    LocationEntry(kind: .regex(caseless: false), pattern: "\\.js$", payload: "app-js"),
                ]),
            LocationEntry(
                kind: .prefixNoRegex, pattern: "/files/", payload: "files",
                children: [
                    LocationEntry(kind: .regex(caseless: false), pattern: "\\.txt$", payload: "files-txt")
                ]),
            LocationEntry(
                kind: .regex(caseless: false), pattern: "^/img/", payload: "img",
                children: [
                    LocationEntry(kind: .regex(caseless: false), pattern: "\\.png$", payload: "img-png")
                ]),
            LocationEntry(kind: .regex(caseless: false), pattern: "\\.(js|txt|png)$", payload: "outer"),
        ])
        check(
            index,
            [
                ("/app/health", "health"),
                ("/app/x", "app"),
                ("/app/a.js", "app-js"),  // nested regex is tried before the outer ones
                ("/app/static/a.js", "app-js"),  // nested prefix is not ^~: nested regex wins
                ("/app/static/a.png", "outer"),  // nested regexes fail, outer regex tried
                ("/app/static/a", "app-static"),
                ("/files/a.txt", "files-txt"),  // ^~ stops only the outer regexes
                ("/files/a.png", "files"),
                ("/img/a.png", "img-png"),  // nested regex inside a regex location
                ("/img/a.gif", "img"),
                ("/other.png", "outer"),
            ])
    }

    @Test func nestedNoRegexStillAllowsOuterRegex() throws {
        // nginx only consults the noregex flag of the prefix at its own level.
        let index = try LocationIndex<String>([
            LocationEntry(
                kind: .prefix, pattern: "/a/", payload: "a",
                children: [LocationEntry(kind: .prefixNoRegex, pattern: "/a/b/", payload: "ab")]),
            LocationEntry(kind: .regex(caseless: false), pattern: "x$", payload: "x"),
        ])
        check(index, [("/a/b/x", "x"), ("/a/b/y", "ab")])
    }

    @Test func capturesFromTheWinningRegex() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .regex(caseless: false), pattern: "^/u/(\\d+)/(?<tab>\\w+)$", payload: "user")
        ])
        let m = try #require(index.match("/u/7/posts"))
        #expect(m.captures == [0..<10, 3..<4, 5..<10])
        #expect(m.regex?.namedGroups["tab"] == 2)
        #expect(index.match("/u/x/posts") == nil)
    }

    @Test func namedLocationsAreOnlyReachableByName() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .named, pattern: "fallback", payload: "fb"),
            LocationEntry(kind: .prefix, pattern: "/", payload: "root"),
        ])
        #expect(index.named("fallback") == "fb")
        #expect(index.named("nope") == nil)
        check(index, [("@fallback", nil), ("/", "root")])
    }

    @Test func invalidRegexThrows() {
        #expect(throws: RegexError.self) {
            try LocationIndex<String>([LocationEntry(kind: .regex(caseless: false), pattern: "(x", payload: "")])
        }
    }

    @Test func prefixIsByteExactAndCaseSensitive() throws {
        let index = try LocationIndex<String>([
            LocationEntry(kind: .prefix, pattern: "", payload: "empty"),
            LocationEntry(kind: .prefix, pattern: "/Doc", payload: "Doc"),
            LocationEntry(kind: .prefix, pattern: "/doc", payload: "doc"),
        ])
        check(index, [("/docs", "doc"), ("/Docs", "Doc"), ("/DOC", "empty"), ("", "empty")])
    }
}
