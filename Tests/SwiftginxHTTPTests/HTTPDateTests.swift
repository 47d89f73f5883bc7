// Unit tests of HTTPDate: the three formatters and nginx's three accepted input formats.

import Testing

@testable import SwiftginxHTTP

@Suite struct HTTPDateTests {
    func parse(_ s: String) -> Int? { Array(s.utf8).withUnsafeBytes { HTTPDate.parse($0) } }
    func str(_ b: [UInt8]) -> String { String(decoding: b, as: UTF8.self) }

    @Test func format() {
        #expect(str(HTTPDate.format(784_111_777)) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(str(HTTPDate.format(0)) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(str(HTTPDate.format(951_782_400)) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(str(HTTPDate.format(-1)) == "Wed, 31 Dec 1969 23:59:59 GMT")
        #expect(str(HTTPDate.format(4_102_444_800)) == "Fri, 01 Jan 2100 00:00:00 GMT")
    }

    @Test func formatLogTimes() {
        let t = 1_795_310_389  // 2026-11-22 01:19:49 UTC
        #expect(str(HTTPDate.formatCommonLog(t, utcOffsetSeconds: 0)) == "22/Nov/2026:01:19:49 +0000")
        #expect(str(HTTPDate.formatCommonLog(t, utcOffsetSeconds: -5 * 3600)) == "21/Nov/2026:20:19:49 -0500")
        #expect(str(HTTPDate.formatCommonLog(t, utcOffsetSeconds: 19800)) == "22/Nov/2026:06:49:49 +0530")
        #expect(str(HTTPDate.formatISO8601(t, utcOffsetSeconds: 0)) == "2026-11-22T01:19:49+00:00")
        #expect(str(HTTPDate.formatISO8601(t, utcOffsetSeconds: 3600)) == "2026-11-22T02:19:49+01:00")
    }

    @Test func parseFormats() {
        #expect(parse("Sun, 06 Nov 1994 08:49:37 GMT") == 784_111_777)
        #expect(parse("Sunday, 06-Nov-94 08:49:37 GMT") == 784_111_777)
        #expect(parse("Sun Nov  6 08:49:37 1994") == 784_111_777)
        #expect(parse("Sun Nov 06 08:49:37 1994") == 784_111_777)
        #expect(parse("Thu, 01-Jan-30 00:00:00 GMT") == 1_893_456_000)  // two-digit year < 70 → 20xx
        #expect(parse("Tue, 29 Feb 2000 00:00:00 GMT") == 951_782_400)
        for t in [0, 86399, 1_000_000_000, 1_795_310_389, 4_102_444_800] {
            #expect(parse(str(HTTPDate.format(t))) == t)
        }
    }

    @Test func parseRejects() {
        for bad in [
            "", "Sun, 06 Nov 1994", "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nox 1994 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT", "Sun, 06 Nov 1994 08:60:00 GMT", "Sun, 31 Nov 1994 08:49:37 GMT",
            "Mon, 29 Feb 1900 00:00:00 GMT", "Sun, 06 Nov 1994 08-49-37 GMT", "garbage garbage garbage",
        ] {
            #expect(parse(bad) == nil, "\(bad)")
        }
    }
}
