// The ssl and upstream TLS directives added for nginx's test suite: the certificate
// caches (one per directive, inherited), `ssl_object_cache_inheritable`, the
// `proxy_ssl_*` certificate values (with variables, or "" for none), password files
// and CRLs, and where an `ssl` address needs certificates.

import Testing

@testable import SwiftginxConfig

@Suite struct SSLSettingsTests {
    @Test func certificateCachesAreParsedAndShared() throws {
        let config = try load(
            http(
                """
                ssl_certificate_cache max=4 valid=1s;
                server { listen 8080; server_name a; }
                server { listen 8080; server_name b; ssl_certificate_cache off; }
                server {
                    listen 8080; server_name c;
                    proxy_ssl_certificate_cache max=2 inactive=3s;
                    location / { proxy_pass https://127.0.0.1:9; }
                }
                """))
        let servers = config.listenGroups[0].servers
        let a = try #require(servers[0].settings.ssl.certificateCache)
        #expect(a.max == 4 && a.valid == 1000 && a.inactive == 10_000)
        #expect(servers[1].settings.ssl.certificateCache == nil)
        #expect(servers[2].settings.ssl.certificateCache === a)  // inherited: the same cache
        let location = try #require(servers[2].locations.match("/x")?.location)
        let upstream = try #require(location.settings.proxy.upstreamSSL.certificateCache)
        #expect(upstream.max == 2 && upstream.inactive == 3000 && upstream.valid == 60_000)
        #expect(
            try loadError(http("ssl_certificate_cache valid=1s;"))
                == "\"ssl_certificate_cache\" must have \"max\" parameter in nginx.conf:3")
        #expect(
            try loadError(http("ssl_certificate_cache max=1 size=2;"))
                == "invalid parameter \"size=2\" in nginx.conf:3")
    }

    @Test func objectCacheInheritableIsAMainDirective() throws {
        #expect(try load("ssl_object_cache_inheritable off;\n" + http("")).main.sslObjectCacheInheritable == false)
        #expect(try load(http("")).main.sslObjectCacheInheritable)
    }

    @Test func upstreamCertificatesWithVariablesOrNone() throws {
        let config = try load(
            http(
                """
                server {
                    listen 8080;
                    proxy_ssl_certificate $arg_c.crt;
                    proxy_ssl_certificate_key $arg_c.key;
                    proxy_ssl_password_file pw;
                    proxy_ssl_crl ca.crl;
                    location /a { proxy_pass https://127.0.0.1:9; }
                    location /b {
                        proxy_pass https://127.0.0.1:9;
                        proxy_ssl_certificate "";
                        proxy_ssl_certificate_key "";
                    }
                    location /c { uwsgi_pass suwsgi://127.0.0.1:9; uwsgi_ssl_certificate c.crt; }
                }
                """))
        let server = config.listenGroups[0].servers[0]
        let a = try #require(server.locations.match("/a")?.location).settings.proxy.upstreamSSL
        #expect(a.certificateHasVariables)
        #expect(a.passwordFile?.hasSuffix("/pw") == true)
        #expect(a.crl?.hasSuffix("/ca.crl") == true)
        let b = try #require(server.locations.match("/b")?.location).settings.proxy.upstreamSSL
        #expect(!b.certificateHasVariables && b.certificate?.source == "")
        let c = try #require(server.locations.match("/c")?.location).settings.uwsgi.upstreamSSL
        #expect(c.certificate?.source.hasSuffix("/c.crt") == true)
    }

    @Test func onlyTheDefaultServerOfAnSSLAddressNeedsCertificates() throws {
        _ = try load(
            http(
                """
                server { listen 8443 ssl; ssl_certificate a.crt; ssl_certificate_key a.key; }
                server { listen 8443 ssl; server_name b; }
                """))
        _ = try load(
            http(
                """
                server { listen 8443 ssl; ssl_reject_handshake on; }
                server { listen 8443; server_name b; ssl_certificate a.crt; ssl_certificate_key a.key; }
                """))
        #expect(
            try loadError(
                http(
                    """
                    server { listen 8443 ssl; ssl_reject_handshake on; }
                    server { listen 8443; server_name b; }
                    """))
                == "no \"ssl_certificate\" is defined for the \"listen ... ssl\" directive in nginx.conf:4")
    }

    @Test func ocspDirectives() throws {
        let config = try load(
            http(
                """
                ssl_ocsp leaf;
                ssl_ocsp_cache shared:OCSP:1m;
                server { listen 8080; server_name a; }
                server { listen 8080; server_name b; ssl_ocsp on; ssl_ocsp_responder http://127.0.0.1:9/; }
                server { listen 8080; server_name c; ssl_ocsp off; ssl_ocsp_cache off; }
                """))
        let servers = config.listenGroups[0].servers
        #expect(servers[0].settings.ssl.ocsp == .leaf)
        #expect(servers[0].settings.ssl.ocspCache?.name == "OCSP" && servers[0].settings.ssl.ocspCache?.size == 1 << 20)
        #expect(servers[1].settings.ssl.ocsp == .on && servers[1].settings.ssl.ocspResponder == "http://127.0.0.1:9/")
        #expect(servers[2].settings.ssl.ocsp == .off && servers[2].settings.ssl.ocspCache == nil)
        #expect(try loadError(http("ssl_ocsp maybe;")) == "invalid value \"maybe\" in nginx.conf:3")
        #expect(
            try loadError(http("ssl_ocsp_cache builtin:100;")) == "invalid parameter \"builtin:100\" in nginx.conf:3")
    }
}
