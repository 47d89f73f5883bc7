// `add_trailer name value [always]`: fields sent after a chunked body (nginx's headers
// module). A level with any replaces its parent's list, apart from `add_header`'s. The
// server applies them in Request/ResponseTrailers.swift.

extension ConfigCompiler {
    /// `add_trailer name value [always]`; false when `d` is another directive.
    func trailerDirective(_ d: ConfigDirective, level: ConfigLevel) throws(ConfigError) -> Bool {
        guard d.name == "add_trailer" else { return false }
        if d.args.count == 3 && d.args[2] != "always" { throw d.error("invalid parameter \"\(d.args[2])\"") }
        let trailer = AddHeader(name: d.args[0], value: try value(d.args[1], d), always: d.args.count == 3)
        level.addTrailers = (level.addTrailers ?? []) + [trailer]
        return true
    }
}
