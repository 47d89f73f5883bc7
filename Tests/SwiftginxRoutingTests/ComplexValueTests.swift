// Tests of ComplexValue.parse: variable syntaxes, name mapping, and nginx's errors.

import Testing

@testable import SwiftginxRouting

@Suite struct ComplexValueTests {
    @Test func literalOnly() throws {
        let v = try ComplexValue.parse("/var/www")
        #expect(v.isStatic)
        #expect(v.staticBytes == Array("/var/www".utf8))
        #expect(try ComplexValue.parse("").segments.isEmpty)
    }

    @Test func variableSyntaxes() throws {
        let v = try ComplexValue.parse("$scheme://${host}x$request_uri$1$12")
        #expect(
            v.segments == [
                .variable(.scheme), .literal(Array("://".utf8)), .variable(.host), .literal([UInt8(ascii: "x")]),
                .variable(.requestUri), .variable(.capture(1)), .variable(.capture(1)), .literal([UInt8(ascii: "2")]),
            ])
        #expect(!v.isStatic)
        #expect(v.source == "$scheme://${host}x$request_uri$1$12")
    }

    @Test func prefixedVariables() throws {
        #expect(try ComplexValue.parse("$http_x_forwarded_for").segments == [.variable(.httpHeader("x-forwarded-for"))])
        #expect(try ComplexValue.parse("$HTTP_User_Agent").segments == [.variable(.httpHeader("user-agent"))])
        #expect(try ComplexValue.parse("$sent_http_content_type").segments == [.variable(.sentHeader("content-type"))])
        #expect(try ComplexValue.parse("$arg_page_id").segments == [.variable(.arg("page_id"))])
        #expect(try ComplexValue.parse("$cookie_session_id").segments == [.variable(.cookie("session_id"))])
        #expect(try ComplexValue.parse("$upstream_http_x_a").segments == [.variable(.upstreamHeader("x-a"))])
        #expect(try ComplexValue.parse("$HOST").segments == [.variable(.host)])
    }

    @Test func namedCaptures() throws {
        #expect(try ComplexValue.parse("$year", namedCaptures: ["year"]).segments == [.variable(.namedCapture("year"))])
    }

    @Test func errors() {
        #expect(throws: ComplexValueError("unknown \"foo\" variable")) { try ComplexValue.parse("a$foo") }
        #expect(throws: ComplexValueError("unknown \"0\" variable")) { try ComplexValue.parse("$0") }
        #expect(throws: ComplexValueError("invalid variable name")) { try ComplexValue.parse("a$") }
        #expect(throws: ComplexValueError("invalid variable name")) { try ComplexValue.parse("a$-") }
        #expect(throws: ComplexValueError("invalid variable name")) { try ComplexValue.parse("${}") }
        #expect(throws: ComplexValueError("the closing bracket in \"x\" variable is missing")) {
            try ComplexValue.parse("a${x")
        }
    }
}
