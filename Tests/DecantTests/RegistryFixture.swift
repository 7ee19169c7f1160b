import DecantTestSupport
import Foundation

/// A real `docker-registry` on 127.0.0.1, started by `Tests/RegistryFixtures/registry.py` in its
/// own directory, stopped (and the directory removed) when the value is released.
final class RegistryServer: @unchecked Sendable {
    struct Info: Decodable {
        var host: String
        var url: String
        var dir: String
        var log: String
        var ca: String?
        var user: String?
        var password: String?
        var token_log: String?
    }

    let info: Info
    var host: String { info.host }
    private let scratch: Scratch

    static var scripts: URL { Repository.root.appendingPathComponent("Tests/RegistryFixtures") }

    /// `mode`: plain, basic-tls or token; `extra`: more `registry.py start` arguments.
    init(_ mode: String, extra: [String] = []) async throws {
        scratch = try Scratch("registry-\(mode)")
        let output = try await Shell.check(["python3", Self.scripts.appendingPathComponent("registry.py").path, "start",
                                            "--dir", scratch.url.appendingPathComponent("registry").path, "--mode", mode] + extra)
        info = try JSONDecoder().decode(Info.self, from: Data(output.stdout.utf8))
    }

    deinit {
        _ = try? Shell.run(["python3", Self.scripts.appendingPathComponent("registry.py").path, "stop", "--dir", info.dir])
    }

    /// Pushes an OCI layout's image with skopeo (digests preserved); returns the pushed manifest
    /// (or, with `all`, index) digest.
    @discardableResult
    func push(layout: String, tag: String = "latest", to destination: String, all: Bool = false) async throws -> String {
        var arguments = ["python3", Self.scripts.appendingPathComponent("registry.py").path, "push", "--registry-host", host,
                         "--src", "oci:\(layout):\(tag)", "--dest", destination]
        if all { arguments.append("--all") }
        if let user = info.user, let password = info.password { arguments += ["--creds", "\(user):\(password)"] }
        if let ca = info.ca { arguments += ["--ca", ca] }
        return try await Shell.check(arguments).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Lines of the token service's request log (token mode).
    func tokenRequests() throws -> [[String: Any]] {
        guard let path = info.token_log else { return [] }
        return try JSONLines.read(path)
    }
}

/// `Tests/RegistryFixtures/fault-proxy.py` in front of a registry: logs every request and
/// injects the faults it is started with.
final class FaultProxy: @unchecked Sendable {
    struct Info: Decodable {
        var host: String
        var dir: String
        var log: String
    }

    let info: Info
    var host: String { info.host }
    private let scratch: Scratch

    init(upstream: RegistryServer, faults: [String]) async throws {
        scratch = try Scratch("fault-proxy")
        var arguments = ["python3", RegistryServer.scripts.appendingPathComponent("fault-proxy.py").path, "start",
                         "--dir", scratch.url.appendingPathComponent("proxy").path, "--upstream", upstream.info.url]
        if let ca = upstream.info.ca { arguments += ["--upstream-ca", ca] }
        let output = try await Shell.check(arguments + faults)
        info = try JSONDecoder().decode(Info.self, from: Data(output.stdout.utf8))
    }

    deinit {
        _ = try? Shell.run(["python3", RegistryServer.scripts.appendingPathComponent("fault-proxy.py").path, "stop", "--dir", info.dir])
    }

    /// Every request so far: method, path, range, authorization, status, bytes, fault, listener.
    func requests() throws -> [[String: Any]] {
        try JSONLines.read(info.log)
    }
}

enum JSONLines {
    static func read(_ path: String) throws -> [[String: Any]] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [] }
        return try text.split(separator: "\n").map { line in
            try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
        }
    }
}
