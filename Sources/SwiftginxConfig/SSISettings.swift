// nginx's SSI module settings (ngx_http_ssi_module): `ssi`, `ssi_types`,
// `ssi_silent_errors`, `ssi_value_length`, `ssi_last_modified` (`ssi_min_file_chunk` is
// accepted without effect: bodies are processed in memory),
// inherited http → server → location like the other location settings. The filter
// itself is SwiftginxServer/Handlers/SSIFilter.swift; the command parser is
// SwiftginxHTTP/SSIParser.swift.

/// A location's SSI settings.
public struct SSISettings: Sendable, Equatable {
    /// `ssi on|off`.
    public var enabled = false
    /// `ssi_silent_errors`: no "[an error occurred ...]" text for failed commands.
    public var silentErrors = false
    /// `ssi_last_modified`: keep the original Last-Modified (and a weak ETag).
    public var lastModified = false
    /// `ssi_value_length`: the longest parameter value (256).
    public var valueLength = 256
    /// `ssi_types`: besides text/html (`*`: every type).
    public var types: Set<String> = ["text/html"]

    public init() {}

    /// Whether a response of this MIME type (without parameters) is processed.
    public func processes(type: some StringProtocol) -> Bool {
        if types.contains("*") { return true }
        let bare = type.prefix { $0 != ";" && $0 != " " }.lowercased()
        return types.contains(bare)
    }
}

extension ConfigCompiler {
    /// The SSI directives that need more than a generic slot; false for others.
    func ssiDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "ssi_types":
            var types = Set(d.args.map { $0.lowercased() })
            types.insert("text/html")
            let final: Set<String> = d.args.contains("*") ? ["*"] : types
            level.setters.append { $0.ssi.types = final }
        case "ssi_value_length":
            let v = try ConfigValues.num(d)
            level.setters.append { $0.ssi.valueLength = v }
        default:
            return false
        }
        return true
    }
}
