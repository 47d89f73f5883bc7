// Handlers of the directives about reading requests: `max_headers`, and the request-body
// ones (`client_body_in_file_only`, `client_body_in_single_buffer`,
// `client_body_temp_path`, whose settings are in RequestBodySettings.swift).

extension ConfigCompiler {
    /// The request directives; false when `d` is not one of them.
    func requestDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        switch d.name {
        case "max_headers":
            let n = try ConfigValues.num(d)
            level.serverSetters.append { $0.maxHeaders = n }
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
            if !main.clientBodyTempPaths.contains(dir) { main.clientBodyTempPaths.append(dir) }
            let path = TempPath(directory: dir, levels: levels)
            level.setters.append { $0.clientBodyTempPath = path }
        default:
            return false
        }
        return true
    }
}
