// What a `proxy_set_header` carries for the upstream request head, made with the
// configuration: the whole line of a value without variables (none for an empty value),
// whether the field is Host or Connection, and a constant `close`; and the identity test
// of the copy-on-write settings storage the proxy uses to skip reassigning it.

import SwiftginxConfig
import SwiftginxRouting
import Testing

@Suite struct UpstreamParamLineTests {
    func param(_ name: String, _ value: String) throws -> UpstreamParam {
        UpstreamParam(name: name, value: try ComplexValue.parse(value), ifNotEmpty: false)
    }

    @Test func constantValuesGetTheirLine() throws {
        let p = try param("X-Static", "lit value")
        #expect(p.staticLine == Array("X-Static: lit value\r\n".utf8))
        #expect(!p.isHost && !p.isConnection && !p.isStaticClose)
        // An empty value: no line at all (nginx does not send the field).
        #expect(try param("Connection", "").staticLine == [])
        // A value with a variable is evaluated per request.
        #expect(try param("X-Var", "v=$request_method").staticLine == nil)
    }

    @Test func hostAndConnectionAreToldInAnyCase() throws {
        #expect(try param("HOST", "example.test").isHost)
        #expect(try param("host", "$host").isHost)
        #expect(try param("Connection", "close").isConnection)
        #expect(try param("connection", "Close").isStaticClose)
        #expect(try !param("Connection", "keep-alive").isStaticClose)
        #expect(try !param("Connection", "$host").isStaticClose)
        #expect(try !param("X-Connection", "close").isConnection)
        #expect(try !param("Hostname", "x").isHost)
    }

    @Test func settingsStorageIdentity() {
        let a = CopyOnWrite(UpstreamSettings())
        let b = a
        var c = a
        #expect(a.isSameStorage(as: b))
        #expect(!a.isSameStorage(as: CopyOnWrite(UpstreamSettings())))
        c.value.readTimeout = 5
        #expect(!a.isSameStorage(as: c))
    }
}
