/// One place a registry's API can be reached: a mirror or the upstream server.
public struct RegistryEndpoint: Sendable, Hashable, CustomStringConvertible {
    public enum Capability: String, Sendable, Hashable {
        /// Fetch manifests and blobs by digest.
        case pull
        /// Turn a tag into a digest.
        case resolve
    }

    public var scheme: String
    /// `host` or `host:port`.
    public var host: String
    /// The API root, `/v2` unless `override_path` gave the whole path.
    public var apiPath: String
    public var capabilities: Set<Capability>
    /// PEM files trusted in addition to the system's CA store.
    public var caFiles: [String]
    public var skipVerify: Bool
    public var headers: [String: [String]]
    public var isMirror: Bool
    /// Plain HTTP may be tried after HTTPS fails (Docker's rule for `localhost`).
    public var allowsHTTPFallback: Bool

    public init(scheme: String, host: String, apiPath: String = "/v2", capabilities: Set<Capability> = [.pull, .resolve],
                caFiles: [String] = [], skipVerify: Bool = false, headers: [String: [String]] = [:], isMirror: Bool = false,
                allowsHTTPFallback: Bool = false) {
        self.scheme = scheme
        self.host = host
        self.apiPath = apiPath
        self.capabilities = capabilities
        self.caFiles = caFiles
        self.skipVerify = skipVerify
        self.headers = headers
        self.isMirror = isMirror
        self.allowsHTTPFallback = allowsHTTPFallback
    }

    /// `scheme://host/apiPath`.
    public var baseURL: String { "\(scheme)://\(host)\(apiPath)" }

    public var description: String { (isMirror ? "mirror " : "") + baseURL }

    /// The hostname without the port, for deciding whether plain HTTP is acceptable.
    var hostname: String {
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") { return String(host[host.index(after: host.startIndex)..<close]) }
        return host.split(separator: ":").first.map(String.init) ?? host
    }

    static func isLoopback(_ hostname: String) -> Bool {
        hostname == "localhost" || hostname == "::1" || hostname.hasPrefix("127.")
    }
}
