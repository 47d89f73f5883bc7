// The server's name and version, as `-v`, `Server:` and error pages print them.

public enum ServerVersion {
    public static let number = "0.1.0"
    public static let name = "swiftginx"
    public static let full = "swiftginx/0.1.0"
}
