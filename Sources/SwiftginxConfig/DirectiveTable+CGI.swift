// The directives of the fastcgi and scgi modules: the upstream directives they share with
// the proxy module (without TLS to the upstream, which neither has), their `*_param`, and
// the FastCGI module's own (`fastcgi_index`, `fastcgi_split_path_info`,
// `fastcgi_keep_conn`, `fastcgi_catch_stderr`).

extension DirectiveTable {
    static var cgiSpecs: [DirectiveSpec] {
        var specs: [DirectiveSpec] = []
        for p in ["fastcgi_", "scgi_"] {
            specs += proxySpecs(prefix: p).filter { $0.name.hasPrefix(p) && !$0.name.hasPrefix(p + "ssl_") }
            specs.append(DirectiveSpec(p + "param", .httpAll, .take([2, 3]), repeatable: true))
            specs.append(DirectiveSpec(p + "limit_rate", .httpAll, .take([1])))
        }
        specs += [
            DirectiveSpec("fastcgi_index", .httpAll, .take([1])),
            DirectiveSpec("fastcgi_split_path_info", .httpAll, .take([1])),
            DirectiveSpec("fastcgi_keep_conn", .httpAll, .flag),
            DirectiveSpec("fastcgi_catch_stderr", .httpAll, .take([1]), repeatable: true),
        ]
        return specs
    }
}
