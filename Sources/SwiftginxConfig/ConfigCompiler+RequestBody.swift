// Handlers of the request-body directives (`client_body_in_file_only`,
// `client_body_in_single_buffer`, `client_body_temp_path`); the settings they fill are
// in RequestBodySettings.swift.

extension ConfigCompiler {
    /// The request-body directives; false when `d` is not one of them.
    func requestBodyDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "client_body_in_file_only":
            let v = try ConfigValues.choice(
                d, ["off": ClientBodyInFileOnly.off, "on": .on, "clean": .clean])
            level.setters.append { $0.clientBodyInFileOnly = v }
        case "client_body_in_single_buffer":
            let v = try ConfigValues.flag(d)
            level.setters.append { $0.clientBodyInSingleBuffer = v }
        case "client_body_temp_path":
            var levels: [Int] = []
            for arg in d.args.dropFirst() {
                guard let n = Int(arg), n >= 1, n <= 2 else { throw d.error("invalid value \"\(arg)\"") }
                levels.append(n)
            }
            var dir = fullPath(d.args[0])
            while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
            let path = TempPath(directory: dir, levels: levels)
            level.setters.append { $0.clientBodyTempPath = path }
        default:
            return false
        }
        return true
    }
}
