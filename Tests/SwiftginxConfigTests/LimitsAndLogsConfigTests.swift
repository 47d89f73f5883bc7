// The limit_req, limit_rate and log directives as compiled: zone rates in nginx's
// thousandths, burst and delay, inheritance of the limit list, nginx's error wordings,
// access_log parameters (if=, gzip, variables in the path), error_log below the main
// context, and syslog: targets.

import Testing

@testable import SwiftginxConfig

@Suite struct LimitsAndLogsConfigTests {
    func settings(_ config: RuntimeConfig, _ path: String) throws -> LocationSettings {
        try #require(config.listenGroups[0].defaultServer.locations.match(path)).location.settings
    }

    @Test func limitReqZonesAndRules() throws {
        let config = try load(
            http(
                """
                limit_req_zone $binary_remote_addr zone=one:1m rate=2r/s;
                limit_req_zone $arg_a zone=slow:64k rate=1r/m;
                limit_req zone=one;
                server {
                    listen 8080;
                    location / { }
                    location /b { limit_req zone=one burst=5 nodelay; limit_req zone=slow delay=2 burst=3;
                                  limit_req_status 429; limit_req_log_level warn; limit_req_dry_run on; }
                }
                """))
        #expect(config.limitReqZones["one"]?.rate == 2000)
        #expect(config.limitReqZones["one"]?.size == 1 << 20)
        #expect(config.limitReqZones["slow"]?.rate == 16)
        let root = try settings(config, "/")
        #expect(root.limitReq.rules.map(\.zone) == ["one"])
        #expect(root.limitReq.status == 503)
        #expect(root.limitReq.logLevel == .error)
        #expect(root.limitReq.delayLogLevel == .warn)
        let b = try settings(config, "/b")
        // A level with its own list replaces the inherited one.
        #expect(b.limitReq.rules.map(\.zone) == ["one", "slow"])
        #expect(b.limitReq.rules[0].burst == 5000)
        #expect(b.limitReq.rules[0].delay >= Int.max / 1000 - 1000)
        #expect(b.limitReq.rules[1].delay == 2000)
        #expect(b.limitReq.status == 429)
        #expect(b.limitReq.delayLogLevel == .notice)
        #expect(b.limitReq.dryRun)
        #expect(Location.compileSteps(b).contains(.limitReq))
        #expect(!Location.compileSteps(LocationSettings()).contains(.limitReq))
    }

    @Test func limitReqErrorsAsNginx() throws {
        let cases: [(String, String)] = [
            ("limit_req_zone $a zone=one:1m rate=0r/s;", "invalid rate \"rate=0r/s\""),
            ("limit_req_zone $a zone=one:1m rate=99999999999999r/s;", "invalid rate \"rate=99999999999999r/s\""),
            ("limit_req_zone $a zone=one:8k rate=1r/s;", "zone \"zone=one:8k\" is too small"),
            ("limit_req_zone $a rate=1r/s x;", "invalid parameter \"x\""),
            ("limit_req_zone $a rate=1r/s y;", "invalid parameter \"y\""),
            ("limit_req_zone $a zone=one rate=1r/s;", "invalid zone size \"zone=one\""),
            (
                "limit_req_zone $arg_a zone=one:1m rate=1r/s; limit_req_zone $arg_b zone=one:1m rate=1r/s;",
                "limit_req_zone \"one\" is already bound to key \"$arg_a\""
            ),
            ("limit_req burst=1;", "\"limit_req\" must have \"zone\" parameter"),
            ("limit_req zone=x burst=0;", "invalid burst value \"burst=0\""),
            ("limit_req zone=x; limit_req zone=x;", "\"limit_req\" directive is duplicate"),
            ("limit_req zone=nope;", "zero size shared memory zone \"nope\""),
        ]
        for (text, message) in cases {
            let e = try #require(try loadError(http(text + "\nserver { listen 8080; }")), "\(text)")
            #expect(e.hasPrefix(message), "\(text): \(e)")
        }
    }

