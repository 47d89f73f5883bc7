// auth_basic and auth_basic_user_file: their contexts and errors (nginx's wording),
// inheritance (each merged on its own, as nginx's merge function does), `off`, paths
// against the configuration's directory, and the access step compiled only where both
// are set, so a location without them runs nothing extra.

import SwiftginxRouting
import Testing

@testable import SwiftginxConfig

@Suite struct AuthBasicConfigTests {
    func settings(_ config: RuntimeConfig, _ path: String) throws -> (LocationSettings, [PhaseStep]) {
        let location = try #require(config.listenGroups[0].defaultServer.locations.match(path)).location
        return (location.settings, location.steps)
    }

    @Test func inheritanceOffAndSteps() throws {
        let prefix = try TestPrefix(
            files: [
                "nginx.conf": http(
                    """
                    auth_basic "Realm";
                    server {
                        listen 8080;
                        auth_basic_user_file users;
                        location / {}
                        location /off/ { auth_basic off; location /off/on/ { auth_basic "Inner"; } }
                        location /var/ { auth_basic $host; auth_basic_user_file /etc/$host.htpasswd; }
                    }
                    server {
                        listen 8081;
                        location / {}
                    }
                    """)
            ])
        let config = try prefix.load()
        let (root, rootSteps) = try settings(config, "/x")
        #expect(root.authBasic?.source == "Realm")
        #expect(root.authBasicUserFile?.source == prefix.conf + "users")
        #expect(rootSteps.contains(.authBasic))
        #expect(rootSteps.filter { $0.phase == .access } == [.authBasic])
        let (off, offSteps) = try settings(config, "/off/x")
        #expect(off.authBasic == nil)
        #expect(off.authBasicUserFile?.source == prefix.conf + "users")
        #expect(!offSteps.contains(.authBasic))
        let (inner, innerSteps) = try settings(config, "/off/on/x")
        #expect(inner.authBasic?.source == "Inner")
        #expect(innerSteps.contains(.authBasic))
        let (v, _) = try settings(config, "/var/x")
        #expect(v.authBasic?.segments.count == 1)
        #expect(v.authBasicUserFile?.source == "/etc/$host.htpasswd")
        // A realm without a user file (the second server) compiles no step.
        let other = try #require(config.listenGroups[1].defaultServer.locations.match("/")).location
        #expect(other.settings.authBasic?.source == "Realm")
        #expect(other.settings.authBasicUserFile == nil)
        #expect(!other.steps.contains(.authBasic))
    }

    @Test func relativeFilesAreAgainstTheMainFilesDirectory() throws {
        let prefix = try TestPrefix(
            files: [
                "nginx.conf": http("include sites/a.conf;"),
                "sites/a.conf":
                    "server { listen 80; auth_basic x; auth_basic_user_file users; location / {} location /v/ { auth_basic_user_file $arg_f; } }",
            ])
        let config = try prefix.load()
        #expect(try settings(config, "/").0.authBasicUserFile?.source == prefix.conf + "users")
        // A value starting with a variable is used as it evaluates.
        #expect(try settings(config, "/v/").0.authBasicUserFile?.source == "$arg_f")
    }

    @Test func placedBeforeAuthRequest() throws {
        let config = try load(
            http("server { listen 80; location / { auth_request /a; auth_basic x; auth_basic_user_file /u; } }"))
        let steps = try settings(config, "/").1
        #expect(steps.filter { $0.phase == .access } == [.authBasic, .authRequest])
    }

    static let errorCases: [(String, String)] = [
        ("events {}\nauth_basic x;\n", "\"auth_basic\" directive is not allowed here in nginx.conf:2"),
        (
            "events {}\nhttp {\nserver { location / { if ($uri) { auth_basic x; } } }\n}\n",
            "\"auth_basic\" directive is not allowed here in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location / { if ($uri) { auth_basic_user_file x; } } }\n}\n",
            "\"auth_basic_user_file\" directive is not allowed here in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nauth_basic;\n}\n",
            "invalid number of arguments in \"auth_basic\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nauth_basic a b;\n}\n",
            "invalid number of arguments in \"auth_basic\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nauth_basic_user_file a b;\n}\n",
            "invalid number of arguments in \"auth_basic_user_file\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nauth_basic a;\nauth_basic b;\n}\n",
            "\"auth_basic\" directive is duplicate in nginx.conf:4"
        ),
        (
            "events {}\nhttp {\nauth_basic_user_file a;\nauth_basic_user_file b;\n}\n",
            "\"auth_basic_user_file\" directive is duplicate in nginx.conf:4"
        ),
    ]

    @Test(arguments: errorCases)
    func errorsMatchNginx(_ text: String, _ expected: String) throws {
        #expect(try loadError(text) == expected)
    }

    @Test func unknownVariable() throws {
        let error = try loadError("events {}\nhttp {\nauth_basic $nope;\n}\n")
        #expect(error?.hasPrefix("unknown \"nope\" variable") == true)
    }
}
