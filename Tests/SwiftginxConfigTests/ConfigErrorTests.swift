// Every error wording and place, checked against what nginx 1.22 prints for the same
// input (the expected strings were produced by running `nginx -t` on each case): the
// lexer, the generic table checks, and each handler's value checks.

import Testing

@testable import SwiftginxConfig

@Suite struct ConfigErrorTests {
    /// (configuration text, nginx's message with the temporary directory removed).
    static let nginxCases: [(String, String)] = [
        ("events {}\nhttp {\n}\n}\n", "unexpected \"}\" in nginx.conf:4"),
        ("events {}\nhttp {\n", "unexpected end of file, expecting \"}\" in nginx.conf:3"),
        ("events {}\nhttp {\n  root\n /x\n", "unexpected end of file, expecting \";\" or \"}\" in nginx.conf:5"),
        ("events {}\n;\n", "unexpected \";\" in nginx.conf:2"),
        ("events {}\nhttp { {\n}\n", "unexpected \"{\" in nginx.conf:2"),
        ("events {}\nhttp\n;", "directive \"http\" has no opening \"{\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver {\n root /a\n }\n}\n", "unexpected \"}\" in nginx.conf:5"),
        ("events {}\nhttp {\nserver {\n root \"/a\"x;\n }\n}\n", "unexpected \"x\" in nginx.conf:4"),
        (
            "events {}\nhttp {\nserver {\n root \"/a;\n }\n}\n",
            "unexpected end of file, expecting \";\" or \"}\" in nginx.conf:7"
        ),
        ("events {}\nhttp {\nserver {\n foo\n x;\n }\n}\n", "unknown directive \"foo\" in nginx.conf:5"),
        (
            "events {}\nhttp {\nserver {\n root\n /a /b;\n }\n}\n",
            "invalid number of arguments in \"root\" directive in nginx.conf:5"
        ),
        (
            "events {}\nhttp {\nserver {\n root\n /a {}\n }\n}\n",
            "directive \"root\" is not terminated by \";\" in nginx.conf:5"
        ),
        (
            "events {}\nhttp {\nserver {\n location /\n;\n }\n}\n",
            "directive \"location\" has no opening \"{\" in nginx.conf:5"
        ),
        ("events {}\nhttp { } http { }\n", "\"http\" directive is duplicate in nginx.conf:2"),
        ("events {}\nevents {}\n", "\"events\" directive is duplicate in nginx.conf:2"),
        ("events { worker_connections x; }\n", "invalid number \"x\" in nginx.conf:1"),
        ("events { use kqueue; }\n", "invalid event type \"kqueue\" in nginx.conf:1"),
        ("events { use epoll; use epoll; }\n", "\"use\" directive is duplicate in nginx.conf:1"),
        (
            "events { multi_accept x; }\n",
            "invalid value \"x\" in \"multi_accept\" directive, it must be \"on\" or \"off\" in nginx.conf:1"
        ),
        ("events {}\nworker_processes xyz;\n", "\"worker_processes\" directive invalid value in nginx.conf:2"),
        ("events {}\nworker_processes -1;\n", "\"worker_processes\" directive invalid value in nginx.conf:2"),
        ("events {}\nworker_rlimit_nofile x;\n", "\"worker_rlimit_nofile\" directive invalid number in nginx.conf:2"),
        (
            "events {}\nmaster_process x;\n",
            "invalid value \"x\" in \"master_process\" directive, it must be \"on\" or \"off\" in nginx.conf:2"
        ),
        ("events {}\npid a b;\n", "invalid number of arguments in \"pid\" directive in nginx.conf:2"),
        ("events {}\nerror_log x foo;\n", "invalid log level \"foo\" in nginx.conf:2"),
        ("events {}\nerror_log x info debug;\n", "duplicate log level \"debug\" in nginx.conf:2"),
        ("events {}\nroot /x;\n", "\"root\" directive is not allowed here in nginx.conf:2"),
        ("events {}\nlisten 80;\n", "\"listen\" directive is not allowed here in nginx.conf:2"),
        ("events {}\nhttp {\nlisten 80;\n}\n", "\"listen\" directive is not allowed here in nginx.conf:3"),
        ("events {}\nhttp {\nserver { alias /x; }\n}\n", "\"alias\" directive is not allowed here in nginx.conf:3"),
        ("events {}\nhttp {\nserver { internal; }\n}\n", "\"internal\" directive is not allowed here in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { location / { internal x; } }\n}\n",
            "invalid number of arguments in \"internal\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location / { internal; internal; } }\n}\n",
            "\"internal\" directive is duplicate in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nlog_format a x; log_format a y;\n}\n",
            "duplicate \"log_format\" name \"a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nlog_format combined x;\n}\n",
            "duplicate \"log_format\" name \"combined\" in nginx.conf:3"
        ),
        ("events {}\nhttp {\nlog_format a escape=foo x;\n}\n", "unknown log format escaping \"foo\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { log_format a x; }\n}\n",
            "\"log_format\" directive is not allowed here in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { access_log x foo; }\n}\n", "unknown log format \"foo\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { access_log x combined buffer=x; }\n}\n",
            "invalid buffer size \"x\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { access_log x combined flush=x; }\n}\n",
            "invalid flush time \"x\" in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { access_log x combined x=y; }\n}\n", "invalid parameter \"x=y\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver { access_log off x; }\n}\n", "invalid parameter \"x\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { location /a { location /b {} } }\n}\n",
            "location \"/b\" is outside location \"/a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location = /a { location /a/b {} } }\n}\n",
            "location \"/a/b\" cannot be inside the exact location \"/a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location @a { location /a/b {} } }\n}\n",
            "location \"/a/b\" cannot be inside the named location \"@a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location /a { location @b {} } }\n}\n",
            "named location \"@b\" can be on the server level only in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location /a {} location /a {} }\n}\n",
            "duplicate location \"/a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location /a {} location ^~ /a {} }\n}\n",
            "duplicate location \"/a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location = /a {} location = /a {} }\n}\n",
            "duplicate location \"/a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location ~ (foo {} }\n}\n",
            "pcre2_compile() failed: missing closing parenthesis in \"(foo\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location ~ a)b {} }\n}\n",
            "pcre2_compile() failed: unmatched closing parenthesis in \"a)b\" at \")b\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location ~ a { location /b {} } }\n}\n",
            "location \"/b\" is outside location \"a\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location {} }\n}\n",
            "invalid number of arguments in \"location\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location x y z {} }\n}\n",
            "invalid number of arguments in \"location\" directive in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { location x y {} }\n}\n", "invalid location modifier \"x\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { location /a { root /x; alias /y; } }\n}\n",
            "\"alias\" directive is duplicate, \"root\" directive was specified earlier in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location /a { alias /y; root /x; } }\n}\n",
            "\"root\" directive is duplicate, \"alias\" directive was specified earlier in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { location /a { alias /y; alias /x; } }\n}\n",
            "\"alias\" directive is duplicate in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { root /y; root /x; }\n}\n", "\"root\" directive is duplicate in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { root $document_root/x; }\n}\n",
            "the $document_root variable cannot be used in the \"root\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { index; }\n}\n",
            "invalid number of arguments in \"index\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { index \"\"; }\n}\n",
            "index \"\" in \"index\" directive is invalid in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { return 1000; }\n}\n", "invalid return code \"1000\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver { return abc; }\n}\n", "invalid return code \"abc\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { return 200 a b; }\n}\n",
            "invalid number of arguments in \"return\" directive in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { return /x; }\n}\n", "invalid return code \"/x\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { error_page 404; }\n}\n",
            "invalid number of arguments in \"error_page\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { error_page 99 /x; }\n}\n",
            "value \"99\" must be between 300 and 599 in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { error_page 404 =abc /x; }\n}\n", "invalid value \"=abc\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver { error_page abc /x; }\n}\n", "invalid value \"abc\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { add_header X; }\n}\n",
            "invalid number of arguments in \"add_header\" directive in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { add_header X y z; }\n}\n", "invalid parameter \"z\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver { expires abc; }\n}\n", "\"expires\" directive invalid value in nginx.conf:3"),
        ("events {}\nhttp {\nserver { expires modified; }\n}\n", "\"expires\" directive invalid value in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { expires @25h; }\n}\n",
            "\"expires\" directive daily time value must be less than 24 hours in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { expires modified @1h; }\n}\n",
            "\"expires\" directive daily time cannot be used with \"modified\" parameter in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { expires 1h; expires 2h; }\n}\n",
            "\"expires\" directive is duplicate in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { expires 1 2 3; }\n}\n",
            "invalid number of arguments in \"expires\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nopen_file_cache max=0;\n}\n",
            "invalid \"open_file_cache\" parameter \"max=0\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nopen_file_cache max=10 inactive=x;\n}\n",
            "invalid \"open_file_cache\" parameter \"inactive=x\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nopen_file_cache foo;\n}\n",
            "invalid \"open_file_cache\" parameter \"foo\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nopen_file_cache inactive=10s;\n}\n",
            "\"open_file_cache\" must have the \"max\" parameter in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nlarge_client_header_buffers 4 x;\n}\n",
            "\"large_client_header_buffers\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nlarge_client_header_buffers 0 8k;\n}\n",
            "\"large_client_header_buffers\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nkeepalive_timeout 10x;\n}\n",
            "\"keepalive_timeout\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nkeepalive_timeout 10 x;\n}\n",
            "\"keepalive_timeout\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nkeepalive_timeout 1 2 3;\n}\n",
            "invalid number of arguments in \"keepalive_timeout\" directive in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver_tokens x;\n}\n", "invalid value \"x\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nclient_max_body_size 10x;\n}\n",
            "\"client_max_body_size\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nclient_max_body_size 1t;\n}\n",
            "\"client_max_body_size\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nclient_body_buffer_size 1g;\n}\n",
            "\"client_body_buffer_size\" directive invalid value in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nkeepalive_requests x;\n}\n",
            "\"keepalive_requests\" directive invalid number in nginx.conf:3"
        ),
        ("events {}\nhttp {\nif_modified_since x;\n}\n", "invalid value \"x\" in nginx.conf:3"),
        ("events {}\nhttp {\nmax_ranges -1;\n}\n", "\"max_ranges\" directive invalid number in nginx.conf:3"),
        ("events {}\nhttp {\nlingering_close x;\n}\n", "invalid value \"x\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nsendfile x;\n}\n",
            "invalid value \"x\" in \"sendfile\" directive, it must be \"on\" or \"off\" in nginx.conf:3"
        ),
        ("events {}\nhttp {\nsend_timeout 1M;\n}\n", "\"send_timeout\" directive invalid value in nginx.conf:3"),
        (
            "events {}\nhttp {\netag x;\n}\n",
            "invalid value \"x\" in \"etag\" directive, it must be \"on\" or \"off\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\ndefault_type a b;\n}\n",
            "invalid number of arguments in \"default_type\" directive in nginx.conf:3"
        ),
        ("events {}\nhttp {\ntypes { text/html html {} }\n}\n", "unexpected \"{\" in nginx.conf:3"),
        ("events {}\nhttp {\ntypes { text/html html }\n}\n", "unexpected \"}\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { listen 80 default_server; } server { listen 80 default_server; }\n}\n",
            "a duplicate default server for 0.0.0.0:80 in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { listen 80 default_server; } server { listen *:80 default; }\n}\n",
            "a duplicate default server for 0.0.0.0:80 in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { listen 80 reuseport; } server { listen 80 backlog=10; }\n}\n",
            "duplicate listen options for 0.0.0.0:80 in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { listen 80; listen 80; }\n}\n", "a duplicate listen 0.0.0.0:80 in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { listen localhost:80; listen 127.0.0.1:80; }\n}\n",
            "a duplicate listen 127.0.0.1:80 in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { listen 80 foo; }\n}\n", "invalid parameter \"foo\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver { listen 80 backlog=x; }\n}\n", "invalid backlog \"backlog=x\" in nginx.conf:3"),
        ("events {}\nhttp {\nserver { listen 80 rcvbuf=x; }\n}\n", "invalid rcvbuf \"rcvbuf=x\" in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { listen [::]:80 ipv6only=x; }\n}\n",
            "invalid parameter \"ipv6only=x\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { listen 99999; }\n}\n",
            "invalid port in \"99999\" of the \"listen\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { listen 0; }\n}\n",
            "invalid port in \"0\" of the \"listen\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { listen foo.invalid:80; }\n}\n",
            "host not found in \"foo.invalid:80\" of the \"listen\" directive in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nserver { server_name \"~^(www\"; }\n}\n",
            "pcre2_compile() failed: missing closing parenthesis in \"^(www\" in nginx.conf:3"
        ),
        ("events {}\nhttp {\nserver { return 200 \"a$\"; }\n}\n", "invalid variable name in nginx.conf:3"),
        (
            "events {}\nhttp {\nserver { return 200 \"a${x\"; }\n}\n",
            "the closing bracket in \"x\" variable is missing in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nreset_timedout_connection x;\n}\n",
            "invalid value \"x\" in \"reset_timedout_connection\" directive, it must be \"on\" or \"off\" in nginx.conf:3"
        ),
        (
            "events {}\nhttp {\nsendfile_max_chunk x;\n}\n",
            "\"sendfile_max_chunk\" directive invalid value in nginx.conf:3"
        ),
    ]

    @Test(arguments: nginxCases)
    func matchesNginx(_ text: String, _ expected: String) throws {
        #expect(try loadError(text) == expected)
    }
}
