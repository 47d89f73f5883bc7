// nginx's limit_conn module, as configured: `limit_conn_zone key zone=name:size` (http)
// names a zone counting requests in progress per key, and `limit_conn zone number`
// (http, server, location; a level with its own list replaces its parent's) caps them.
// `limit_conn_status`, `limit_conn_log_level` and `limit_conn_dry_run` inherit as usual.
// The counting itself, shared by all worker threads, is in the server
// (Handlers/LimitConnHandler.swift).

import SwiftginxRouting

/// `limit_conn_zone key zone=name:size`.
public struct LimitConnZoneConfig: Sendable {
    public let name: String
    public let key: ComplexValue
    /// Bytes; the zone holds about one key per 64 bytes (nginx's 64-byte states).
    public let size: Int

    public init(name: String, key: ComplexValue, size: Int) {
        self.name = name
        self.key = key
        self.size = size
    }
}

/// One `limit_conn zone number`.
public struct LimitConnRule: Sendable {
    public let zone: String
    public let number: Int

    public init(zone: String, number: Int) {
        self.zone = zone
        self.number = number
    }
}
