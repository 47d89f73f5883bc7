// INTERIM until the compiled config carries server-level settings.
import SwiftginxConfig
extension VirtualServer {
    var defaultSettings: LocationSettings { LocationSettings() }
}
extension RuntimeConfig {
    var warnings: [String] { [] }
    /// Every access_log path used by any location.
    var accessLogPaths: [String] { [] }
}
