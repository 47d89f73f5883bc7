// The server's name and version, as `-v`, `Server:` and error pages print them, and the
// nginx version whose behaviour it targets, which `-v`/`-V` print first as nginx does so
// that tools parsing `nginx version: nginx/x.y.z` (nginx's own test suite, certbot,
// configuration managers) see the level of compatibility to expect. swiftginx's own name
// and version are nginx's "build name" (`nginx/1.31.5 (swiftginx/0.1.0)`): `-v` prints it,
// and `server_tokens build` shows it in the Server header and error pages, as nginx does
// for a binary configured with `--build=NAME`; `server_tokens on` (the default) says
// `nginx/1.31.5` and `off` says `nginx`, so clients and scanners see what nginx sends.

import SwiftginxConfig

public enum ServerVersion {
    public static let number = "0.1.0"
    public static let name = "swiftginx"
    public static let full = "swiftginx/0.1.0"
    /// The nginx release whose directives, defaults and behaviour swiftginx follows.
    public static let nginxCompatible = "1.31.5"
    /// `-v`'s line: `nginx version: nginx/1.31.5 (swiftginx/0.1.0)`.
    public static let versionLine = "nginx version: \(withBuild)"
    /// nginx's NGINX_VER_BUILD: the version followed by the build name.
    public static let withBuild = "nginx/\(nginxCompatible) (\(full))"

    /// The server signature for `server_tokens`: what `Server:` and error pages name.
    public static func signature(_ tokens: ServerTokens) -> String {
        switch tokens {
        case .off: "nginx"
        case .on: "nginx/\(nginxCompatible)"
        case .build: withBuild
        }
    }

    /// The whole `Server: ...\r\n` line for each `server_tokens` value, built once.
    static let serverLines: [[UInt8]] = [ServerTokens.off, .on, .build].map {
        Array("Server: \(signature($0))\r\n".utf8)
    }

    @inline(__always) static func serverLine(_ tokens: ServerTokens) -> [UInt8] {
        serverLines[Int(tokens.rawValue)]
    }
}
