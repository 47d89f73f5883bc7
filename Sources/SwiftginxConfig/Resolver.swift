// Name resolution for upstream addresses while a configuration is compiled (nginx
// resolves `server` and `proxy_pass` hostnames at startup and on reload, never per
// request). The lookup itself is the environment's (getaddrinfo in the server); this
// turns its answer into peer addresses, each once.

enum Resolver {
    /// The addresses of `host` (numeric or a name), or nil when it does not resolve.
    static func resolve(_ host: String, port: Int, in environment: any ConfigEnvironment) -> [PeerAddress]? {
        guard let texts = environment.resolve(host) else { return nil }
        var out: [PeerAddress] = []
        for text in texts where !text.isEmpty {
            let p = PeerAddress.inet(host: text, port: port)
            if !out.contains(p) { out.append(p) }
        }
        return out
    }
}
