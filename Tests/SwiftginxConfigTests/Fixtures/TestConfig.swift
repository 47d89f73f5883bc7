// Test support: writes configuration files into a fresh temporary prefix and loads
// them, so every test states its whole input and the exact file:line it expects.

import Foundation
import Testing

import SwiftginxServer

@testable import SwiftginxConfig

/// The machine as the server sees it: fixtures are real files in a temporary prefix.
let machine = PosixConfigEnvironment()

/// A temporary prefix directory with `conf/` and `logs/`, removed on deinit.
final class TestPrefix {
    let root: String
    var conf: String { root + "conf/" }

    init(files: [String: String] = [:]) throws {
        let base = NSTemporaryDirectory() + "swiftginx-config-\(UUID().uuidString)/"
        try FileManager.default.createDirectory(atPath: base + "conf", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: base + "logs", withIntermediateDirectories: true)
        root = base
        for (name, text) in files { try write(name, text) }
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    /// Writes `conf/<name>` (subdirectories are created).
    func write(_ name: String, _ text: String) throws {
        let path = conf + name
        try FileManager.default.createDirectory(
            atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    func load(_ main: String = "nginx.conf", global: String? = nil) throws(ConfigError) -> RuntimeConfig {
        try ConfigLoader.load(path: conf + main, prefix: root, environment: machine, globalDirectives: global)
    }

    /// The error loading fails with, or nil.
    func error(_ main: String = "nginx.conf", global: String? = nil) -> ConfigError? {
        do {
            _ = try load(main, global: global)
            return nil
        } catch { return error }
    }
}

/// Loads `text` as the whole main file.
func load(_ text: String, extra: [String: String] = [:], global: String? = nil) throws -> RuntimeConfig {
    var files = extra
    files["nginx.conf"] = text
    let prefix = try TestPrefix(files: files)
    return try prefix.load(global: global)
}

/// The error `text` fails with, as `message in nginx.conf:line` (the temporary
/// directory stripped from the file name).
func loadError(_ text: String, extra: [String: String] = [:], global: String? = nil) throws -> String? {
    var files = extra
    files["nginx.conf"] = text
    let prefix = try TestPrefix(files: files)
    guard let e = prefix.error(global: global) else { return nil }
    return e.description.replacingOccurrences(of: prefix.conf, with: "")
}

/// Wraps server-level text in the minimal main/events/http blocks (server on line 3).
func http(_ body: String) -> String {
    "events {}\nhttp {\n" + body + "\n}\n"
}

/// The repository's directory (for conf/mime.types).
let repositoryRoot: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<4 { url.deleteLastPathComponent() }
    return url.path + "/"
}()
