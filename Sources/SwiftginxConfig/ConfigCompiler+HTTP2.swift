// Handlers of the http_v2 module's directives: `http2` and the connection limits,
// and the directives nginx made obsolete (accepted with nginx's warning and no
// effect: the keepalive_*, client_header_* and large_client_header_buffers settings
// govern HTTP/2 connections since nginx 1.19.7; server push was removed in 1.25.1).

extension ConfigCompiler {
    /// Handles an `http2*` directive; false when `d` is not one.
    func http2Directive(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        guard d.name.hasPrefix("http2") else { return false }
        func set(_ f: @escaping (inout HTTP2Settings) -> Void) { level.serverSetters.append { f(&$0.http2) } }
        func obsolete(_ replacement: String?) {
            let text =
                replacement.map { "the \"\(d.name)\" directive is obsolete, use the \"\($0)\" directive instead" }
                ?? "the \"\(d.name)\" directive is obsolete, ignored"
            warnings.append(ConfigError(text, file: d.file, line: d.line).description)
        }
        switch d.name {
        case "http2":
            let v = try ConfigValues.flag(d)
            set { $0.enabled = v }
        case "http2_max_concurrent_streams":
            let v = try ConfigValues.num(d)
            set { $0.maxConcurrentStreams = v }
        case "http2_recv_buffer_size":
            let v = try ConfigValues.size(d)
            if v <= 2 * 16384 { throw d.error("the http2 receive buffer size is too small") }
            set { $0.recvBufferSize = v }
        case "http2_chunk_size":
            let v = try ConfigValues.size(d)
            if v == 0 { throw d.error("the http2 chunk size cannot be zero") }
            let size = min(v, 16384 * 1024 - 1)
            level.setters.append { $0.http2ChunkSize = size }
        case "http2_body_preread_size":
            let v = try ConfigValues.size(d)
            if v > 2_147_483_647 { throw d.error("the http2 body preread size is too large") }
            set { $0.bodyPrereadSize = v }
        case "http2_idle_timeout": obsolete("keepalive_timeout")
        case "http2_max_requests": obsolete("keepalive_requests")
        case "http2_recv_timeout": obsolete("client_header_timeout")
        case "http2_max_field_size", "http2_max_header_size": obsolete("large_client_header_buffers")
        case "http2_push", "http2_push_preload": obsolete(nil)
        default: return false
        }
        return true
    }
}
