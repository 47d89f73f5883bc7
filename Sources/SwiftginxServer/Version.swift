// The server's name and version, as `-v`, `Server:` and error pages print them, and the
// nginx version whose behaviour it targets, which `-v`/`-V` print first as nginx does so
// that tools parsing `nginx version: nginx/x.y.z` (nginx's own test suite, certbot,
// configuration managers) see the level of compatibility to expect.

public enum ServerVersion {
    public static let number = "0.1.0"
    public static let name = "swiftginx"
    public static let full = "swiftginx/0.1.0"
    /// The nginx release whose directives, defaults and behaviour swiftginx follows.
    public static let nginxCompatible = "1.31.5"
    /// `-v`'s line: `nginx version: nginx/1.31.5 (swiftginx/0.1.0)`.
    public static let versionLine = "nginx version: nginx/\(nginxCompatible) (\(full))"
}
