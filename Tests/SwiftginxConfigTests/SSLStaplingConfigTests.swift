// The stapling directives: `ssl_stapling`, `ssl_stapling_verify` (flags, off by
// default), `ssl_stapling_responder` and `ssl_stapling_file`, inherited from http by
// servers, and no longer in the accepted-without-effect list.

import Testing

@testable import SwiftginxConfig

@Suite struct SSLStaplingConfigTests {
    @Test func directivesAreInheritedAndOverridden() throws {
        let config = try load(
            http(
                """
                ssl_stapling on;
                ssl_stapling_responder http://ocsp.example.com:8080/ocsp;
                server { listen 8080; server_name inherits; }
                server {
                    listen 8080; server_name overrides;
                    ssl_stapling off; ssl_stapling_verify on; ssl_stapling_responder http://127.0.0.1/;
                    ssl_stapling_file ocsp.der;
                }
                """))
        let servers = config.listenGroups[0].servers
        let inherits = servers[0].settings.ssl
        #expect(inherits.stapling)
        #expect(!inherits.staplingVerify)
        #expect(inherits.staplingResponder == "http://ocsp.example.com:8080/ocsp")
        #expect(inherits.staplingFile == nil)
        let overrides = servers[1].settings.ssl
        #expect(!overrides.stapling)
        #expect(overrides.staplingVerify)
        #expect(overrides.staplingResponder == "http://127.0.0.1/")
        #expect(overrides.staplingFile?.hasSuffix("/ocsp.der") == true)
        #expect(SSLSettings().stapling == false && SSLSettings().staplingVerify == false)
    }

    @Test func valuesAreChecked() throws {
        #expect(
            try loadError(http("ssl_stapling maybe;"))
                == "invalid value \"maybe\" in \"ssl_stapling\" directive, it must be \"on\" or \"off\" in nginx.conf:3"
        )
        #expect(
            try loadError(http("ssl_stapling_responder;"))
                == "invalid number of arguments in \"ssl_stapling_responder\" directive in nginx.conf:3")
        #expect(
            try loadError("ssl_stapling_verify on;")
                == "\"ssl_stapling_verify\" directive is not allowed here in nginx.conf:1")
    }

    @Test func theyTakeEffect() {
        let list = DirectiveTable.acceptedWithoutEffect
        for name in ["ssl_stapling", "ssl_stapling_verify", "ssl_stapling_responder", "ssl_stapling_file"] {
            #expect(!list.contains(name), "\(name)")
        }
    }
}
