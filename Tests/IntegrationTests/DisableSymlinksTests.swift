// `disable_symlinks` in the file tests of try_files and `if (-f ...)`: a refused
// symbolic link counts as missing there too (nginx's open file cache applies the rule
// to every open), so try_files goes on to the next candidate and `-f` is false.

import Foundation
import Testing

@Suite struct DisableSymlinksTests {
    @Test func tryFilesAndIfSkipRefusedLinks() throws {
        let s = try TestServer(
            config: """
                \(TestServer.preamble)
                http {
                    server {
                        listen 127.0.0.1:PORT;
                        root html;
                        location /try/ { disable_symlinks on; try_files $uri $uri.html =404; }
                        location /if/ { disable_symlinks on; if (-f $request_filename) { return 204; } }
                        location /off/ { if (-f $request_filename) { return 204; } }
                        location /dir { disable_symlinks on; try_files $uri/ =404; }
                    }
                }
                """,
            files: [
                "html/try/t.html": "LOCAL", "html/t.txt": "TARGET", "html/if/x": "", "html/off/x": "",
                "html/realdir/a": "",
            ])
        let fm = FileManager.default
        try fm.createSymbolicLink(atPath: s.prefix + "html/try/t", withDestinationPath: s.prefix + "html/t.txt")
        try fm.createSymbolicLink(atPath: s.prefix + "html/if/link", withDestinationPath: "x")
        try fm.createSymbolicLink(atPath: s.prefix + "html/off/link", withDestinationPath: "x")
        try fm.createSymbolicLink(atPath: s.prefix + "html/dirlink", withDestinationPath: "realdir")
        try s.start()
        #expect(try get(s.port, "/try/t").bodyText == "LOCAL")
        #expect(try get(s.port, "/if/link").status == 403)
        #expect(try get(s.port, "/if/x").status == 204)
        #expect(try get(s.port, "/off/link").status == 204)
        #expect(try get(s.port, "/dirlink/").status == 404)
        #expect(s.read("logs/error.log").contains("[crit]"))
    }
}