    @Test func rateSettings() throws {
        let config = try load(
            http(
                """
                limit_rate 12k;
                limit_rate_after 256;
                server {
                    listen 8080;
                    location / { }
                    location /var { limit_rate $arg_l; proxy_limit_rate 0; }
                    location /off { limit_rate 0; }
                }
                """))
        #expect(try settings(config, "/").sendRate.limitRate?.source == "12k")
        #expect(try settings(config, "/").sendRate.limitRateAfter?.source == "256")
        #expect(try settings(config, "/var").sendRate.limitRate?.source == "$arg_l")
        #expect(try settings(config, "/off").sendRate.limitRate == nil)
        #expect(
            try loadError(http("limit_rate 12q; server { listen 8080; }"))?.hasPrefix(
                "\"limit_rate\" directive invalid value") == true)
    }

    @Test func accessLogParameters() throws {
        let config = try load(
            http(
                """
                log_format t $uri;
                server {
                    listen 8080;
                    location /a { access_log logs/a.log t gzip=5 flush=1s if=$arg_x; }
                    location /v { access_log logs/v_$arg_n t; open_log_file_cache max=3 min_uses=2 inactive=20s; }
                    location /s { access_log syslog:server=127.0.0.1:5140,facility=user,severity=alert,tag=T t; }
                    location /e { error_log logs/e.log info; error_log syslog:server=[::1],nohostname; }
                }
                """))
        let a = try #require(try settings(config, "/a").accessLogs.first)
        #expect(a.gzipLevel == 5)
        #expect(a.bufferSize == 64 * 1024)
        #expect(a.flushInterval == 1000)
        #expect(a.condition?.source == "$arg_x")
        let v = try settings(config, "/v")
        #expect(v.accessLogs.first?.pathValue?.source.hasSuffix("logs/v_$arg_n") == true)
        #expect(v.logs.openLogFileCache?.max == 3)
        #expect(v.logs.openLogFileCache?.minUses == 2)
        #expect(v.logs.openLogFileCache?.inactive == 20_000)
        #expect(!config.accessLogPaths.contains { $0.contains("$") })
        let s = try #require(try settings(config, "/s").accessLogs.first?.syslog)
        #expect(s.host == "127.0.0.1" && s.port == 5140 && s.facility == 1 && s.severity == 1 && s.tag == "T")
        let e = try settings(config, "/e").logs.errorLogs
        #expect(e.map(\.level) == [.info, .error])
        #expect(e[1].syslog?.host == "::1" && e[1].syslog?.port == 514 && e[1].syslog?.noHostname == true)
        #expect(config.accessLogPaths.contains { $0.hasSuffix("logs/e.log") })
    }

    @Test func syslogErrors() throws {
        #expect(SyslogTarget.parse("facility=user").failureMessage == "no server specified")
        #expect(SyslogTarget.parse("server=1.2.3.4,x").failureMessage == "unknown syslog parameter \"x\"")
        #expect(SyslogTarget.parse("server=1.2.3.4,facility=bad").failureMessage == "unknown syslog facility \"bad\"")
        #expect(
            SyslogTarget.parse("server=1.2.3.4,tag=a-b").failureMessage
                == "syslog \"tag\" only allows alphanumeric characters and underscore")
        #expect(SyslogTarget.parse("server=unix:/dev/log").failureMessage == nil)
        #expect(
            try loadError(http("error_log syslog:server=no.such.host.invalid; server { listen 8080; }"))?.hasPrefix(
                "host not found in syslog server \"no.such.host.invalid\"") == true)
        #expect(
            try loadError(http("error_log memory:1m; server { listen 8080; }"))?.hasPrefix(
                "nginx was built without debug support") == true)
    }
}

extension Result where Failure == ConfigError {
    fileprivate var failureMessage: String? {
        if case .failure(let e) = self { return e.message }
        return nil
    }
}
