/// How Decant talks to registries.
public struct RegistryOptions: Sendable {
    /// Mirrors, CA files and plain-HTTP hosts.
    public var hosts: RegistryHosts
    public var credentials: RegistryCredentials
    /// Attempts per request before giving up on connection errors, 429 and 5xx.
    public var maxAttempts: Int
    /// The first retry waits this long; each further one twice as long, up to 10 s.
    public var initialBackoff: Duration
    /// A blob transfer that receives nothing for this long (while Decant is ready for more) is
    /// dropped and resumed with a Range request; a request whose response head does not come
    /// within it is sent again (one of the retries).
    public var stallTimeout: Duration
    /// Blob downloads at once to one registry host, across all pulls of this process.
    public var downloadsPerHost: Int
    public var userAgent: String

    public init(hosts: RegistryHosts = RegistryHosts(), credentials: RegistryCredentials = RegistryCredentials(),
                maxAttempts: Int = 5, initialBackoff: Duration = .milliseconds(200), stallTimeout: Duration = .seconds(30),
                downloadsPerHost: Int = 6, userAgent: String = "decant/0.1") {
        self.hosts = hosts
        self.credentials = credentials
        self.maxAttempts = max(1, maxAttempts)
        self.initialBackoff = initialBackoff
        self.stallTimeout = stallTimeout
        self.downloadsPerHost = max(1, downloadsPerHost)
        self.userAgent = userAgent
    }
}
