// The cache directives as compiled: proxy_cache_path zones (path, levels, keys zone,
// inactive, max_size), a location's proxy_cache* settings and their inheritance (a
// level with its own proxy_cache_valid lines replaces the inherited list), the
// uwsgi_ variants, and nginx's error wordings.

import Testing

@testable import SwiftginxConfig

@Suite struct CacheConfigTests {
    func settings(_ config: RuntimeConfig, _ path: String) throws -> LocationSettings {
        try #require(config.listenGroups[0].defaultServer.locations.match(path)).location.settings
    }

    @Test func zonesAndLocationSettings() throws {
        let config = try load(
            http(
                """
                proxy_cache_path /var/cache/a levels=1:2 keys_zone=pages:10m inactive=30m max_size=1g
                                 use_temp_path=off;
                uwsgi_cache_path cache/u keys_zone=apps:1m;
                proxy_cache pages;
                proxy_cache_valid 200 302 10m;
                proxy_cache_valid 404 1m;
                server {
                    listen 8080;
                    location / { proxy_pass http://127.0.0.1:9000; }
                    location /own { proxy_pass http://127.0.0.1:9000; proxy_cache_valid any 5s;
                                    proxy_cache_key $uri; proxy_cache_methods POST; proxy_cache_min_uses 3;
                                    proxy_cache_use_stale error timeout updating http_503;
                                    proxy_cache_lock on; proxy_cache_lock_timeout 2s; proxy_cache_revalidate on;
                                    proxy_cache_background_update on; proxy_cache_bypass $cookie_s $arg_x;
                                    proxy_no_cache $cookie_s; proxy_cache_convert_head off; }
                    location /off { proxy_pass http://127.0.0.1:9000; proxy_cache off; }
                    location /u { uwsgi_pass 127.0.0.1:9001; uwsgi_cache apps; uwsgi_cache_key $request_uri; }
                    location /f { fastcgi_pass 127.0.0.1:9002; fastcgi_cache apps; fastcgi_cache_key $uri;
                                  fastcgi_cache_valid 200 1m; fastcgi_no_cache $arg_x; }
                    location /s { scgi_pass 127.0.0.1:9003; scgi_cache apps; scgi_cache_key $uri;
                                  scgi_cache_use_stale error; }
                }
                """))
        let a = try #require(config.cachePaths["pages"])
        #expect(a.path == "/var/cache/a")
        #expect(a.levels == [1, 2])
        #expect(a.size == 10 << 20)
        #expect(a.inactive == 1800)
        #expect(a.maxSize == 1 << 30)
        #expect(!a.useTempPath)
        #expect(config.cachePaths["apps"]?.path.hasSuffix("/cache/u") == true)
        let root = try settings(config, "/").proxy.cache
        #expect(root.zone == "pages")
        #expect(root.validity(for: 200) == 600)
        #expect(root.validity(for: 404) == 60)
        #expect(root.validity(for: 500) == nil)
        #expect(root.convertHead)
        let own = try settings(config, "/own").proxy.cache
        // Its own proxy_cache_valid replaces the inherited lines.
        #expect(own.validity(for: 200) == 5)
        #expect(own.validity(for: 404) == 5)
        #expect(own.key?.source == "$uri")
        #expect(own.methods == ["GET", "HEAD", "POST"])
        #expect(own.minUses == 3)
        #expect(own.useStale == [.error, .timeout, .updating, .http503])
        #expect(own.lock && own.lockTimeout == 2000 && own.revalidate && own.backgroundUpdate)
        #expect(own.bypass.count == 2 && own.noCache.count == 1)
        #expect(!own.convertHead)
        #expect(try settings(config, "/off").proxy.cache.enabled == false)
        #expect(try settings(config, "/u").uwsgi.cache.zone == "apps")
        let f = try settings(config, "/f").fastcgi.cache
        #expect(f.zone == "apps" && f.validity(for: 200) == 60 && f.noCache.count == 1)
        #expect(f.key?.source == "$uri")
        let sc = try settings(config, "/s").scgi.cache
        #expect(sc.zone == "apps" && sc.useStale == [.error])
    }

    @Test func errorsAsNginx() throws {
        let cases: [(String, String)] = [
            ("proxy_cache_path /c levels=1:2;", "\"proxy_cache_path\" must have \"keys_zone\" parameter"),
            ("proxy_cache_path /c keys_zone=a:1m levels=3;", "invalid \"levels\" \"3\""),
            ("proxy_cache_path /c keys_zone=a;", "invalid keys zone size \"keys_zone=a\""),
            ("proxy_cache_path /c keys_zone=a:1m x=1;", "invalid parameter \"x=1\""),
            ("proxy_cache_path /c keys_zone=a:1m; proxy_cache_path /d keys_zone=a:1m;", "duplicate zone \"a\""),
            ("proxy_cache nope;", "\"proxy_cache\" zone \"nope\" is unknown"),
            ("proxy_cache_valid 99 1m;", "invalid status \"99\""),
            ("proxy_cache_use_stale error bogus;", "invalid value \"bogus\""),
            ("fastcgi_cache_valid 99 1m;", "invalid status \"99\""),
        ]
        for (text, message) in cases {
            let e = try #require(try loadError(http(text + "\nserver { listen 8080; }")), "\(text)")
            #expect(e.hasPrefix(message), "\(text): \(e)")
        }
    }
}
