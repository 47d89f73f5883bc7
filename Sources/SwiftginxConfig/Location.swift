// A compiled `location` block: how it was written, its effective settings (every
// level's directives applied, see ConfigCompiler.swift) and the phase steps a request
// runs in it (Phases.swift). Split from RuntimeConfig.swift, which holds the settings
// types it carries.

/// A `location` block.
public final class Location: Sendable {
    /// How it was written: "= /x", "^~ /static/", "~ \\.php$", "@fallback", "/".
    public let pattern: String
    /// The literal prefix or exact path (for `alias` substitution).
    public let prefix: String
    public let settings: LocationSettings
    /// A `~`/`~*` location: there `alias` is the whole file path (with captures), as in nginx.
    public let isRegex: Bool
    /// The handlers a request runs in this location, by phase (see Phases.swift), in
    /// memory of their own: read without reference counting by the request that holds
    /// this location.
    nonisolated(unsafe) public let stepBuffer: UnsafeBufferPointer<PhaseStep>
    public var steps: [PhaseStep] { Array(stepBuffer) }
    /// `limit_except`: requests with another method run with the block's location.
    public let limitExcept: LimitExcept?
    /// The location's series in the `metrics` counters (-1: not counted). Set once by the
    /// server when it takes the configuration, before any request can see it.
    nonisolated(unsafe) public var metricsID = -1

    public init(pattern: String, prefix: String, settings: LocationSettings, limitExcept: LimitExcept? = nil) {
        self.pattern = pattern
        self.prefix = prefix
        self.settings = settings
        self.limitExcept = limitExcept
        self.isRegex = pattern.hasPrefix("~")
        self.stepBuffer = PhaseStep.buffer(Location.compileSteps(settings))
    }

    deinit { stepBuffer.deallocate() }
}
