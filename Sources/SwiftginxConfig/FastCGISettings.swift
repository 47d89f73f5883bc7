// What the FastCGI module adds to the settings every upstream module shares
// (UpstreamSettings): `fastcgi_index`, `fastcgi_split_path_info` (the regex that splits
// the URI into `$fastcgi_script_name` and `$fastcgi_path_info`), `fastcgi_keep_conn`
// (FCGI_KEEP_CONN, so that the connection may go to the upstream's keep-alive cache) and
// `fastcgi_catch_stderr` (a STDERR record containing one of the strings makes the answer
// an invalid one). The per-request computation of the two variables lives here too,
// being pure: it needs the URI and these settings only.

import SwiftginxRouting

public struct FastCGISettings: Sendable {
    /// `fastcgi_index`: appended to `$fastcgi_script_name` when it ends with '/'.
    public var index: [UInt8] = []
    /// `fastcgi_split_path_info` (two captures: script name, path info).
    public var splitPathInfo: Regex? = nil
    /// `fastcgi_keep_conn on`.
    public var keepConn = false
    /// `fastcgi_catch_stderr` strings.
    public var catchStderr: [[UInt8]] = []
    public init() {}

    /// `$fastcgi_script_name` and `$fastcgi_path_info` of `uri`, as nginx splits it: the
    /// regex's two captures when it matches, else the whole URI and no path info; a script
    /// name ending with '/' gets `fastcgi_index` appended.
    public func split(_ uri: [UInt8]) -> (scriptName: [UInt8], pathInfo: [UInt8]) {
        var script = uri
        var info: [UInt8] = []
        if let re = splitPathInfo,
            let m = uri.withUnsafeBytes({ re.match($0) }), m.count >= 3
        {
            script = Array(uri[m[1]])
            info = Array(uri[m[2]])
        }
        if script.last == UInt8(ascii: "/") { script += index }
        return (script, info)
    }
}
