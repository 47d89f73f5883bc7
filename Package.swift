// swift-tools-version:6.0
// swiftginx: an nginx-compatible reverse proxy and static file server for Linux.
// Module arrows, exactly the targets' imports (see README and DESIGN):
//   Routing, Upstream ← Config ← Server ← swiftginx;  HTTP, Posix, TLS, Compression ← Server;
//   Config, Posix ← swiftginx.
// Only SwiftginxPosix (and the C shims) make system calls: scripts/check-syscalls.
import PackageDescription

let optimize: [SwiftSetting] = [.unsafeFlags(["-cross-module-optimization"], .when(configuration: .release))]
// The server's connection state lives in loop-owned classes; dynamic exclusivity
// checks cost about 5% of CPU per request there (scripts/bench, perf), and ~150
// instructions per TLS request in TLSConnection (instr.sh). Debug builds, which run
// the tests, keep the checks.
let serverSettings: [SwiftSetting] =
    optimize + [.unsafeFlags(["-enforce-exclusivity=unchecked"], .when(configuration: .release))]

// C targets keep DWARF 4 debug information: valgrind 3.19 (Debian 12, behind
// ../shared/bench/instr.sh) refuses some DWARF 5 units clang writes by default.
let cDebugInfo: [CSetting] = [.unsafeFlags(["-gdwarf-4"])]

let package = Package(
    name: "swiftginx",
    products: [
        .executable(name: "swiftginx", targets: ["swiftginx"])
    ],
    targets: [
        // libcrypt (libxcrypt): crypt_r for auth_basic password files.
        .target(name: "CSwiftginxShims", cSettings: cDebugInfo, linkerSettings: [.linkedLibrary("crypt")]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CPCRE2", pkgConfig: "libpcre2-8", providers: [.apt(["libpcre2-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CBrotli", pkgConfig: "libbrotlienc", providers: [.apt(["libbrotli-dev"])]),
        .systemLibrary(name: "CBrotliDecoder", pkgConfig: "libbrotlidec", providers: [.apt(["libbrotli-dev"])]),
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        .systemLibrary(name: "CNghttp2", pkgConfig: "libnghttp2", providers: [.apt(["libnghttp2-dev"])]),
        .target(name: "SwiftginxHTTP", swiftSettings: optimize),
        .target(name: "SwiftginxRouting", dependencies: ["CPCRE2"], swiftSettings: optimize),
        .target(
            name: "SwiftginxConfig", dependencies: ["SwiftginxRouting", "SwiftginxUpstream"],
            swiftSettings: optimize),
        .target(
            name: "SwiftginxCompression", dependencies: ["CZlib", "CBrotli", "CZstd"], swiftSettings: optimize),
        .target(name: "SwiftginxUpstream", swiftSettings: optimize),
        .target(name: "CSwiftginxTLSShims", dependencies: ["COpenSSL"], cSettings: cDebugInfo),
        .target(name: "CSwiftginxDNS", cSettings: cDebugInfo, linkerSettings: [.linkedLibrary("cares")]),
        .target(name: "SwiftginxTLS", dependencies: ["COpenSSL", "CSwiftginxTLSShims"], swiftSettings: serverSettings),
        .target(name: "SwiftginxPosix", dependencies: ["CSwiftginxShims", "CSwiftginxDNS"], swiftSettings: optimize),
        .target(
            name: "SwiftginxServer",
            dependencies: [
                "SwiftginxHTTP", "SwiftginxRouting", "SwiftginxConfig", "SwiftginxPosix", "SwiftginxCompression",
                "SwiftginxUpstream", "SwiftginxTLS", "COpenSSL", "CPCRE2", "CNghttp2",
            ],
            swiftSettings: serverSettings),
        .executableTarget(
            name: "swiftginx", dependencies: ["SwiftginxServer", "SwiftginxConfig", "SwiftginxPosix"],
            swiftSettings: optimize),
        .testTarget(name: "SwiftginxHTTPTests", dependencies: ["SwiftginxHTTP"]),
        .testTarget(name: "SwiftginxRoutingTests", dependencies: ["SwiftginxRouting"]),
        // The configuration tests read their fixture files through the server's
        // PosixConfigEnvironment (the one `swiftginx` loads with), or from memory.
        .testTarget(
            name: "SwiftginxConfigTests",
            dependencies: ["SwiftginxConfig", "SwiftginxRouting", "SwiftginxUpstream", "SwiftginxServer"]),
        .testTarget(name: "SwiftginxUpstreamTests", dependencies: ["SwiftginxUpstream"]),
        .testTarget(
            name: "SwiftginxServerTests", dependencies: ["SwiftginxServer", "SwiftginxConfig", "SwiftginxPosix"]),
        .testTarget(name: "SwiftginxTLSTests", dependencies: ["SwiftginxTLS"]),
        .testTarget(
            name: "SwiftginxCompressionTests",
            dependencies: ["SwiftginxCompression", "CZlib", "CZstd", "CBrotliDecoder"]),
        .testTarget(
            name: "IntegrationTests", dependencies: ["SwiftginxPosix"],
            exclude: [
                "Support/echo_backend.py", "Support/wss_client.py", "Support/tls_resume.py", "Support/dns_server.py",
                "Support/parse_metrics.py", "Support/scgi_server.py", "Support/fastcgi_counter.py",
                "Support/cache_backend.py", "Support/h2_client.py", "Support/h2_reset_backend.py",
                "Support/h2_websocket.py",
            ]),
    ]
)

// `scripts/fuzz h2` (SWIFTGINX_FUZZ=1): the HTTP/2 connection under libFuzzer, built with
// -sanitize=fuzzer,address into .build-fuzz/. Ordinary builds never see it.
if Context.environment["SWIFTGINX_FUZZ"] == "1" {
    package.targets.append(
        .executableTarget(
            name: "swiftginx-h2-fuzzer", dependencies: ["SwiftginxServer", "SwiftginxConfig", "SwiftginxPosix"],
            path: "Fuzz/HTTP2"))
}
