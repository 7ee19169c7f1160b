import Foundation

/// Where each registry host is reached: mirrors first, then the upstream server, as configured by
/// `hosts.toml` files in the layout of containerd's `certs.d` directories:
///
/// ```
/// DIR/docker.io/hosts.toml
///   server = "https://registry-1.docker.io"
///   [host."https://mirror.internal:5000"]
///     capabilities = ["pull", "resolve"]
///     ca = "/etc/decant/mirror-ca.pem"
/// ```
///
/// `DIR/_default/hosts.toml` applies to hosts without their own file. Keys: `server`, `ca`
/// (string or array), `skip_verify`, `override_path`, `capabilities`, `header`; a `client`
/// certificate is not supported and is an error rather than ignored.
public struct RegistryHosts: Sendable {
    /// Where Decant looks by default.
    public static let defaultDirectory = "/etc/decant/certs.d"

    public var directory: String?
    /// Treat every upstream as plain HTTP (ctr's `--plain-http`).
    public var plainHTTP: Bool
    /// Extra CA files trusted for every host.
    public var caFiles: [String]
    public var skipVerify: Bool

    public init(directory: String? = nil, plainHTTP: Bool = false, caFiles: [String] = [], skipVerify: Bool = false) {
        self.directory = directory
        self.plainHTTP = plainHTTP
        self.caFiles = caFiles
        self.skipVerify = skipVerify
    }

    /// The endpoints for `domain`, mirrors first.
    public func endpoints(for domain: String) throws(RemoteError) -> [RegistryEndpoint] {
        let defaultHost = domain == ImageReference.dockerHub ? "registry-1.docker.io" : domain
        let loopback = RegistryEndpoint.isLoopback(RegistryEndpoint(scheme: "https", host: defaultHost).hostname)
        var server = RegistryEndpoint(scheme: plainHTTP ? "http" : "https", host: defaultHost, caFiles: caFiles,
                                      skipVerify: skipVerify, allowsHTTPFallback: loopback && !plainHTTP)
        var mirrors: [RegistryEndpoint] = []
        if let file = configFile(for: domain) {
            let text: String
            do {
                text = try String(contentsOfFile: file, encoding: .utf8)
            } catch {
                throw RemoteError(.io, "cannot read \(file): \(error.localizedDescription)")
            }
            let toml: TOMLSubset
            do {
                toml = try TOMLSubset(parsing: text)
            } catch {
                throw RemoteError(.invalidReference, "\(file): \(error)")
            }
            try Self.apply(toml, file: file, server: &server, mirrors: &mirrors, defaults: self)
        }
        return mirrors + [server]
    }

    private func configFile(for domain: String) -> String? {
        let directory = directory ?? Self.defaultDirectory
        // containerd names a host:port directory `host_port_` on some platforms; `host:port` here.
        for name in [domain, "_default"] {
            let path = "\(directory)/\(name)/hosts.toml"
            if FileManager.default.fileExists(atPath: path) { return path }
        }
        return nil
    }

    private static func apply(_ toml: TOMLSubset, file: String, server: inout RegistryEndpoint, mirrors: inout [RegistryEndpoint],
                              defaults: RegistryHosts) throws(RemoteError) {
        var order: [String] = []
        var hosts: [String: RegistryEndpoint] = [:]
        for entry in toml.entries {
            func fail(_ message: String) -> RemoteError {
                RemoteError(.invalidReference, "\(file):\(entry.line): \(message)")
            }
            switch entry.table.first {
            case nil:
                if entry.key == "server" {
                    guard case .string(let url) = entry.value, let parsed = parseURL(url) else { throw fail("server must be a URL") }
                    server.scheme = parsed.scheme
                    server.host = parsed.host
                    server.apiPath = parsed.path.isEmpty ? "/v2" : parsed.path + "/v2"
                    server.allowsHTTPFallback = false
                } else {
                    try set(entry, on: &server, fail: fail)
                }
            case "host":
                guard entry.table.count >= 2, let parsed = parseURL(entry.table[1]) else {
                    throw fail("[host.\"URL\"] needs a URL, found \(entry.table.dropFirst().joined(separator: "."))")
                }
                let url = entry.table[1]
                if hosts[url] == nil {
                    order.append(url)
                    hosts[url] = RegistryEndpoint(scheme: parsed.scheme, host: parsed.host, apiPath: parsed.path + "/v2",
                                                  caFiles: defaults.caFiles, skipVerify: defaults.skipVerify, isMirror: true)
                }
                if entry.table.count == 3 && entry.table[2] == "header" {
                    hosts[url]!.headers[entry.key] = try strings(entry.value, fail: fail)
                } else if entry.table.count == 2 {
                    if entry.key == "override_path" {
                        guard case .bool(let override) = entry.value else { throw fail("override_path must be true or false") }
                        if override { hosts[url]!.apiPath = parsed.path }
                    } else {
                        try set(entry, on: &hosts[url]!, fail: fail)
                    }
                } else {
                    throw fail("unsupported table \(entry.table.joined(separator: "."))")
                }
            case "header" where entry.table.count == 1:
                server.headers[entry.key] = try strings(entry.value, fail: fail)
            default:
                throw fail("unsupported table \(entry.table.joined(separator: "."))")
            }
        }
        mirrors = order.compactMap { hosts[$0] }
    }

    private static func set(_ entry: TOMLSubset.Entry, on endpoint: inout RegistryEndpoint,
                            fail: (String) -> RemoteError) throws(RemoteError) {
        switch entry.key {
        case "ca":
            endpoint.caFiles += try strings(entry.value, fail: fail)
        case "skip_verify":
            guard case .bool(let skip) = entry.value else { throw fail("skip_verify must be true or false") }
            endpoint.skipVerify = skip
        case "capabilities":
            var capabilities: Set<RegistryEndpoint.Capability> = []
            for name in try strings(entry.value, fail: fail) {
                if name == "push" { continue }
                guard let capability = RegistryEndpoint.Capability(rawValue: name) else { throw fail("unknown capability \(name.debugDescription)") }
                capabilities.insert(capability)
            }
            endpoint.capabilities = capabilities
        case "client":
            throw fail("client certificates are not supported")
        default:
            throw fail("unknown key \(entry.key.debugDescription)")
        }
    }

    private static func strings(_ value: TOMLSubset.Value, fail: (String) -> RemoteError) throws(RemoteError) -> [String] {
        switch value {
        case .string(let string): return [string]
        case .strings(let strings): return strings
        default: throw fail("expected a string or an array of strings")
        }
    }

    /// `scheme://host[:port][/path]`, the path without a trailing slash.
    static func parseURL(_ text: String) -> (scheme: String, host: String, path: String)? {
        guard let schemeEnd = text.range(of: "://") else { return nil }
        let scheme = String(text[..<schemeEnd.lowerBound]).lowercased()
        guard scheme == "http" || scheme == "https" else { return nil }
        let rest = text[schemeEnd.upperBound...]
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let host = String(rest[..<slash])
        guard !host.isEmpty else { return nil }
        var path = String(rest[slash...])
        while path.hasSuffix("/") { path.removeLast() }
        return (scheme, host, path)
    }
}
