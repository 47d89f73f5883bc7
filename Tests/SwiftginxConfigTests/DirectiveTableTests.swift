// The directive table: names are unique, the accepted-without-effect list is what the
// README documents, and directives of later work (gzip, ssl_*) are still unknown.

import Testing

@testable import SwiftginxConfig

@Suite struct DirectiveTableTests {
    @Test func namesAreUnique() {
        let names = DirectiveTable.all.map(\.name)
        #expect(Set(names).count == names.count)
    }

    @Test func acceptedWithoutEffect() throws {
        let list = DirectiveTable.acceptedWithoutEffect
        for name in [
            "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path",
            "server_names_hash_bucket_size", "server_names_hash_max_size", "types_hash_max_size",
            "types_hash_bucket_size", "variables_hash_max_size", "variables_hash_bucket_size", "map_hash_max_size",
            "map_hash_bucket_size", "accept_mutex", "accept_mutex_delay", "worker_cpu_affinity",
            "worker_priority", "timer_resolution", "reset_timedout_connection", "output_buffers", "postpone_output",
            "sendfile_max_chunk", "directio", "aio", "connection_pool_size", "request_pool_size",
        ] {
            #expect(list.contains(name), "\(name)")
        }
        for name in ["client_body_temp_path", "client_body_in_file_only", "client_body_in_single_buffer"] {
            #expect(!list.contains(name), "\(name)")
        }
        // Every listed directive loads in a context it allows.
        _ = try load(
            """
            user www-data; worker_cpu_affinity auto; worker_priority -5; timer_resolution 100ms; pcre_jit on;
            lock_file logs/nginx.lock;
            events { accept_mutex off; accept_mutex_delay 500ms; use epoll; }
            http {
                client_body_temp_path /tmp/a 1 2; proxy_temp_path /tmp/b; fastcgi_temp_path /tmp/c;
                uwsgi_temp_path /tmp/d; scgi_temp_path /tmp/e; server_names_hash_bucket_size 64;
                server_names_hash_max_size 1024; types_hash_max_size 2048; types_hash_bucket_size 64;
                variables_hash_max_size 1024; variables_hash_bucket_size 64; map_hash_max_size 2048;
                map_hash_bucket_size 64; reset_timedout_connection on; output_buffers 2 32k; postpone_output 1460;
                sendfile_max_chunk 2m; directio off; aio off; client_body_in_file_only off;
                connection_pool_size 512; server { request_pool_size 4k; }
            }
            """)
    }

    @Test func laterWorkIsUnknown() throws {
        #expect(
            try loadError(http("proxy_pass http://x;"))
                == "\"proxy_pass\" directive is not allowed here in nginx.conf:3")
    }

    @Test func staticAndCompressionDirectives() throws {
        let config = try load(
            http(
                """
                gzip on; gzip_types text/css application/javascript; gzip_comp_level 5; gzip_min_length 1k;
                gzip_vary on; gzip_proxied any; gzip_disable msie6 "Bot/1"; gzip_http_version 1.0;
                brotli on; brotli_comp_level 11; zstd on; zstd_types *;
                gzip_static on; brotli_static always; charset utf-8; autoindex on; autoindex_format json;
                server { listen 8080; location / { try_files $uri $uri/ /index.html =404; } }
                """))
        let s = config.listenGroups[0].servers[0].defaultSettings
        #expect(s.gzip.enabled && s.gzip.level == 5 && s.gzip.minLength == 1024)
        #expect(s.gzip.types == ["text/html", "text/css", "application/javascript"])
        #expect(s.gzipVary && s.gzipProxied == ["any"] && s.gzipDisableMSIE6 && s.gzipDisable.count == 1)
        #expect(!s.gzipHTTPVersion11)
        #expect(s.brotli.enabled && s.brotli.level == 11 && s.zstd.types == ["*"])
        #expect(s.gzipStatic == .on && s.brotliStatic == .always && s.zstdStatic == .off)
        #expect(s.charset == "utf-8" && s.autoindex && s.autoindexFormat == .json)
        #expect(try loadError(http("gzip_comp_level 10;")) == "value must be between 1 and 9 in nginx.conf:3")
        #expect(try loadError(http("gzip_static maybe;")) == "invalid value \"maybe\" in nginx.conf:3")
        #expect(try loadError(http("server { try_files a =abc; }")) == "invalid code \"=abc\" in nginx.conf:3")
        #expect(
            try loadError(http("server { try_files a; }"))?.hasPrefix("invalid number of arguments in \"try_files\"")
                == true)
    }

    @Test func errorLogOutsideMainBelongsToItsLevel() throws {
        let config = try load(http("error_log logs/http.log; server { error_log logs/s.log debug; }"))
        #expect(config.main.errorLogs.map(\.path).allSatisfy { $0.hasSuffix("logs/error.log") })
        let server = config.listenGroups[0].servers[0].defaultSettings
        #expect(server.logs.errorLogs.map(\.level) == [.debug])
        #expect(server.logs.errorLogs.first?.path.hasSuffix("logs/s.log") == true)
    }

    @Test func arity() {
        #expect(DirectiveArity.flag.accepts(1))
        #expect(!DirectiveArity.flag.accepts(2))
        #expect(DirectiveArity.take([1, 2]).accepts(2))
        #expect(!DirectiveArity.take([1, 2]).accepts(0))
        #expect(DirectiveArity.oneOrMore.accepts(5))
        #expect(!DirectiveArity.twoOrMore.accepts(1))
    }
}
