import Foundation

/// A user name and password (or token) for a registry host.
public struct RegistryCredential: Sendable, Equatable {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    /// `USER:PASSWORD`, as `--user` takes it.
    public init(parsing text: String) throws(RemoteError) {
        guard let colon = text.firstIndex(of: ":"), colon != text.startIndex else {
            throw RemoteError(.invalidReference, "--user takes USER:PASSWORD")
        }
        self.init(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
    }
}

/// Finds the credential for a registry host: the command line's `--user` for the image's own
/// registry, then Docker's `config.json` (`auths`, `credHelpers`, `credsStore`), as `docker login`
/// leaves them.
public struct RegistryCredentials: Sendable {
    /// Used for `domain`'s hosts and the token services they send to.
    public var explicit: RegistryCredential?
    public var explicitDomain: String?
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    public var dockerConfigPath: String?
    /// The environment `docker-credential-*` helpers run with, and are looked up in (`PATH`).
    public var environment: [String: String]
    /// How long a helper may take to answer before it is stopped and the pull fails: one waiting
    /// for a keychain to be unlocked, on a server where nobody will, would hold it forever.
    public var helperTimeout: Duration

    /// `environment` also gives the default `dockerConfigPath` (`DOCKER_CONFIG`, `HOME`).
    public init(explicit: RegistryCredential? = nil, for domain: String? = nil, dockerConfigPath: String? = nil,
                environment: [String: String] = ProcessInfo.processInfo.environment, helperTimeout: Duration = .seconds(60)) {
        self.explicit = explicit
        self.explicitDomain = domain
        self.environment = environment
        self.helperTimeout = helperTimeout
        self.dockerConfigPath = dockerConfigPath ?? Self.defaultDockerConfigPath(environment)
    }

    static func defaultDockerConfigPath(_ environment: [String: String]) -> String? {
        if let directory = environment["DOCKER_CONFIG"] { return directory + "/config.json" }
        if let home = environment["HOME"] { return home + "/.docker/config.json" }
        return nil
    }

    /// The credential for `host` (`host[:port]` of an endpoint) of the image on `domain`.
    public func credential(host: String, domain: String) throws(RemoteError) -> RegistryCredential? {
        if let explicit, explicitDomain == nil || explicitDomain == domain,
           host == domain || (domain == ImageReference.dockerHub && host == "registry-1.docker.io") {
            return explicit
        }
        guard let path = dockerConfigPath, let data = FileManager.default.contents(atPath: path) else { return nil }
        let config: DockerConfig
        do {
            config = try JSONDecoder().decode(DockerConfig.self, from: data)
        } catch {
            throw RemoteError(.invalidReference, "\(path) is not a Docker config file: \(error)")
        }
        let keys = Self.configKeys(host: host, domain: domain)
        for key in keys {
            if let helper = config.credHelpers?[key] { return try runHelper(helper, server: key) }
        }
        for key in keys {
            guard let entry = config.auths?[key] else { continue }
            if let auth = entry.auth, let decoded = Data(base64Encoded: auth), let text = String(data: decoded, encoding: .utf8),
               let colon = text.firstIndex(of: ":") {
                return RegistryCredential(username: String(text[..<colon]), password: String(text[text.index(after: colon)...]))
            }
            if let username = entry.username, let password = entry.password {
                return RegistryCredential(username: username, password: password)
            }
        }
        if let store = config.credsStore { return try runHelper(store, server: keys[0]) }
        return nil
    }

    /// The keys `docker login` may have stored `host` under.
    private static func configKeys(host: String, domain: String) -> [String] {
        if host == "registry-1.docker.io" || host == ImageReference.dockerHub {
            return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"]
        }
        return [host, "https://\(host)", "http://\(host)"]
    }

    /// `docker-credential-HELPER get`, the server on standard input, JSON on standard output.
    private func runHelper(_ helper: String, server: String) throws(RemoteError) -> RegistryCredential? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["docker-credential-\(helper)", "get"]
        process.environment = environment
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        do {
            // Into the pipe before the helper starts (a server name is far below the pipe's
            // 64 KiB): written once the helper runs, to a helper that exited without reading it,
            // it would raise SIGPIPE, which ends a process that embeds this library.
            try input.fileHandleForWriting.write(contentsOf: Data(server.utf8))
            try process.run()
            try input.fileHandleForWriting.close()
        } catch {
            throw RemoteError(.unauthorized, "credential helper docker-credential-\(helper) cannot run: \(error.localizedDescription)")
        }
        // The helper leads a process group of its own (Foundation spawns it so): stopping the group
        // also stops what a helper script started, which would keep its output open.
        let started = ContinuousClock.now
        let group = process.processIdentifier
        let stop = DispatchWorkItem { if process.isRunning { kill(-group, SIGKILL) } }
        DispatchQueue.global().asyncAfter(deadline: .now() + helperTimeout / .seconds(1), execute: stop)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        stop.cancel()
        if process.terminationReason == .uncaughtSignal, process.terminationStatus == SIGKILL,
           ContinuousClock.now - started >= helperTimeout {
            throw RemoteError(.unauthorized, "credential helper docker-credential-\(helper) did not answer within \(helperTimeout); it was stopped")
        }
        // The helper says "credentials not found in native keychain" with a failure status;
        // `env` says 127 when there is no such helper.
        guard process.terminationStatus == 0 else {
            if process.terminationStatus == 127 {
                throw RemoteError(.unauthorized, "credential helper docker-credential-\(helper) is not on the PATH")
            }
            return nil
        }
        struct HelperAnswer: Decodable {
            var Username: String
            var Secret: String
        }
        guard let answer = try? JSONDecoder().decode(HelperAnswer.self, from: data) else {
            throw RemoteError(.unauthorized, "credential helper docker-credential-\(helper) answered something that is not its JSON")
        }
        return RegistryCredential(username: answer.Username, password: answer.Secret)
    }
}

/// The parts of Docker's `config.json` that hold credentials.
struct DockerConfig: Decodable {
    struct Auth: Decodable {
        var auth: String?
        var username: String?
        var password: String?
    }

    var auths: [String: Auth]?
    var credHelpers: [String: String]?
    var credsStore: String?
}
