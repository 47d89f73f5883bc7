// The request directives: `max_headers`, and the request-body ones
// (`client_body_in_file_only`, `client_body_in_single_buffer` and `client_body_temp_path`:
// inherited, paths against the prefix, levels), and the temporary file names nginx gives
// (ten digits, level directories from the end).

import Testing

@testable import SwiftginxConfig

@Suite struct RequestBodySettingsTests {
    func settings(_ config: RuntimeConfig, _ path: String) throws -> LocationSettings {
        try #require(config.listenGroups[0].defaultServer.locations.match(path)).location.settings
    }

    @Test func directivesAndInheritance() throws {
        let prefix = try TestPrefix(
            files: [
                "nginx.conf": http(
                    """
                    client_body_temp_path tmp/body 1 2;
                    server { listen 8080;
                        client_body_in_file_only clean;
                        location / {}
                        location /on { client_body_in_file_only on; client_body_in_single_buffer on; }
                        location /off { client_body_in_file_only off; client_body_temp_path /var/b; }
                    }
                    """)
            ])
        let config = try prefix.load()
        let root = try settings(config, "/")
        #expect(root.clientBodyInFileOnly == .clean)
        #expect(root.clientBodyInSingleBuffer == false)
        #expect(root.clientBodyTempPath == TempPath(directory: prefix.root + "tmp/body", levels: [1, 2]))
        let on = try settings(config, "/on")
        #expect(on.clientBodyInFileOnly == .on && on.clientBodyInSingleBuffer)
        let off = try settings(config, "/off")
        #expect(off.clientBodyInFileOnly == .off)
        #expect(off.clientBodyTempPath == TempPath(directory: "/var/b", levels: []))
    }

    @Test func defaultsAndErrors() throws {
        let config = try load(http("server { listen 8080; location / {} }"))
        let s = try settings(config, "/")
        #expect(s.clientBodyInFileOnly == .off)
        #expect(s.clientBodyTempPath == TempPath())
        #expect(
            try loadError(http("client_body_temp_path /t 3;"))
                == "invalid value \"3\" in nginx.conf:3")
        #expect(
            try loadError(http("client_body_in_file_only yes;"))?.hasPrefix("invalid value \"yes\"") == true)
    }

    @Test func maxHeaders() throws {
        let config = try load(
            http("max_headers 5; server { listen 8080; } server { listen 8081; max_headers 7; }"))
        #expect(config.listenGroups.map(\.defaultServer.settings.maxHeaders) == [5, 7])
        #expect(try load(http("server { listen 8080; }")).listenGroups[0].defaultServer.settings.maxHeaders == 1000)
        #expect(
            try loadError(http("max_headers x;")) == "\"max_headers\" directive invalid number in nginx.conf:3")
        #expect(
            try loadError(http("server { location / { max_headers 1; } }"))
                == "\"max_headers\" directive is not allowed here in nginx.conf:3")
    }

    @Test func fileNamesWithLevels() {
        let plain = TempPath().file(number: 42, prefix: "/p/")
        #expect(plain.path == "/p/client_body_temp/0000000042")
        #expect(plain.directories == ["/p/client_body_temp"])
        let levels = TempPath(directory: "/t", levels: [1, 2]).file(number: 12345, prefix: "/p/")
        #expect(levels.path == "/t/5/34/0000012345")
        #expect(levels.directories == ["/t", "/t/5", "/t/5/34"])
    }
}
