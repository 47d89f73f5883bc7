// keepalive_disable's browser detection, as nginx reads a User-Agent: MSIE 4, 5 and 6
// (6 only without "SV1") and Safari on Mac OS X unless the agent also claims MSIE,
// Opera, Gecko or Chrome.

import Testing

@testable import SwiftginxServer

@Suite struct UserAgentQuirksTests {
    func quirks(_ ua: String) -> UserAgentQuirks {
        var s = ua
        return s.withUTF8 { UserAgentQuirks(UnsafeRawBufferPointer($0)) }
    }

    @Test func msie() {
        #expect(quirks("Mozilla/4.0 (compatible; MSIE 5.0; Windows 98)").msie6)
        #expect(quirks("Mozilla/4.0 (compatible; MSIE 4.01; Windows 95)").msie6)
        #expect(quirks("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1)").msie6)
        #expect(!quirks("Mozilla/4.0 (compatible; MSIE 6.0; Windows NT 5.1; SV1)").msie6)
        #expect(!quirks("Mozilla/4.0 (compatible; MSIE 7.0; Windows NT 6.0)").msie6)
        #expect(quirks("MSIE 5.0").msie6)
        #expect(!quirks("MSIE 5.").msie6)  // too short to hold a version: not counted, as nginx
        #expect(!quirks("Opera/9.80 (MSIE 5.0; Windows)").msie6)
    }

    @Test func safari() {
        #expect(quirks("Mac OS X Safari/7534.48.3").safari)
        #expect(!quirks("Windows Safari/7534.48.3").safari)
        #expect(!quirks("Mac OS X Chrome/120 Safari/537.36").safari)
        #expect(!quirks("Mac OS X Gecko/20100101 Safari/1").safari)
        #expect(!quirks("MSIE 5.0; Mac OS X Safari/1").safari)
        #expect(!quirks("").safari && !quirks("").msie6)
    }
}
